"""The departments' figures: the monthly per-company statistics (manual 五.3) and the dashboard
(manual 五.4, 附件 2).

Every figure is one SQL aggregate (GROUP BY, conditional sums) over rows restricted by the acting
user's scope (``scoped_select``): a city department sees its own region, the province and Admin see
all. Python only merges the handful of aggregate rows (one per company or city) and derives ratios.
Periods and definitions are documented in docs/decisions.md.
"""

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _
from sqlalchemy import Date, case, distinct, exists, func, select, type_coerce

from app import clock
from app.extensions import db
from app.models import (
    Claim,
    DispatchOrder,
    Enterprise,
    Hazard,
    HazardCategory,
    InsuranceCompany,
    Policy,
    Project,
    Region,
    RegistryProject,
)
from app.models.enums import (
    ApplicationStatus,
    HazardLevel,
    HazardStatus,
    OrderStatus,
    PolicyStatus,
    RegionLevel,
)
from app.models.reference import city_of
from app.security.scope import party_of, scoped_select

from .orders import fee_share

CENT = Decimal("0.01")
# Orders closed without any service: their fee was never spent.
UNSERVED_ORDER_STATUSES = (OrderStatus.REFUSED, OrderStatus.TIMEOUT, OrderStatus.REDISPATCHED)
REPORT_TYPES = {"insurance": _("投保"), "prevention": _("事故预防"), "claims": _("理赔")}


def money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def ratio(part, whole) -> Decimal:
    """part / whole as a fraction with 4 decimals (0 when whole is 0)."""
    if not whole:
        return Decimal("0.0000")
    return (Decimal(str(part)) / Decimal(str(whole))).quantize(Decimal("0.0001"))


# ---------------------------------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def contains_date(self, column):
        return column.between(self.start, self.end)

    def contains_time(self, column):
        return (column >= datetime.combine(self.start, time.min)) & (
            column < datetime.combine(self.end + timedelta(days=1), time.min)
        )

    def previous_year(self):
        return Period(_same_day_year_before(self.start), _same_day_year_before(self.end))


def _same_day_year_before(day):
    last = calendar.monthrange(day.year - 1, day.month)[1]
    return date(day.year - 1, day.month, min(day.day, last))


def month_end(month: date) -> date:
    return date(month.year, month.month, calendar.monthrange(month.year, month.month)[1])


def parse_month(text, today=None) -> date:
    """'2025-01' → date(2025, 1, 1); anything unreadable → the current month."""
    today = today or clock.today()
    try:
        year, mon = (int(part) for part in str(text).split("-")[:2])
        return date(year, mon, 1)
    except (TypeError, ValueError):
        return date(today.year, today.month, 1)


def is_closed(month: date, today=None) -> bool:
    """A month is closed once its last day is past (in the platform's zone)."""
    return month_end(month) < (today or clock.today())


def report_periods(month: date, today=None):
    """The two periods of a monthly report: 截止 (1 January to the month's end) and the month alone.
    The current month ends today: its report is 截止 today, not the month's last day."""
    end = month_end(month)
    today = today or clock.today()
    if (month.year, month.month) == (today.year, today.month):
        end = today
    return {"cumulative": Period(date(month.year, 1, 1), end), "month": Period(date(month.year, month.month, 1), end)}


# ---------------------------------------------------------------------------------------------------
# Per-company figures
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    key: str
    label: object
    kind: str  # count | money | ratio


METRICS = {
    "insurance": [
        Metric("policies", _("保单数"), "count"),
        Metric("policy_share", _("保单占比"), "ratio"),
        Metric("premium", _("保费数"), "money"),
        Metric("premium_share", _("保费占比"), "ratio"),
        Metric("prevention_fund", _("事故预防费"), "money"),
        Metric("prevention_spent", _("事故预防费已使用"), "money"),
    ],
    "prevention": [
        Metric("orders", _("派单数"), "count"),
        Metric("completed", _("完成数"), "count"),
        Metric("hazards_general", _("一般安全隐患"), "count"),
        Metric("hazards_major", _("重大事故隐患"), "count"),
        Metric("rectified", _("已整改"), "count"),
        Metric("rectify_rate", _("整改率"), "ratio"),
        Metric("fee_spent", _("事故预防费用"), "money"),
    ],
    "claims": [
        Metric("claims", _("理赔数"), "count"),
        Metric("injured", _("伤残人数"), "count"),
        Metric("deaths", _("死亡人数"), "count"),
        Metric("estimated", _("估损金额"), "money"),
        Metric("settled", _("已决金额"), "money"),
    ],
}


