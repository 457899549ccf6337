"""统计报告 and 数据大屏 against a hand-computed fixture (tests/factories/departments.py).

Every expected number below is worked out by hand from the rows that fixture builds.
"""

import io
from datetime import date, datetime
from decimal import Decimal as D

import pytest
from factories.departments import add_order, world  # noqa: F401  (world: the module-scoped fixture)
from openpyxl import load_workbook
from sqlalchemy import select, update

from app.extensions import db
from app.models import AppUser, Hazard, Policy
from app.reference import data as reference_data
from app.services import statistics
from app.services.statistics import Period

MARCH_2031 = date(2031, 3, 1)


@pytest.fixture
def mohe(app, world):
    with app.test_request_context():
        yield db.session.get(AppUser, world["user_id"])


def _row(report, name):
    return next(r for r in report.rows if r.name == name)


def test_periods():
    periods = statistics.report_periods(date(2031, 3, 1))
    assert periods["cumulative"] == Period(date(2031, 1, 1), date(2031, 3, 31))
    assert periods["month"] == Period(date(2031, 3, 1), date(2031, 3, 31))
    assert periods["cumulative"].previous_year() == Period(date(2030, 1, 1), date(2030, 3, 31))
    feb = statistics.report_periods(date(2028, 2, 1))["month"]
    assert feb.end == date(2028, 2, 29) and feb.previous_year().end == date(2027, 2, 28)
    leap = statistics.report_periods(date(2024, 2, 1), today=date(2026, 1, 1))["month"]
    assert leap.previous_year() == Period(date(2023, 2, 1), date(2023, 2, 28))
    assert statistics.parse_month("2025-01") == date(2025, 1, 1)
    assert statistics.parse_month("2025-01-15") == date(2025, 1, 1)  # a day given too: its month
    assert statistics.parse_month("rubbish", today=date(2026, 5, 17)) == date(2026, 5, 1)


def test_a_month_closes_after_its_last_day():
    assert statistics.is_closed(date(2026, 11, 1), today=date(2026, 12, 3))
    assert statistics.is_closed(date(2026, 11, 1), today=date(2026, 12, 1))
    assert not statistics.is_closed(date(2026, 11, 1), today=date(2026, 11, 30))  # its last day: still open
    assert not statistics.is_closed(date(2026, 12, 1), today=date(2026, 12, 3))


def test_only_the_current_month_ends_today():
    past = statistics.report_periods(date(2031, 3, 1), today=date(2031, 5, 10))
    assert past["cumulative"] == Period(date(2031, 1, 1), date(2031, 3, 31))
    assert past["month"] == Period(date(2031, 3, 1), date(2031, 3, 31))
    current = statistics.report_periods(date(2031, 5, 1), today=date(2031, 5, 10))
    assert current["cumulative"] == Period(date(2031, 1, 1), date(2031, 5, 10))
    assert current["month"] == Period(date(2031, 5, 1), date(2031, 5, 10))


def test_a_period_of_times_holds_its_whole_last_day(mohe):
    """Orders are dated by their dispatch time: order 1 was dispatched on 12 March 2031 at 09:00."""
    to_the_12th = statistics.company_report("prevention", mohe, Period(date(2031, 3, 1), date(2031, 3, 12)))
    assert to_the_12th.total.figures["orders"][0] == 1
    to_the_11th = statistics.company_report("prevention", mohe, Period(date(2031, 3, 1), date(2031, 3, 11)))
    assert to_the_11th.total.figures["orders"][0] == 0


def test_a_period_of_times_starts_and_ends_at_midnight(mohe):
    """Orders dispatched at 00:00:00 on 1 June and on 1 July 2031: June holds the first alone."""
    policy = db.session.execute(select(Policy).filter_by(policy_no="STAT-PN-A")).scalar_one()
    add_order("JUNE", policy, datetime(2031, 6, 1, 0, 0), "completed", D("100"))
    add_order("JULY", policy, datetime(2031, 7, 1, 0, 0), "completed", D("100"))
    june = statistics.company_report("prevention", mohe, Period(date(2031, 6, 1), date(2031, 6, 30)))
    assert june.total.figures["orders"][0] == 1


