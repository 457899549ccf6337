"""保单: the premium proposal, 提交 (issue), expiry and surrender."""

import secrets
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _
from sqlalchemy import extract, func, select

from app import clock
from app.extensions import db
from app.models import Application, Claim, FloatRule, Plan, Policy
from app.models.enums import ApplicationStatus as A
from app.models.enums import PartyKind as P
from app.models.enums import PolicyStatus
from app.numbers import percent
from app.security.scope import party_of, scoped_select
from app.workflows import APPLICATION, POLICY

from . import settings
from .applications import set_project_status, store_files
from .base import Conflict, Forbidden, Invalid, fetch, record_flow, transition, unit_of_work
from .commands import FieldErrors, IssuePolicySchema, present, read

CENT = Decimal("0.01")
POLICY_FILE_SLOTS = ("policy_file", "agreement_file")


def _accidents(enterprise_id, first_year, last_year):
    """The criteria of the enterprise's accidents (claims with a death or an injury) submitted in the
    years ``first_year``..``last_year``, on any of its policies with any insurer."""
    return (
        Claim.enterprise_id == enterprise_id,
        Claim.submitted_date >= date(first_year, 1, 1),
        Claim.submitted_date <= date(last_year, 12, 31),
        (Claim.death_count > 0) | (Claim.injured_count > 0),
    )


def _accident_totals(where):
    """{year: (count, deaths, injuries)} of the claims matching ``where`` (every insurer's)."""
    year = extract("year", Claim.submitted_date)
    return {
        int(y): (n, int(d or 0), int(i or 0))
        for y, n, d, i in db.session.execute(
            select(year, func.count(), func.sum(Claim.death_count), func.sum(Claim.injured_count))
            .where(*where)
            .group_by(year)
        )
    }


def prior_year_accidents(enterprise_id, today=None):
    """(deaths, injuries) of the enterprise's claims submitted in the previous calendar year, on any of
    its policies with any insurer: what the floating ratio reads."""
    year = (today or clock.today()).year - 1
    _n, deaths, injuries = _accident_totals(_accidents(enterprise_id, year, year)).get(year, (0, 0, 0))
    return deaths, injuries


ACCIDENT_YEARS = 3  # the years before this one that 事故 shows


@dataclass(frozen=True)
class AccidentYear:
    """One year of an enterprise's accidents across every insurer, and the part outside the reader's scope."""

    year: int
    count: int
    deaths: int
    injuries: int
    other_count: int
    other_deaths: int
    other_injuries: int


@dataclass(frozen=True)
class AccidentReport:
    year: int  # the previous calendar year, the one the floating ratio reads
    deaths: int
    injuries: int
    years: list  # AccidentYear, newest first
    own_claims: list  # Claim rows in the reader's scope


def accident_report(enterprise_id, user=None, today=None) -> AccidentReport:
    """事故 on an application (manual 二.1), as the reviewer may read it (docs/decisions.md): per year,
    the enterprise's accident count, deaths and injuries across every insurer (the floating ratio needs
    them), of which so many outside the reader's scope; the claim rows themselves only where the scope
    (app/security/scope.py) shows them. Another insurer's rows, project names and amounts are not read."""
    last = (today or clock.today()).year - 1
    where = _accidents(enterprise_id, last - ACCIDENT_YEARS + 1, last)
    totals = _accident_totals(where)
    own_claims = db.session.scalars(
        scoped_select(Claim, user).where(*where).order_by(Claim.submitted_date, Claim.id)
    ).all()
    years = []
    for y in range(last, last - ACCIDENT_YEARS, -1):
        n, d, i = totals.get(y, (0, 0, 0))
        mine = [c for c in own_claims if c.submitted_date.year == y]
        own_d, own_i = sum(c.death_count for c in mine), sum(c.injured_count for c in mine)
        years.append(AccidentYear(y, n, d, i, n - len(mine), d - own_d, i - own_i))
    _n, deaths, injuries = totals.get(last, (0, 0, 0))
    return AccidentReport(last, deaths, injuries, years, own_claims)


def float_rule_for(deaths, injuries):
    """The applicable row of the rate table: the highest sort_order whose thresholds are both met."""
    rules = db.session.execute(select(FloatRule).order_by(FloatRule.sort_order.desc(), FloatRule.id)).scalars()
    for rule in rules:
        if deaths >= rule.min_deaths and injuries >= rule.min_injuries:
            return rule
    return None