def _sum(expr):
    return func.coalesce(func.sum(expr), 0)


def _count_if(condition):
    return _sum(case((condition, 1), else_=0))


def _grouped(build, keys):
    """Run ``build(group_column)`` grouped by the policy's insurer and by its broker; the total is the
    sum of the insurer rows. Returns ({company_id: {key: value}}, {key: value})."""
    per_company, total = {}, dict.fromkeys(keys, 0)
    for column in (Policy.insurer_id, Policy.broker_id):
        stmt = build(column).where(column.isnot(None)).group_by(column)
        for row in db.session.execute(stmt):
            per_company[row[0]] = dict(zip(keys, row[1:]))
            if column is Policy.insurer_id:
                # Every policy has its insurer (NOT NULL): the insurer rows add up to the total, which
                # saves a third full scan per figure (4 per report, 8 per workbook).
                for key, value in zip(keys, row[1:]):
                    total[key] += value or 0
    return per_company, total


def _columns(group, *aggregates):
    return ((group,) if group is not None else ()) + aggregates


def _insurance_figures(user, period):
    share = fee_share()
    live = Policy.status != PolicyStatus.SURRENDERED

    def policies(group):
        return scoped_select(Policy, user, *_columns(group, func.count(Policy.id), _sum(Policy.premium))).where(
            period.contains_date(Policy.start_date), live
        )

    def spent(group):
        return (
            scoped_select(DispatchOrder, user, *_columns(group, _sum(DispatchOrder.fee)))
            .join(Policy, Policy.id == DispatchOrder.policy_id)
            .where(period.contains_time(DispatchOrder.created_at), DispatchOrder.status.notin_(UNSERVED_ORDER_STATUSES))
        )

    rows, total = _grouped(policies, ("policies", "premium"))
    spent_rows, spent_total = _grouped(spent, ("prevention_spent",))
    total.update(spent_total)
    for cid, values in spent_rows.items():
        rows.setdefault(cid, {}).update(values)
    for values in list(rows.values()) + [total]:
        values.setdefault("policies", 0)
        values["premium"] = money(values.get("premium"))
        values["prevention_fund"] = money(values["premium"] * share)
        values["prevention_spent"] = money(values.get("prevention_spent"))
        values["policy_share"] = ratio(values["policies"], total["policies"])
        values["premium_share"] = ratio(values["premium"], money(total["premium"]))
    return rows, total


def _prevention_figures(user, period):
    def orders(group):
        return (
            scoped_select(
                DispatchOrder,
                user,
                *_columns(
                    group,
                    func.count(DispatchOrder.id),
                    _count_if(DispatchOrder.status == OrderStatus.COMPLETED),
                    _sum(case((DispatchOrder.status.notin_(UNSERVED_ORDER_STATUSES), DispatchOrder.fee), else_=0)),
                ),
            )
            .join(Policy, Policy.id == DispatchOrder.policy_id)
            .where(period.contains_time(DispatchOrder.created_at))
        )

    def hazards(group):
        return (
            scoped_select(
                Hazard,
                user,
                *_columns(
                    group,
                    _count_if(Hazard.level == HazardLevel.GENERAL),
                    _count_if(Hazard.level == HazardLevel.MAJOR),
                    _count_if(Hazard.status == HazardStatus.PASSED),
                ),
            )
            .join(DispatchOrder, DispatchOrder.id == Hazard.order_id)
            .join(Policy, Policy.id == DispatchOrder.policy_id)
            .where(period.contains_time(DispatchOrder.created_at))
        )

    rows, total = _grouped(orders, ("orders", "completed", "fee_spent"))
    hazard_rows, hazard_total = _grouped(hazards, ("hazards_general", "hazards_major", "rectified"))
    total.update(hazard_total)
    for cid, values in hazard_rows.items():
        rows.setdefault(cid, {}).update(values)
    for values in list(rows.values()) + [total]:
        for key in ("orders", "completed", "hazards_general", "hazards_major", "rectified"):
            values[key] = int(values.get(key) or 0)
        values["fee_spent"] = money(values.get("fee_spent"))
        values["rectify_rate"] = ratio(values["rectified"], values["hazards_general"] + values["hazards_major"])
    return rows, total


