"""Reference data loader against an in-memory SQLite database; no Flask app needed."""

from decimal import Decimal

import pytest
from flask_appbuilder import Model
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.orm import Session

import app.models  # noqa: F401  (registers every table on Model.metadata)
from app.models import (
    FloatRule,
    HazardCategory,
    InsuranceCompany,
    MajorHazardStandard,
    Plan,
    Region,
    ServiceItem,
    Setting,
    TitleLevel,
)
from app.reference import CITY_CODES, data, load_reference_data

ORDER = [
    "人保财险",
    "国寿财险",
    "太平财险",
    "中意财险",
    "英大财险",
    "太平洋财险",
    "阳光财险",
    "申能财险",
    "都邦财险",
    "平安财险",
    "中银财险",
    "中原农业财险",
    "华泰保险",
    "安华农业财险",
    "中华财险",
    "大家财险",
    "安盟保险",
    "大地财险",
    "阳光农业财险",
    "永诚财险",
    "华安财险",
    "昆仑保险经纪",
    "中汇保险经纪",
    "江泰保险经纪",
    "鲲鹏保险经纪",
    "合翔保险经纪",
]


@pytest.fixture()
def session():
    engine = create_engine("sqlite://")

    @event.listens_for(engine, "connect")
    def _fk_on(dbapi_conn, _record):
        dbapi_conn.execute("PRAGMA foreign_keys=ON")  # catches children inserted before parents

    Model.metadata.create_all(engine)
    with Session(engine) as s:
        yield s


@pytest.fixture()
def loaded(session):
    counts = load_reference_data(session)
    return session, counts


def count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_regions(loaded):
    s, counts = loaded
    assert counts["region"] == 135
    assert count(s, Region) == 135
    assert count(s, Region, Region.level == "province") == 1
    assert count(s, Region, Region.level == "city") == 13
    assert count(s, Region, Region.level == "county") == 121
    assert sorted(s.scalars(select(Region.code).where(Region.level == "city"))) == list(CITY_CODES)
    mohe = s.get(Region, "232701")
    assert mohe.name == "漠河市" and mohe.parent_code == "232700" and mohe.level == "county"
    assert mohe.full_name == "黑龙江省大兴安岭地区漠河市"
    assert s.get(Region, "230100").parent_code == "230000"
    # Every county hangs under an existing city.
    orphans = [
        r.code
        for r in s.scalars(select(Region).where(Region.level == "county"))
        if r.parent is None or r.parent.level != "city"
    ]
    assert orphans == []


def test_companies_in_login_order(loaded):
    s, _ = loaded
    companies = s.scalars(select(InsuranceCompany).order_by(InsuranceCompany.login_order)).all()
    assert [c.short_name for c in companies] == ORDER
    assert [c.login_order for c in companies] == list(range(1, 27))
    assert [c.kind for c in companies] == ["insurer"] * 21 + ["broker"] * 5
    assert companies[0].name == "中国人民财产保险股份有限公司黑龙江省分公司"
    assert companies[21].name == "昆仑保险经纪股份有限公司"


def test_partnerships(loaded):
    s, _ = loaded
    by_short = {c.short_name: c for c in s.scalars(select(InsuranceCompany))}
    kunlun = by_short["昆仑保险经纪"]
    partners = {c.short_name for c in kunlun.partner_insurers}
    assert {"人保财险", "国寿财险", "太平财险", "中意财险"} <= partners
    assert "平安财险" not in partners
    assert kunlun in by_short["人保财险"].partner_brokers
    for short, _name in data.BROKERS:
        broker = by_short[short]
        assert 3 <= len(broker.partner_insurers) <= 6
        assert all(p.kind == "insurer" for p in broker.partner_insurers)


def test_plans(loaded):
    s, _ = loaded
    plans = s.scalars(select(Plan).order_by(Plan.code)).all()
    assert [p.code for p in plans] == ["A", "B", "C"]
    for p in plans:
        assert p.death_limit >= 400000  # 应急〔2025〕27号 第十五条
        assert p.is_sample and "示例数值" in p.details
        assert 0 < p.rate < Decimal("0.01") and p.min_premium > 0
    assert plans[0].short_label == "A:100,10"
    assert plans[2].short_label == "C:50,6"