def test_detail_rows_name_each_row_once_whatever_its_insurer(mohe):
    """Rows of 平安 (a later company than 人保) beside 人保's: each once, with its own insurer."""
    april = statistics.report_periods(date(2031, 4, 1), today=date(2031, 5, 1))["cumulative"]
    _headers, stmt, _labels = statistics.detail_rows("insurance", mohe, april)
    assert [(r[0], r[5]) for r in db.session.execute(stmt)] == [
        ("STAT-PN-B", "人保财险"),
        ("STAT-PN-A", "人保财险"),
        ("STAT-PN-E", "平安财险"),
    ]
    march_2030 = statistics.report_periods(date(2030, 3, 1), today=date(2031, 5, 1))["month"]
    _headers, stmt, _labels = statistics.detail_rows("prevention", mohe, march_2030)
    assert [(r[0], r[4]) for r in db.session.execute(stmt)] == [("STAT-O-4", "平安财险")]
    _headers, stmt, _labels = statistics.detail_rows("claims", mohe, march_2030)
    assert [(r[0], r[4]) for r in db.session.execute(stmt)] == [("STAT-PN-C", "平安财险")]


def test_only_a_completed_order_counts_as_completed(mohe):
    """An order 已接单 ('accepted', which sorts before 'completed') in May 2031, the only one then."""
    policy = db.session.execute(select(Policy).filter_by(policy_no="STAT-PN-A")).scalar_one()
    add_order("MAY", policy, datetime(2031, 5, 6, 9), "accepted", D("300"))
    report = statistics.company_report("prevention", mohe, statistics.report_periods(date(2031, 5, 1))["month"])
    assert report.total.figures["orders"][0] == 1
    assert report.total.figures["completed"][0] == 0
    assert report.total.figures["fee_spent"][0] == D("300.00")


def test_companies_in_login_order(mohe):
    report = statistics.company_report("insurance", mohe, statistics.report_periods(MARCH_2031)["cumulative"])
    expected = [short for short, _name in reference_data.INSURERS] + [short for short, _n in reference_data.BROKERS]
    assert [r.name for r in report.rows] == expected
    assert [r.seq for r in report.rows] == list(range(1, 27))
    assert report.total.name == "合计"
    assert report.title == "截止2031年03月31日数据"


def test_insurance_report_cumulative(mohe):
    report = statistics.company_report("insurance", mohe, statistics.report_periods(MARCH_2031)["cumulative"])
    picc, pingan, kunlun = _row(report, "人保财险"), _row(report, "平安财险"), _row(report, "昆仑保险经纪")
    # 2031-01-01..03-31: A (PICC via 昆仑, 10000), B (PICC, 5000); E is April, F surrendered, H Harbin.
    # 2030-01-01..03-31: C (平安, 20000), D (PICC, 3000).
    assert picc.figures["policies"] == (2, 1, 1)
    assert picc.figures["premium"] == (D("15000.00"), D("3000.00"), D("12000.00"))
    assert picc.figures["policy_share"] == (D("1.0000"), D("0.5000"), D("0.5000"))
    assert picc.figures["premium_share"] == (D("1.0000"), D("0.1304"), D("0.8696"))
    assert picc.figures["prevention_fund"] == (D("3150.00"), D("630.00"), D("2520.00"))
    # spent: orders 1 (1200) and 2 (800); order 3 was refused; previous year order 4 is 平安's
    assert picc.figures["prevention_spent"] == (D("2000.00"), D("0.00"), D("2000.00"))
    assert pingan.figures["policies"] == (0, 1, -1)
    assert pingan.figures["premium"] == (D("0.00"), D("20000.00"), D("-20000.00"))
    assert pingan.figures["premium_share"] == (D("0.0000"), D("0.8696"), D("-0.8696"))
    assert pingan.figures["prevention_fund"] == (D("0.00"), D("4200.00"), D("-4200.00"))
    assert pingan.figures["prevention_spent"] == (D("0.00"), D("600.00"), D("-600.00"))
    assert kunlun.figures["policies"] == (1, 0, 1)
    assert kunlun.figures["policy_share"] == (D("0.5000"), D("0.0000"), D("0.5000"))
    assert kunlun.figures["premium_share"] == (D("0.6667"), D("0.0000"), D("0.6667"))
    assert kunlun.figures["prevention_fund"] == (D("2100.00"), D("0.00"), D("2100.00"))
    assert kunlun.figures["prevention_spent"] == (D("1200.00"), D("0.00"), D("1200.00"))
    total = report.total.figures
    assert total["policies"] == (2, 2, 0)
    assert total["premium"] == (D("15000.00"), D("23000.00"), D("-8000.00"))
    assert total["prevention_fund"] == (D("3150.00"), D("4830.00"), D("-1680.00"))
    assert total["prevention_spent"] == (D("2000.00"), D("600.00"), D("1400.00"))
    assert total["policy_share"][0] == D("1.0000")
    others = [r for r in report.rows if r.name not in ("人保财险", "平安财险", "昆仑保险经纪")]
    assert all(r.figures["policies"] == (0, 0, 0) for r in others)
    # a company without a row has every share 0, not -0 (shown as -0.00 %)
    assert all(not v.is_signed() for r in others for v in r.figures["policy_share"] + r.figures["premium_share"])