def _claims_figures(user, period):
    def claims(group):
        return (
            scoped_select(
                Claim,
                user,
                *_columns(
                    group,
                    func.count(Claim.id),
                    _sum(Claim.injured_count),
                    _sum(Claim.death_count),
                    _sum(Claim.estimated_loss),
                    _sum(Claim.settled_amount),
                ),
            )
            .join(Policy, Policy.id == Claim.policy_id)
            .where(period.contains_date(Claim.submitted_date))
        )

    rows, total = _grouped(claims, ("claims", "injured", "deaths", "estimated", "settled"))
    for values in list(rows.values()) + [total]:
        for key in ("claims", "injured", "deaths"):
            values[key] = int(values.get(key) or 0)
        values["estimated"] = money(values.get("estimated"))
        values["settled"] = money(values.get("settled"))
    return rows, total


FIGURES = {"insurance": _insurance_figures, "prevention": _prevention_figures, "claims": _claims_figures}


def _zero(metric):
    return {"count": 0, "money": money(0), "ratio": ratio(0, 0)}[metric.kind]


def _change(metric, current, previous):
    if metric.kind == "count":
        return int(current) - int(previous)
    if metric.kind == "money":
        return money(Decimal(current) - Decimal(previous))
    return (Decimal(current) - Decimal(previous)).quantize(Decimal("0.0001"))


@dataclass
class CompanyRow:
    seq: int | None
    name: str
    kind: str | None
    figures: dict  # metric key -> (current, previous year, change)


@dataclass
class CompanyReport:
    report: str
    title: str
    period: Period
    previous: Period
    metrics: list
    rows: list
    total: CompanyRow


def companies():
    """The insurers then the brokers, in 登录平台顺序 (reference data, visible to every user)."""
    return db.session.execute(
        select(InsuranceCompany.id, InsuranceCompany.short_name, InsuranceCompany.kind).order_by(
            InsuranceCompany.login_order, InsuranceCompany.id
        )
    ).all()


def company_report(report, user, period) -> CompanyReport:
    """One row per company in 登录平台顺序 and a 合计 row; each figure with the same period of the
    previous year and the change. A period without data gives zeros.

    Broker rows count the policies (orders, claims) that name the broker; those are counted under
    their insurer too, so 合计 counts every policy once (it is the total over the scope)."""
    metrics = METRICS[report]
    previous = period.previous_year()
    cur_rows, cur_total = FIGURES[report](user, period)
    prev_rows, prev_total = FIGURES[report](user, previous)

    def triples(current, before):
        out = {}
        for m in metrics:
            c, p = current.get(m.key, _zero(m)), before.get(m.key, _zero(m))
            out[m.key] = (c, p, _change(m, c, p))
        return out

    rows = [
        CompanyRow(seq, name, kind, triples(cur_rows.get(cid, {}), prev_rows.get(cid, {})))
        for seq, (cid, name, kind) in enumerate(companies(), start=1)
    ]
    total = CompanyRow(None, str(_("合计")), None, triples(cur_total, prev_total))
    return CompanyReport(report, report_title(period), period, previous, metrics, rows, total)


def report_title(period) -> str:
    """截止YYYY年MM月DD日数据: the period's last day (today for the current month)."""
    return str(_("截止%(y)04d年%(m)02d月%(d)02d日数据", y=period.end.year, m=period.end.month, d=period.end.day))


# ---------------------------------------------------------------------------------------------------
# Underlying rows (the detail sheet): queries, streamed by the workbook writer
# ---------------------------------------------------------------------------------------------------