def test_lists(loaded):
    s, _ = loaded
    items = s.scalars(select(ServiceItem).order_by(ServiceItem.sort_order)).all()
    assert [i.code for i in items] == [f"S0{n}" for n in range(1, 8)]
    assert items[0].name == "安全生产和职业病防治宣传教育培训"
    assert items[-1].name == "其他有关事故预防工作"
    cats = s.scalars(select(HazardCategory).order_by(HazardCategory.code)).all()
    assert len(cats) == 20 and cats[0].name == "物体打击" and cats[8].name == "高处坠落"
    assert cats[-1].code == "20"
    titles = s.scalars(select(TitleLevel).order_by(TitleLevel.rank)).all()
    assert [t.code for t in titles] == ["junior", "intermediate", "senior", "principal"]
    assert [t.rank for t in titles] == [1, 2, 3, 4]


def test_major_hazard_standard_covers_every_area(loaded):
    s, _ = loaded
    areas = set(s.scalars(select(MajorHazardStandard.area).where(MajorHazardStandard.version == "建质规〔2024〕5号")))
    assert areas == {
        "施工安全管理",
        "基坑工程",
        "模板工程和支撑体系",
        "脚手架工程",
        "人工挖孔桩",
        "起重机械及吊装",
        "高处作业",
        "施工临时用电",
        "有限空间作业",
        "拆除工程",
        "暗挖工程",
        "其他",
    }


def _applicable(rules, deaths, injuries):
    met = [r for r in rules if deaths >= r.min_deaths and injuries >= r.min_injuries]
    return max(met, key=lambda r: r.sort_order)


def test_float_rules(loaded):
    s, _ = loaded
    rules = s.scalars(select(FloatRule)).all()
    assert all(r.is_sample for r in rules)
    assert _applicable(rules, 0, 0).ratio == 0
    assert _applicable(rules, 0, 2).ratio == Decimal("0.10")
    assert _applicable(rules, 1, 5).ratio == Decimal("0.20")
    assert _applicable(rules, 3, 0).ratio == Decimal("0.30")


def test_settings(loaded):
    s, _ = loaded
    values = {st.key: st.value for st in s.scalars(select(Setting))}
    assert Decimal(values["prevention_fee_share"]) == Decimal("0.21")
    assert Decimal(values["premium_tolerance"]) == Decimal("0.10")
    assert int(values["order_accept_days"]) == 7
    assert int(values["password_max_age_days"]) == 90
    assert all(st.description for st in s.scalars(select(Setting)))


def test_idempotent_and_keeps_admin_edits(loaded):
    s, first = loaded
    assert all(n > 0 for n in first.values())
    plan_a = s.scalar(select(Plan).where(Plan.code == "A"))
    plan_a.rate = Decimal("0.003")
    s.get(Setting, "prevention_fee_share").value = "0.20"
    kunlun = s.scalar(select(InsuranceCompany).where(InsuranceCompany.short_name == "昆仑保险经纪"))
    kunlun.partner_insurers = [p for p in kunlun.partner_insurers if p.short_name != "国寿财险"]
    s.get(Region, "230102").name = "道里区（已编辑）"
    s.commit()

    second = load_reference_data(s)
    assert set(second) == set(first)
    assert all(n == 0 for n in second.values()), second
    assert count(s, Region) == 135 and count(s, InsuranceCompany) == 26
    assert s.scalar(select(Plan.rate).where(Plan.code == "A")) == Decimal("0.003")
    assert s.get(Setting, "prevention_fee_share").value == "0.20"
    assert s.get(Region, "230102").name == "道里区（已编辑）"
    assert "国寿财险" not in {p.short_name for p in kunlun.partner_insurers}


def test_renamed_company_is_not_reinserted(loaded):
    s, _ = loaded
    s.scalar(select(InsuranceCompany).where(InsuranceCompany.short_name == "人保财险")).short_name = "人保"
    s.commit()
    assert load_reference_data(s)["insurance_company"] == 0


def test_city_codes_match_package():
    assert [c for c, _n, lvl, _p in data.heilongjiang_regions() if lvl == "city"] == list(CITY_CODES)