def test_insurance_report_month(mohe):
    report = statistics.company_report("insurance", mohe, statistics.report_periods(MARCH_2031)["month"])
    # March 2031: A only; March 2030: C only.
    assert _row(report, "人保财险").figures["premium"] == (D("10000.00"), D("0.00"), D("10000.00"))
    assert _row(report, "平安财险").figures["policies"] == (0, 1, -1)
    assert report.total.figures["premium"] == (D("10000.00"), D("20000.00"), D("-10000.00"))
    assert report.title == "截止2031年03月31日数据"


def test_prevention_report(mohe):
    report = statistics.company_report("prevention", mohe, statistics.report_periods(MARCH_2031)["cumulative"])
    picc, pingan, kunlun = _row(report, "人保财险"), _row(report, "平安财险"), _row(report, "昆仑保险经纪")
    # 2031: orders 1 (A, completed, 1200), 2 (B, in service, 800), 3 (A, refused, 500 not spent);
    # hazards: order 1 general passed + major open, order 2 general passed.
    assert picc.figures["orders"] == (3, 0, 3)
    assert picc.figures["completed"] == (1, 0, 1)
    assert picc.figures["hazards_general"] == (2, 0, 2)
    assert picc.figures["hazards_major"] == (1, 0, 1)
    assert picc.figures["rectified"] == (2, 0, 2)
    assert picc.figures["rectify_rate"] == (D("0.6667"), D("0.0000"), D("0.6667"))
    assert picc.figures["fee_spent"] == (D("2000.00"), D("0.00"), D("2000.00"))
    assert kunlun.figures["orders"] == (2, 0, 2)
    assert kunlun.figures["rectify_rate"][0] == D("0.5000")
    assert kunlun.figures["fee_spent"][0] == D("1200.00")
    # 2030: order 4 (C, 平安, completed, 600) with one general hazard, rectified.
    assert pingan.figures["orders"] == (0, 1, -1)
    assert pingan.figures["rectify_rate"] == (D("0.0000"), D("1.0000"), D("-1.0000"))
    total = report.total.figures
    assert total["orders"] == (3, 1, 2)
    assert total["hazards_general"] == (2, 1, 1)
    assert total["hazards_major"] == (1, 0, 1)  # 平安's 2030 row has hazards, none major: it adds 0
    assert total["rectified"] == (2, 1, 1)
    assert total["fee_spent"] == (D("2000.00"), D("600.00"), D("1400.00"))


def test_claims_report(mohe):
    report = statistics.company_report("claims", mohe, statistics.report_periods(MARCH_2031)["cumulative"])
    picc, pingan, kunlun = _row(report, "人保财险"), _row(report, "平安财险"), _row(report, "昆仑保险经纪")
    assert picc.figures["claims"] == (2, 0, 2)
    assert picc.figures["injured"] == (2, 0, 2)
    assert picc.figures["deaths"] == (1, 0, 1)
    assert picc.figures["estimated"] == (D("450000.00"), D("0.00"), D("450000.00"))
    assert picc.figures["settled"] == (D("30000.00"), D("0.00"), D("30000.00"))
    assert kunlun.figures["claims"] == (1, 0, 1)
    assert kunlun.figures["estimated"][0] == D("50000.00")
    assert pingan.figures["settled"] == (D("0.00"), D("8000.00"), D("-8000.00"))
    total = report.total.figures
    assert total["claims"] == (2, 1, 1)
    assert total["injured"] == (2, 1, 1)
    assert total["settled"] == (D("30000.00"), D("8000.00"), D("22000.00"))


def test_a_company_with_spending_but_no_new_policy_counts_none(mohe):
    # February 2031: PICC starts no policy (F is surrendered) but order 2 (B, 800) was dispatched then;
    # February 2030: D (PICC, 3000).
    report = statistics.company_report("insurance", mohe, statistics.report_periods(date(2031, 2, 1))["month"])
    picc = _row(report, "人保财险")
    assert picc.figures["policies"] == (0, 1, -1)
    assert picc.figures["policy_share"] == (D("0.0000"), D("1.0000"), D("-1.0000"))
    assert picc.figures["prevention_spent"] == (D("800.00"), D("0.00"), D("800.00"))
    assert report.total.figures["policies"] == (0, 1, -1)