def detail_rows(report, user, period):
    """(headers, Select) of the project-level rows behind a report's figures for ``period``."""
    ins = InsuranceCompany.__table__.alias("ins")
    brk = InsuranceCompany.__table__.alias("brk")
    if report == "insurance":
        headers = [
            _("保单号"),
            _("项目名称"),
            _("项目代码"),
            _("行政区划代码"),
            _("投保单位"),
            _("保险机构"),
            _("经纪公司"),
            _("保费(元)"),
            _("生效日期"),
            _("终止日期"),
            _("保单状态"),
        ]
        stmt = (
            scoped_select(
                Policy,
                user,
                Policy.policy_no,
                Policy.project_name,
                Policy.project_code,
                Policy.region_code,
                Enterprise.name,
                ins.c.short_name,
                brk.c.short_name,
                Policy.premium,
                Policy.start_date,
                Policy.end_date,
                Policy.status,
            )
            .join(Enterprise, Enterprise.id == Policy.enterprise_id)
            .join(ins, ins.c.id == Policy.insurer_id)
            .outerjoin(brk, brk.c.id == Policy.broker_id)
            .where(period.contains_date(Policy.start_date), Policy.status != PolicyStatus.SURRENDERED)
            .order_by(Policy.start_date, Policy.id)
        )
        return headers, stmt, {10: PolicyStatus}
    if report == "prevention":
        hazards = (
            select(
                Hazard.order_id,
                func.count(Hazard.id).label("n"),
                _count_if(Hazard.level == HazardLevel.MAJOR).label("major"),
                _count_if(Hazard.status == HazardStatus.PASSED).label("passed"),
            )
            .group_by(Hazard.order_id)
            .subquery()
        )
        headers = [
            _("派单号"),
            _("项目名称"),
            _("项目代码"),
            _("行政区划代码"),
            _("保险机构"),
            _("经纪公司"),
            _("派单日期"),
            _("派单状态"),
            _("隐患数"),
            _("重大事故隐患"),
            _("已整改"),
            _("费用(元)"),
        ]
        stmt = (
            scoped_select(
                DispatchOrder,
                user,
                DispatchOrder.order_no,
                Project.name,
                Project.project_code,
                DispatchOrder.region_code,
                ins.c.short_name,
                brk.c.short_name,
                type_coerce(func.date(DispatchOrder.created_at), Date),  # a date cell, not text
                DispatchOrder.status,
                func.coalesce(hazards.c.n, 0),
                func.coalesce(hazards.c.major, 0),
                func.coalesce(hazards.c.passed, 0),
                DispatchOrder.fee,
            )
            .join(Project, Project.id == DispatchOrder.project_id)
            .join(Policy, Policy.id == DispatchOrder.policy_id)
            .join(ins, ins.c.id == Policy.insurer_id)
            .outerjoin(brk, brk.c.id == Policy.broker_id)
            .outerjoin(hazards, hazards.c.order_id == DispatchOrder.id)
            .where(period.contains_time(DispatchOrder.created_at))
            .order_by(DispatchOrder.created_at, DispatchOrder.id)
        )
        return headers, stmt, {7: OrderStatus}
    headers = [
        _("保单号"),
        _("项目名称"),
        _("项目代码"),
        _("行政区划代码"),
        _("保险机构"),
        _("经纪公司"),
        _("提交日期"),
        _("伤残人数"),
        _("死亡人数"),
        _("估损金额"),
        _("已决日期"),
        _("已决金额"),
        _("备注"),
    ]
    stmt = (
        scoped_select(
            Claim,
            user,
            Policy.policy_no,
            Policy.project_name,
            Policy.project_code,
            Claim.region_code,
            ins.c.short_name,
            brk.c.short_name,
            Claim.submitted_date,
            Claim.injured_count,
            Claim.death_count,
            Claim.estimated_loss,
            Claim.settled_date,
            Claim.settled_amount,
            Claim.remark,
        )
        .join(Policy, Policy.id == Claim.policy_id)
        .join(ins, ins.c.id == Policy.insurer_id)
        .outerjoin(brk, brk.c.id == Policy.broker_id)
        .where(period.contains_date(Claim.submitted_date))
        .order_by(Claim.submitted_date, Claim.id)
    )
    return headers, stmt, {}


# ---------------------------------------------------------------------------------------------------
# Dashboard (附件 2)
# ---------------------------------------------------------------------------------------------------

INSURED = ApplicationStatus.INSURED  # a project's 投保状态 takes its application's status values


def _cities_in_scope(user):
    party = party_of(user)
    cities = db.session.execute(
        select(Region.code, Region.name).where(Region.level == RegionLevel.CITY).order_by(Region.code)
    ).all()
    if party.sees_all or not party.region_prefix:
        return cities if party.sees_all else []
    prefix = party.region_prefix[:4]
    return [c for c in cities if c.code[:4] == prefix]


def _by_city(stmt):
    return {row[0]: row[1:] for row in db.session.execute(stmt)}


def dashboard(user, wait=0):
    """The six figures of 附件 2, 承保比例 and 理赔 by city, hazards by category and the map data, with
    ``as_of``, the time they were computed.

    They aggregate every registry row, project, claim and hazard in scope (≈ 1 s at 1M projects): a
    department's are kept per scope and refreshed by the task queue (a page waits up to ``wait``
    seconds for a refresh it queued); another party's are reused briefly (kept_figures).
    ``dashboard_from_rows`` computes them from the rows."""
    from . import kept_figures

    values, as_of = kept_figures.figures(user, "dashboard", wait=wait)
    return dict(values, as_of=as_of)


