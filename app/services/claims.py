"""理赔: the insurer records accidents and settlements per policy; every change goes to the timeline."""

from decimal import Decimal

from flask_babel import lazy_gettext as _
from sqlalchemy import func, select

from app.extensions import db
from app.models import Claim, Policy
from app.models.enums import PartyKind as P
from app.security.scope import party_of

from .base import Forbidden, fetch, record_flow, unit_of_work
from .commands import ClaimSchema, read

FIELDS = {
    "injured_count": _("伤残人数"),
    "death_count": _("死亡人数"),
    "estimated_loss": _("估损金额"),
    "settled_date": _("已决日期"),
    "settled_amount": _("已决金额"),
    "submitted_date": _("提交日期"),
    "remark": _("备注"),
}


def _insurer_only(user):
    party = party_of(user)
    if party.kind != P.INSURER and not party.is_admin:
        raise Forbidden(_("只有保险公司可以录入理赔信息"))


def _describe(values):
    return "；".join(f"{FIELDS[k]}: {'' if v is None else v}" for k, v in values.items())


def add_claim(policy_id, user, data) -> Claim:
    """新增理赔 on a policy of the insurer."""
    _insurer_only(user)
    policy = fetch(Policy, policy_id, user)
    values = read(ClaimSchema, data)
    with unit_of_work() as session:
        claim = Claim(
            policy_id=policy.id,
            insurer_id=policy.insurer_id,
            enterprise_id=policy.enterprise_id,
            region_code=policy.region_code,
            **values,
        )
        session.add(claim)
        session.flush()
        record_flow("policy", policy.id, "claim_add", None, None, user, comment=_describe(values))
    return claim


def update_claim(claim_id, user, data) -> Claim:
    """Correct a claim; the changed fields are written to the policy's timeline."""
    _insurer_only(user)
    claim = fetch(Claim, claim_id, user)
    values = read(ClaimSchema, data)
    with unit_of_work():
        changed = {k: v for k, v in values.items() if getattr(claim, k) != v}
        for key, value in changed.items():
            setattr(claim, key, value)
        if changed:
            record_flow(
                "policy",
                claim.policy_id,
                "claim_update",
                None,
                None,
                user,
                comment=_("理赔%(id)s修改：", id=claim.id) + _describe(changed),
            )
    return claim


def settled_total(policy_id) -> Decimal:
    """累计金额 (元): the settled amounts of the policy's claims."""
    total = db.session.execute(
        select(func.coalesce(func.sum(Claim.settled_amount), 0)).where(Claim.policy_id == policy_id)
    ).scalar()
    return Decimal(total or 0).quantize(Decimal("0.01"))