def test_changes_keep_each_figures_kind(mohe):
    """A count's change is a whole number and a money change has two places: the page and the workbook
    format each cell by its type, so ``-1`` must not arrive as ``Decimal('-1.00')``."""
    report = statistics.company_report("insurance", mohe, statistics.report_periods(MARCH_2031)["cumulative"])
    pingan = _row(report, "平安财险")
    change = pingan.figures["policies"][2]
    assert type(change) is int and change == -1
    premium = pingan.figures["premium"][2]
    assert premium == D("-20000.00") and premium.as_tuple().exponent == -2
    share = pingan.figures["premium_share"][2]
    assert share == D("-0.8696") and share.as_tuple().exponent == -4
    for report_type, counts, amounts in (
        ("prevention", ("orders", "completed", "hazards_general", "hazards_major", "rectified"), ("fee_spent",)),
        ("claims", ("claims", "injured", "deaths"), ("estimated", "settled")),
    ):
        period = statistics.report_periods(MARCH_2031)["cumulative"]
        picc = _row(statistics.company_report(report_type, mohe, period), "人保财险")
        for key in counts:
            assert all(type(v) is int for v in picc.figures[key]), (report_type, key)
        for key in amounts:
            assert all(v.as_tuple().exponent == -2 for v in picc.figures[key]), (report_type, key)


@pytest.mark.parametrize("report_type", ["insurance", "prevention", "claims"])
def test_month_without_data_gives_zeros(mohe, report_type):
    report = statistics.company_report(report_type, mohe, statistics.report_periods(date(2035, 6, 1))["cumulative"])
    assert len(report.rows) == 26
    for row in report.rows + [report.total]:
        assert all(value == 0 for triple in row.figures.values() for value in triple)


def test_dashboard_figures(mohe):
    fig = statistics.dashboard(mohe)
    # registry (valid): R1, R2 (enterprise E), R3 (other), R5 (third); R4 invalid; RH is Harbin's
    assert fig["project_total"] == 4
    assert fig["registry_enterprises"] == 3
    assert fig["registered_enterprises"] == 1
    assert fig["registration_ratio"] == D("0.3333")
    assert fig["logged_in_enterprises"] == 1
    # insured projects: A, B, E (C, D expired, F surrendered)
    assert fig["insured_projects"] == 3
    assert fig["insured_ratio"] == D("0.7500")
    assert fig["claims"] == 3
    assert fig["settled"] == D("38000.00")
    assert fig["cities"] == [
        {
            "code": "232700",
            "name": "大兴安岭地区",
            "projects": 4,
            "insured": 3,
            "insured_ratio": D("0.7500"),
            "insured_outside_registry": 0,
            "claims": 3,
            "settled": D("38000.00"),
        }
    ]
    assert fig["hazard_categories"] == [
        {"name": "触电", "found": 1, "rectified": 0, "rate": D("0.0000")},
        {"name": "高处坠落", "found": 2, "rectified": 2, "rate": D("1.0000")},
        {"name": "坍塌", "found": 1, "rectified": 1, "rate": D("1.0000")},
    ]
    assert (fig["hazards_found"], fig["hazards_rectified"], fig["rectify_rate"]) == (4, 3, D("0.7500"))


@pytest.mark.parametrize("status", ["submitted", "returned"])
def test_dashboard_counts_only_accepted_hazards_as_rectified(mohe, status):
    """待验收 and 验收不合格 sort on either side of 验收合格 ('passed'): neither is rectified."""
    from app.services import figures_cache

    db.session.execute(update(Hazard).where(Hazard.status == "open").values(status=status))
    figures_cache.clear()
    fig = statistics.dashboard(mohe)
    assert [(c["name"], c["found"], c["rectified"]) for c in fig["hazard_categories"]] == [
        ("触电", 1, 0),
        ("高处坠落", 2, 2),
        ("坍塌", 1, 1),
    ]
    figures_cache.clear()