def dashboard_from_rows(user):
    valid = RegistryProject.valid.is_(True)
    registry_total, registry_enterprises = db.session.execute(
        scoped_select(
            RegistryProject, user, func.count(RegistryProject.id), func.count(distinct(RegistryProject.credit_code))
        ).where(valid)
    ).one()
    signed_in = Enterprise.first_login_at.is_not(None)
    # 注册比率: registry enterprises (valid rows' credit codes) that have signed in at least once
    registered = db.session.execute(
        scoped_select(RegistryProject, user, func.count(distinct(RegistryProject.credit_code))).where(
            valid, exists().where(Enterprise.credit_code == RegistryProject.credit_code, signed_in)
        )
    ).scalar_one()
    # 已登录建筑单位数量: enterprises that have signed in at least once (not those an admin created)
    logged_in = db.session.execute(
        scoped_select(Enterprise, user, func.count(Enterprise.id)).where(signed_in)
    ).scalar_one()
    insured = db.session.execute(
        scoped_select(Project, user, func.count(Project.id)).where(Project.insurance_status == INSURED)
    ).scalar_one()
    # 承保比例's numerator comes from its denominator's set: registry projects with an insured project
    insured_project = exists().where(
        Project.project_code == RegistryProject.project_code, Project.insurance_status == INSURED
    )
    in_registry = exists().where(RegistryProject.project_code == Project.project_code, valid)
    claims, settled = db.session.execute(
        scoped_select(Claim, user, func.count(Claim.id), _sum(Claim.settled_amount))
    ).one()

    registry_by_city = _by_city(
        scoped_select(
            RegistryProject,
            user,
            city_of(RegistryProject.region_code),
            func.count(RegistryProject.id),
            _count_if(insured_project),
        )
        .where(valid)
        .group_by(city_of(RegistryProject.region_code))
    )
    outside_by_city = _by_city(
        scoped_select(Project, user, city_of(Project.region_code), func.count(Project.id))
        .where(Project.insurance_status == INSURED, ~in_registry)
        .group_by(city_of(Project.region_code))
    )
    claims_by_city = _by_city(
        scoped_select(
            Claim, user, city_of(Claim.region_code), func.count(Claim.id), _sum(Claim.settled_amount)
        ).group_by(city_of(Claim.region_code))
    )
    cities = []
    for code, name in _cities_in_scope(user):
        key = code[:4]
        city_total, city_insured = registry_by_city.get(key, (0, 0))
        city_outside = outside_by_city.get(key, (0,))[0]
        city_claims, city_settled = claims_by_city.get(key, (0, 0))
        cities.append(
            {
                "code": code,
                "name": name,
                "projects": int(city_total),
                "insured": int(city_insured),
                "insured_ratio": ratio(city_insured, city_total),
                "insured_outside_registry": int(city_outside),
                "claims": int(city_claims),
                "settled": money(city_settled),
            }
        )

    categories = db.session.execute(
        scoped_select(
            Hazard, user, HazardCategory.name, func.count(Hazard.id), _count_if(Hazard.status == HazardStatus.PASSED)
        )
        .join(HazardCategory, HazardCategory.id == Hazard.category_id)
        .group_by(HazardCategory.code, HazardCategory.name)
        .order_by(HazardCategory.code)
    ).all()
    insured_in_registry = sum(int(v[1]) for v in registry_by_city.values())
    hazards_found = sum(int(c[1]) for c in categories)
    hazards_rectified = sum(int(c[2]) for c in categories)
    return {
        "project_total": int(registry_total),
        "registry_enterprises": int(registry_enterprises),
        "registered_enterprises": int(registered),
        "logged_in_enterprises": int(logged_in),
        "registration_ratio": ratio(registered, registry_enterprises),
        "insured_projects": int(insured),
        "insured_in_registry": insured_in_registry,
        "insured_outside_registry": sum(int(v[0]) for v in outside_by_city.values()),
        "insured_ratio": ratio(insured_in_registry, registry_total),
        "claims": int(claims),
        "settled": money(settled),
        "cities": cities,
        "hazard_categories": [
            {"name": name, "found": int(found), "rectified": int(done), "rate": ratio(done, found)}
            for name, found, done in categories
        ],
        "hazards_found": hazards_found,
        "hazards_rectified": hazards_rectified,
        "rectify_rate": ratio(hazards_rectified, hazards_found),
    }
