"""Dispatch orders (派单): dispatch, acceptance, re-dispatch, assignment to experts, timeouts.

Every function takes the acting user, fetches through the scope, moves the order through the ORDER
workflow (app/workflows) and commits once.
"""

import secrets
from datetime import timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _
from sqlalchemy import Select, func, select

from app import clock
from app.extensions import db
from app.models import DispatchOrder, Expert, Policy, PreventionOrg, ServiceItem, TitleLevel
from app.models.base import utcnow
from app.models.enums import OrderStatus as O
from app.models.enums import PartyKind as P
from app.models.enums import PolicyStatus
from app.security.scope import party_of, scoped_select
from app.workflows import ORDER

from . import settings
from .base import Conflict, Forbidden, Invalid, check_allowed, fetch, record_flow, transition, unit_of_work
from .commands import DispatchSchema, FieldErrors, OrderTermsSchema, read

# Orders in these states no longer draw on the policy's prevention fund.
CLOSED_WITHOUT_SERVICE = (O.REFUSED, O.TIMEOUT, O.REDISPATCHED)


def fee_share() -> Decimal:
    """事故预防费's share of the premium (the 参数 prevention_fee_share)."""
    return settings.decimal("prevention_fee_share")


def accept_days() -> int:
    """Days an organisation has to accept an order (the 参数 order_accept_days; a negative one is 0)."""
    return max(0, settings.integer("order_accept_days"))


def prevention_fund(policy) -> Decimal:
    """The policy's prevention fund: its premium times the share (fee_share)."""
    return (Decimal(policy.premium or 0) * fee_share()).quantize(Decimal("0.01"))


def fund_used(policy_id, exclude_order_id=None) -> Decimal:
    stmt: Select = select(func.coalesce(func.sum(DispatchOrder.fee), 0)).where(
        DispatchOrder.policy_id == policy_id, DispatchOrder.status.notin_(CLOSED_WITHOUT_SERVICE)
    )
    if exclude_order_id is not None:
        stmt = stmt.where(DispatchOrder.id != exclude_order_id)
    return Decimal(db.session.execute(stmt).scalar() or 0)