@pytest.mark.parametrize("status", ["submitted", "returned"])
def test_reports_count_only_accepted_hazards_as_rectified(mohe, status):
    """Order 1's open major hazard as 待验收 or 验收不合格 (either side of 'passed'): not rectified, in the
    事故预防 report and in its 项目明细 rows alike."""
    db.session.execute(update(Hazard).where(Hazard.status == "open").values(status=status))
    period = statistics.report_periods(MARCH_2031)["cumulative"]
    report = statistics.company_report("prevention", mohe, period)
    assert _row(report, "人保财险").figures["rectified"] == (2, 0, 2)
    _headers, stmt, _labels = statistics.detail_rows("prevention", mohe, period)
    by_order = {r[0]: tuple(r[8:11]) for r in db.session.execute(stmt)}
    assert by_order == {"STAT-O-1": (2, 1, 1), "STAT-O-2": (1, 0, 1), "STAT-O-3": (0, 0, 0)}


def test_dashboard_by_city_for_the_province(app, world):
    with app.test_request_context():
        province = db.session.query(AppUser).filter_by(username="dept_province").one()
        harbin = db.session.query(AppUser).filter_by(username="dept_harbin").one()
        fig = statistics.dashboard(province)
        assert [c["code"] for c in fig["cities"]] == list(reference_data.CITY_CODES)
        dxal = next(c for c in fig["cities"] if c["code"] == "232700")
        assert dxal["projects"] >= 4 and dxal["claims"] >= 3
        assert [c["code"] for c in statistics.dashboard(harbin)["cities"]] == ["230100"]


def test_harbin_sees_none_of_mohe(app, world):
    with app.test_request_context():
        harbin = db.session.query(AppUser).filter_by(username="dept_harbin").one()
        period = statistics.report_periods(MARCH_2031)["cumulative"]
        report = statistics.company_report("insurance", harbin, period)
        # only H (PICC, 8888) is Harbin's in 2031
        assert report.total.figures["premium"][0] == D("8888.00")
        assert _row(report, "昆仑保险经纪").figures["policies"][0] == 0
        claims = statistics.company_report("claims", harbin, period)
        assert claims.total.figures["claims"][0] == 1
        _headers, stmt, _labels = statistics.detail_rows("insurance", harbin, period)
        assert [r[0] for r in db.session.execute(stmt)] == ["STAT-PN-H"]


def _sheet_rows(ws):
    return [list(r) for r in ws.iter_rows(values_only=True)]


def fetch_workbook(client, url):
    """The workbook an 导出 leads to: a closed month's straight from the store, otherwise through its
    job (tests run jobs at once): the job page, its status, its download."""
    from factories.jobs import follow_job

    return follow_job(client, client.get(url))


def test_statistics_page_and_workbook(as_user, world):
    client = as_user("dept_mohe_stats")
    page = client.get("/statistics/?type=insurance&month=2031-03")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "截止2031年03月31日数据" in html and "人保财险" in html and "合计" in html
    assert "15,000.00" in html and "3,150.00" in html

    response = fetch_workbook(client, "/statistics/export/?type=insurance&month=2031-03")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(response.data))
    assert wb.sheetnames == ["截止本月累计", "本月", "项目明细"]
    rows = _sheet_rows(wb["截止本月累计"])
    assert rows[0][0].startswith("截止2031年03月31日数据")
    assert rows[3][2:4] == ["保单数", None]  # merged over its three columns
    assert rows[4][:5] == ["序号", "保险机构", "本期", "去年同期", "增减"]
    picc = next(r for r in rows if r[1] == "人保财险")
    assert picc[:5] == [1, "人保财险", 2, 1, 1]
    assert picc[8:11] == [15000, 3000, 12000]
    total = next(r for r in rows if r[1] == "合计")
    assert total[2:5] == [2, 2, 0] and total[8:11] == [15000, 23000, -8000]
    assert total[14:17] == [3150, 4830, -1680]
    names = [r[1] for r in rows[5:31]]
    assert names[0] == "人保财险" and names[21] == "昆仑保险经纪" and len(names) == 26
    month = _sheet_rows(wb["本月"])
    assert next(r for r in month if r[1] == "合计")[8:11] == [10000, 20000, -10000]
    detail = _sheet_rows(wb["项目明细"])
    assert detail[3][0] == "保单号"
    assert sorted(r[0] for r in detail[4:]) == ["STAT-PN-A", "STAT-PN-B"]
    assert {r[10] for r in detail[4:]} == {"已投保"}