def premium_for(investment, plan, ratio):
    """investment (万元) × 10000 × rate × (1 + ratio), at least the plan's minimum, in 元."""
    raw = Decimal(investment or 0) * 10000 * Decimal(plan.rate) * (1 + Decimal(ratio or 0))
    return max(raw, Decimal(plan.min_premium or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def propose_premium(application, plan=None, today=None) -> dict:
    """The premium the 提交 form proposes for ``application`` (optionally with another plan)."""
    deaths, injuries = prior_year_accidents(application.enterprise_id, today)
    rule = float_rule_for(deaths, injuries)
    ratio = Decimal(rule.ratio) if rule is not None else Decimal("0")
    plan = plan or application.plan
    return dict(
        proposed=premium_for(application.project.investment, plan, ratio),
        float_ratio=ratio,
        rule=rule,
        deaths=deaths,
        injuries=injuries,
    )


def premium_tolerance() -> Decimal:
    """How far a premium may deviate from the proposal without a reason (the 参数 premium_tolerance)."""
    return settings.decimal("premium_tolerance")


def new_ledger_no(now=None):
    """保单台帐 项目号 CB-YYYYMMDD-HHMMSS-XXXXXXX (7 upper-case hex characters, the platform zone's wall
    clock), unique."""
    now = clock.local(now or clock.now())
    while True:
        no = f"CB-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(4)[:7].upper()}"
        if db.session.execute(select(Policy.id).where(Policy.ledger_no == no)).first() is None:
            return no


def _validate_issue(app, data, files, insurer_id, errors):
    values = read(IssuePolicySchema, data, errors)
    plan_id, agreed = values.pop("plan_id") or app.plan_id, values.pop("agreed")
    plan = db.session.get(Plan, plan_id) if plan_id else None
    if plan is None:
        errors.add("plan_id", _("请选择方案"))
    if (
        values["policy_no"]
        and db.session.execute(
            select(Policy.id).where(Policy.insurer_id == insurer_id, Policy.policy_no == values["policy_no"])
        ).first()
        is not None
    ):
        errors.add("policy_no", _("保单号已存在"))
    for slot in POLICY_FILE_SLOTS:
        if present(files, slot) is None:
            errors.add(slot, _("请上传文件"))
    if not agreed:
        errors.add("agreed", _("请勾选“我已阅读并同意《用户协议》”"))
    proposal = propose_premium(app, plan) if plan is not None else None
    if proposal and values["premium"] is not None:
        proposed = proposal["proposed"]
        deviation = abs(values["premium"] - proposed) / proposed if proposed else Decimal("0")
        if deviation > premium_tolerance() and not values["premium_deviation_reason"]:
            errors.add(
                "premium_deviation_reason",
                _(
                    "保费与建议保费%(p)s元偏离超过%(t)s%%，请说明原因",
                    p=proposed,
                    t=percent(premium_tolerance()),
                ),
            )
    return plan, proposal, values


def issue_policy(application_id, user, data: dict, files: dict) -> Policy:
    """提交 on 可出单: enter the policy; the application and project become 已投保, the ledger row is made."""
    app = fetch(Application, application_id, user)
    party = party_of(user)
    if party.kind != P.INSURER and not party.is_admin:
        raise Forbidden(_("只有保险公司可以录入保单"))
    if app.status != A.APPROVED:
        raise Conflict(_("当前状态不允许此操作，可能已被他人处理，请刷新后重试"))
    with unit_of_work() as session:
        errors = FieldErrors()
        plan, proposal, values = _validate_issue(app, data, files, app.insurer_id, errors)
        errors.raise_if_any()
        project_id = app.project_id
        policy = Policy(
            application_id=app.id,
            project_id=project_id,
            enterprise_id=app.enterprise_id,
            region_code=app.region_code,
            insurer_id=app.insurer_id,
            broker_id=app.broker_id,
            plan_id=plan.id,
            proposed_premium=proposal["proposed"],
            float_ratio=proposal["float_ratio"],
            ledger_no=new_ledger_no(),
            status=PolicyStatus.ACTIVE,
            **values,
        )
        session.add(policy)
        session.flush()
        store_files(session, policy, files, POLICY_FILE_SLOTS, user, errors, suffix="")
        errors.raise_if_any(_("上传文件有误，未保存"))
        to = transition(app, APPLICATION, "issue_policy", user, comment=values["policy_no"])
        record_flow(
            "policy", policy.id, "issue", None, PolicyStatus.ACTIVE, user, comment=values["premium_deviation_reason"]
        )
        set_project_status(project_id, to)
    return policy


def display_status(policy, today=None):
    """已到期 is shown as soon as the 终止日期 has passed, even before the scheduled command ran."""
    return policy.current_status(today)


def expire_policies(today=None) -> int:
    """Mark active policies past their 终止日期 as 已到期 (with their application and project). Idempotent."""
    today = today or clock.today()
    ids = (
        db.session.execute(
            select(Policy.id).where(Policy.status == PolicyStatus.ACTIVE, Policy.end_date < today).order_by(Policy.id)
        )
        .scalars()
        .all()
    )
    done = 0
    for policy_id in ids:
        with unit_of_work() as session:
            policy = session.get(Policy, policy_id)
            if policy is None or policy.status != PolicyStatus.ACTIVE:
                continue
            app = policy.application
            transition(policy, POLICY, "expire", None, system=True)
            if app.status == A.INSURED:
                to = transition(app, APPLICATION, "expire", None, system=True)
                _follow_latest(policy.project_id, app.id, to)
            done += 1
    return done


def _follow_latest(project_id, application_id, status):
    """The project shows the state of its latest application only."""
    latest = db.session.execute(select(func.max(Application.id)).where(Application.project_id == project_id)).scalar()
    if latest == application_id:
        set_project_status(project_id, status)


def surrender(policy_id, user, reason):
    """退保 with a reason: the policy, its application and the project become 已退保."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("请填写退保原因"), errors={"comment": [_("请填写退保原因")]})
    with unit_of_work():
        policy = fetch(Policy, policy_id, user)
        app = policy.application
        transition(policy, POLICY, "surrender", user, comment=reason, values={"surrender_reason": reason[:2000]})
        to = transition(app, APPLICATION, "surrender", user, comment=reason)
        _follow_latest(policy.project_id, app.id, to)
    return policy