def _int(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def new_order_no(today=None):
    """PD + YYYYMMDD + 6 random digits, unique."""
    stamp = (today or clock.today()).strftime("%Y%m%d")
    for _attempt in range(20):
        no = f"PD{stamp}{secrets.randbelow(10**6):06d}"
        exists = db.session.execute(select(DispatchOrder.id).where(DispatchOrder.order_no == no)).first()
        if exists is None:
            return no
    raise Conflict(_("派单号生成失败，请重试"))


def _check_expert(expert, order_like, errors, field="expert_id"):
    """The expert must be active, belong to the assigning party and meet the required 职称."""
    if expert is None:
        errors[field] = [_("请选择专业技术人员")]
        return
    if not expert.active:
        errors[field] = [_("该专业技术人员已解约，不能派单")]
        return
    org_id, insurer_id = order_like["org_id"], order_like["insurer_id"]
    if (org_id and expert.org_id != org_id) or (not org_id and expert.company_id != insurer_id):
        errors[field] = [_("只能派单给本机构的专业技术人员")]
        return
    required = order_like.get("required_title")
    if required is not None and expert.title_level.rank < required.rank:
        errors[field] = [
            _(
                "%(name)s 的职称（%(title)s）低于派单要求（%(required)s）",
                name=expert.name,
                title=expert.title_level.name,
                required=required.name,
            )
        ]


def _validate(user, data, schema=OrderTermsSchema):
    """Check the dispatch form; returns the cleaned values (raises Invalid with per-field errors)."""
    party = party_of(user)
    errors = FieldErrors()
    values = read(schema, data, errors)
    org = expert = title = None
    if values["org_id"] and "org_id" not in errors.errors:
        org = db.session.get(PreventionOrg, values["org_id"])
        if org is None or not org.active:
            errors.add("org_id", _("事故预防机构不存在或已停用"))
    elif values["expert_id"]:
        expert = db.session.get(Expert, values["expert_id"])
    item_ids = set(values["service_item_ids"] or ())
    items = db.session.scalars(
        select(ServiceItem).where(ServiceItem.id.in_(item_ids), ServiceItem.active.is_(True))
    ).all()
    if item_ids and len(items) != len(item_ids):
        errors.add("service_item_ids", _("请选择服务内容"))
    start, end, deadline = values["start_date"], values["end_date"], values["deadline"]
    today = clock.today()
    if deadline is None and "deadline" not in errors.errors:
        deadline = today + timedelta(days=accept_days())
        if end and deadline > end:
            deadline = end
    if deadline and deadline < today:
        errors.add("deadline", _("截止日期不能早于今天"))
    elif deadline and end and deadline > end:
        errors.add("deadline", _("截止日期不能晚于结束日期"))
    if values["required_title_id"]:
        title = db.session.get(TitleLevel, values["required_title_id"])
        if title is None:
            errors.add("required_title_id", _("职称不存在"))
    if values["expert_id"] and "org_id" not in errors.errors:
        _check_expert(expert, {"org_id": None, "insurer_id": party.id, "required_title": title}, errors.errors)
    errors.raise_if_any(_("派单信息有误，请检查后重新提交"))
    return dict(
        org=org,
        expert=expert,
        items=items,
        service_place=values["service_place"],
        start_date=start,
        end_date=end,
        deadline=deadline,
        required_title=title,
        fee=values["fee"],
        policy_ids=values.get("policy_ids"),
    )


def _lock_policy(policy_id):
    db.session.execute(select(Policy.id).where(Policy.id == policy_id).with_for_update())


def _create_order(user, policy, values, parent=None):
    _lock_policy(policy.id)
    fund, used = prevention_fund(policy), fund_used(policy.id)
    if used + values["fee"] > fund:
        raise Invalid(
            _(
                "保单 %(no)s 的事故预防费将超出可用额度：额度 %(fund)s 元（保费 × %(share)s），已派 %(used)s 元，"
                "本次 %(fee)s 元",
                no=policy.policy_no,
                fund=f"{fund:,.2f}",
                share=f"{fee_share():.0%}",
                used=f"{used:,.2f}",
                fee=f"{values['fee']:,.2f}",
            ),
            errors={"fee": [_("超出保单事故预防费额度")]},
        )
    to_expert = values["expert"] is not None
    order = DispatchOrder(
        order_no=new_order_no(),
        parent_id=parent.id if parent else None,
        policy_id=policy.id,
        project_id=policy.project_id,
        enterprise_id=policy.enterprise_id,
        region_code=policy.region_code,
        insurer_id=policy.insurer_id,
        org_id=values["org"].id if values["org"] else None,
        expert_id=values["expert"].id if to_expert else None,
        service_place=values["service_place"],
        start_date=values["start_date"],
        end_date=values["end_date"],
        deadline=values["deadline"],
        required_title_id=values["required_title"].id if values["required_title"] else None,
        fee=values["fee"],
        status=O.ASSIGNED if to_expert else O.PENDING,
    )
    order.service_items = list(values["items"])
    db.session.add(order)
    db.session.flush()
    target = values["expert"] if to_expert else values["org"]
    record_flow(
        ORDER.entity_type,
        order.id,
        "redispatch" if parent else "dispatch",
        None,
        order.status,
        user,
        comment=str(_("派单至 %(target)s", target=target.name)),
    )
    return order


def dispatchable(policy) -> bool:
    """A policy receives prevention services while it is in force (已投保)."""
    return policy.status == PolicyStatus.ACTIVE


def can_dispatch(user) -> bool:
    """派单 (and 再派单) is the insurer's: the company whose policy funds the service."""
    return party_of(user).kind == P.INSURER


def _require_insurer(user):
    if not can_dispatch(user):
        raise Forbidden(_("只有保险机构可以派单"))
    return party_of(user)


def dispatch_targets(user):
    """What the 派单 form offers: active prevention orgs, the insurer's own active experts, the service
    items and the 职称 levels."""
    party = party_of(user)
    experts = []
    if can_dispatch(user):
        experts = db.session.scalars(
            select(Expert).where(Expert.company_id == party.id, Expert.active.is_(True)).order_by(Expert.name)
        ).all()
    return dict(
        orgs=db.session.scalars(
            select(PreventionOrg).where(PreventionOrg.active.is_(True)).order_by(PreventionOrg.id)
        ).all(),
        own_experts=experts,
        service_items=db.session.scalars(
            select(ServiceItem).where(ServiceItem.active.is_(True)).order_by(ServiceItem.sort_order)
        ).all(),
        titles=db.session.scalars(select(TitleLevel).order_by(TitleLevel.rank)).all(),
    )


def assignable_experts(order, user):
    """(meeting the required 职称, below it) among the active experts of the order's org (or, for an
    order to the insurer's own experts, the insurer's), through the scope."""
    owner = Expert.org_id == order.org_id if order.org_id else Expert.company_id == order.insurer_id
    experts = db.session.scalars(
        scoped_select(Expert, user).where(owner, Expert.active.is_(True)).order_by(Expert.name)
    ).all()
    required = order.required_title.rank if order.required_title else 0
    return [e for e in experts if e.title_level.rank >= required], [e for e in experts if e.title_level.rank < required]


def dispatch(user, policy_ids: list, data: dict) -> list:
    """派单: one order per selected insured policy, to a prevention org (未接单) or an own expert."""
    _require_insurer(user)
    with unit_of_work():
        values = _validate(user, dict(data, policy_ids=policy_ids), DispatchSchema)
        policies = [fetch(Policy, pid, user) for pid in dict.fromkeys(values["policy_ids"])]
        for policy in policies:
            if not dispatchable(policy):
                raise Invalid(_("保单 %(no)s 不在保险期内（已投保），不能派单", no=policy.policy_no))
        orders = [_create_order(user, policy, values) for policy in policies]
    return orders


def accept(order_id, user):
    """The org accepts (同意): 未接单 → 已接单."""
    with unit_of_work():
        order = fetch(DispatchOrder, order_id, user)
        transition(order, ORDER, "accept", user, values={"accepted_at": utcnow()})
    return order


def refuse(order_id, user, reason):
    """The org refuses (拒绝) with a reason; the insurer sees 被拒回 and may re-dispatch."""
    reason = (reason or "").strip()
    with unit_of_work():
        order = fetch(DispatchOrder, order_id, user)
        transition(order, ORDER, "refuse", user, comment=reason, values={"refuse_reason": reason})
    return order


def redispatch_defaults(order) -> dict:
    """What the 再派单 form starts from: the refused or timed-out order's service items, place, dates,
    required 职称 and fee (the target and the acceptance deadline are chosen anew)."""
    return {
        "service_item_ids": [str(item.id) for item in order.service_items if item.active],
        "service_place": order.service_place,
        "start_date": order.start_date.isoformat(),
        "end_date": order.end_date.isoformat(),
        "required_title_id": str(order.required_title_id or ""),
        "fee": f"{order.fee:.2f}",
    }


def redispatch(order_id, user, data) -> DispatchOrder:
    """再派单 of a refused or timed-out order: the old one is closed, a new one points to it."""
    _require_insurer(user)
    with unit_of_work():
        old = fetch(DispatchOrder, order_id, user)
        values = _validate(user, data)
        policy = old.policy
        transition(old, ORDER, "redispatch", user, comment=data.get("comment"))
        if not dispatchable(policy):
            raise Invalid(_("保单 %(no)s 不在保险期内（已投保），不能派单", no=policy.policy_no))
        order = _create_order(user, policy, values, parent=old)
    return order


def assign(order_id, user, expert_id):
    """派单 to an expert (org, or the insurer for its own orders): 已接单/被退回 → 待专家接单."""
    with unit_of_work():
        order = fetch(DispatchOrder, order_id, user)
        check_allowed(order, ORDER, "assign", user)  # before the expert is even looked at
        expert = db.session.get(Expert, _int(expert_id)) if _int(expert_id) else None
        errors = {}
        _check_expert(
            expert,
            {"org_id": order.org_id, "insurer_id": order.insurer_id, "required_title": order.required_title},
            errors,
        )
        if errors:
            raise Invalid(errors["expert_id"][0], errors=errors)
        transition(
            order,
            ORDER,
            "assign",
            user,
            comment=str(_("指派专家 %(name)s", name=expert.name)),
            values={"expert_id": expert.id},
        )
    return order


def expert_accept(order_id, user):
    """The expert accepts (同意): 待专家接单 → 服务中."""
    with unit_of_work():
        order = fetch(DispatchOrder, order_id, user)
        values = {} if order.accepted_at else {"accepted_at": utcnow()}
        transition(order, ORDER, "expert_accept", user, values=values)
    return order


def expert_refuse(order_id, user, reason):
    """The expert refuses (拒绝) with a reason: back to the dispatching party (被退回), which re-assigns."""
    with unit_of_work():
        order = fetch(DispatchOrder, order_id, user)
        transition(order, ORDER, "expert_refuse", user, comment=(reason or "").strip())
    return order


def check_timeouts(today=None) -> int:
    """Mark orders not accepted by their deadline as 超时. Idempotent; returns how many changed.

    'Not accepted' means nobody accepted it yet (accepted_at empty): an order the org accepted and
    assigned to an expert is the org's to follow up, not a timeout.
    """
    today = today or clock.today()
    sources = ORDER["timeout"].sources
    with unit_of_work():
        ids = db.session.scalars(
            select(DispatchOrder.id)
            .where(
                DispatchOrder.status.in_(sources), DispatchOrder.deadline < today, DispatchOrder.accepted_at.is_(None)
            )
            .order_by(DispatchOrder.id)
        ).all()
        changed = 0
        for oid in ids:
            order = db.session.get(DispatchOrder, oid)
            transition(
                order,
                ORDER,
                "timeout",
                None,
                system=True,
                comment=str(_("截止日期 %(d)s 前未接单", d=order.deadline.isoformat())),
            )
            changed += 1
    return changed