# The 项目明细 sheet of March 2031 (截止: January to March), by hand from tests/factories/departments.py:
# orders by dispatch time, with their hazards (order 1: a general one rectified, a major one open; order 2:
# a general one rectified; order 3, refused: none) and statuses by their labels; claims by 提交日期.
_A = ["统计测试项目A", "STAT-A", "232701", "人保财险", "昆仑保险经纪"]  # project, code, county, insurer, broker
_B = ["统计测试项目B", "STAT-B", "232701", "人保财险", None]
DETAIL_ROWS = {
    "prevention": [
        ["STAT-O-2", *_B, datetime(2031, 2, 1), "服务中", 1, 0, 1, 800],
        ["STAT-O-1", *_A, datetime(2031, 3, 12), "已完成", 2, 1, 1, 1200],
        ["STAT-O-3", *_A, datetime(2031, 3, 20), "被拒回", 0, 0, 0, 500],
    ],
    "claims": [
        ["STAT-PN-B", *_B, datetime(2031, 1, 20), 0, 1, 400000, None, None, None],
        ["STAT-PN-A", *_A, datetime(2031, 3, 15), 2, 0, 50000, None, 30000, None],
    ],
}


@pytest.mark.parametrize(
    "report_type,detail", [("prevention", ["STAT-O-1", "STAT-O-2", "STAT-O-3"]), ("claims", ["STAT-PN-A", "STAT-PN-B"])]
)
def test_other_workbooks(as_user, world, report_type, detail):
    client = as_user("dept_mohe_stats")
    response = fetch_workbook(client, f"/statistics/export/?type={report_type}&month=2031-03")
    wb = load_workbook(io.BytesIO(response.data))
    rows = _sheet_rows(wb["项目明细"])
    assert sorted(r[0] for r in rows[4:]) == detail
    assert rows[4:] == DETAIL_ROWS[report_type]
    total = next(r for r in _sheet_rows(wb["截止本月累计"]) if r[1] == "合计")
    assert total[2:5] == ([3, 1, 2] if report_type == "prevention" else [2, 1, 1])


def test_empty_month_workbook(as_user, world):
    response = fetch_workbook(as_user("dept_mohe_stats"), "/statistics/export/?type=claims&month=2035-06")
    wb = load_workbook(io.BytesIO(response.data))
    rows = _sheet_rows(wb["截止本月累计"])
    assert rows[0][0].startswith("截止2035年06月30日数据")
    total = next(r for r in rows if r[1] == "合计")
    assert all(v == 0 for v in total[2:])
    assert len(_sheet_rows(wb["项目明细"])) == 4  # title, period, made for, header


def test_dashboard_page_and_data(as_user, world):
    client = as_user("dept_mohe_stats")
    html = client.get("/dashboard/").get_data(as_text=True)
    assert "vendor/echarts/echarts.min.js" in html and "heilongjiang.json" in html
    assert "http://" not in html.replace("http://localhost", "") and "https://" not in html
    data = client.get("/dashboard/data").get_json()
    assert data["project_total"] == 4 and data["insured_ratio"] == 0.75
    assert data["cities"][0]["code"] == "232700"
    assert "住建厅项目表导入" not in html


def test_vendored_echarts_is_served(client):
    js = client.get("/static/vendor/echarts/echarts.min.js")
    assert js.status_code == 200 and b"registerMap" in js.data
    geo = client.get("/static/vendor/echarts/heilongjiang.json").get_json()
    assert sorted(f["id"] for f in geo["features"]) == sorted(reference_data.CITY_CODES)


def test_statistics_need_the_permission(as_user):
    for username in ("enterprise_demo", "insurer_picc"):
        client = as_user(username)
        for url in ("/statistics/", "/statistics/export/?type=insurance", "/dashboard/data"):
            assert client.get(url).status_code in (302, 403)


@pytest.mark.parametrize("report_type", ["insurance", "prevention", "claims"])
def test_reports_are_aggregates_not_row_loops(app, mohe, report_type):
    """The number of queries does not depend on the number of rows: a busy month and an empty one
    cost the same."""
    from sqlalchemy import event

    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine
    statistics.dashboard(mohe)  # the user's party is looked up once per request
    event.listen(engine, "before_cursor_execute", count)
    try:
        statistics.company_report(report_type, mohe, statistics.report_periods(MARCH_2031)["cumulative"])
        busy = len(statements)
        statements.clear()
        statistics.company_report(report_type, mohe, statistics.report_periods(date(2035, 6, 1))["cumulative"])
        empty = len(statements)
        statements.clear()
        statistics.dashboard(mohe)
        dashboard = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert busy == empty <= 16
    assert dashboard <= 12
