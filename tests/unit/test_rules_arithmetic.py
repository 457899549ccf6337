"""The money and ratio rules as plain arithmetic (no app, no database): every expected value below is
worked out by hand.

- 保费 = 投资规模(万元) × 10000 × 费率 × (1 + 浮动比例), at least the plan's 最低保费, rounded half up to 分;
- 事故预防费 = 保费 × the configured share, to 分;
- 占比 / 承保比例 = part ÷ whole to four decimals, 0 when the whole is 0; money to 分;
- report periods: 1 January to the month's end, the month alone, the same days a year before;
- the services' errors carry their HTTP status; an edit form's version is checked as text.
"""

from datetime import date
from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from app.services import base, orders, policies, settings, statistics
from app.services.policies import premium_for

PLAN = SimpleNamespace(rate=D("0.0012"), min_premium=D("500"))


@pytest.mark.parametrize(
    "investment,plan,ratio,premium",
    [
        (1000, PLAN, 0, D("12000.00")),  # 1000 × 10000 × 0.0012
        ("1000", PLAN, D("0.3"), D("15600.00")),  # × 1.3
        (1000, PLAN, D("-0.1"), D("10800.00")),  # a discount
        (1000, PLAN, None, D("12000.00")),  # no floating rule
        (1, PLAN, 0, D("500.00")),  # 12 元 < the minimum
        (D("41.6"), PLAN, 0, D("500.00")),  # 499.20 < 500
        (D("41.7"), PLAN, 0, D("500.40")),  # just above
        (None, PLAN, 0, D("500.00")),  # no investment: the minimum
        (None, SimpleNamespace(rate=D("0.0012"), min_premium=0), 0, D("0.00")),  # no investment, no minimum
        (D("0.0125"), SimpleNamespace(rate=D("0.001"), min_premium=None), 0, D("0.13")),  # 0.125 half up
        (D("0.0125"), SimpleNamespace(rate=D("0.001"), min_premium=0), D("-0.1"), D("0.11")),  # 0.1125
        (D("12.3456"), SimpleNamespace(rate=D("0.0015"), min_premium=0), D("0.25"), D("231.48")),  # 231.48
    ],
)
def test_premium(investment, plan, ratio, premium):
    assert premium_for(investment, plan, ratio) == premium
    assert premium_for(investment, plan, ratio).as_tuple().exponent == -2


@pytest.mark.parametrize(
    "premium,share,fund",
    [
        (D("12000.00"), D("0.21"), D("2520.00")),
        (D("12345.67"), D("0.21"), D("2592.59")),  # 2592.5907
        (D("999.99"), D("0.2"), D("200.00")),  # 199.998
        (None, D("0.21"), D("0.00")),
        (0, D("0.21"), D("0.00")),
    ],
)
def test_prevention_fund(monkeypatch, premium, share, fund):
    monkeypatch.setattr(orders, "fee_share", lambda: share)
    assert orders.prevention_fund(SimpleNamespace(premium=premium)) == fund


# Each 参数 as the manual seeds it; a missing, empty or unreadable row reads as this.
SEEDED = {"prevention_fee_share": D("0.21"), "premium_tolerance": D("0.10"), "order_accept_days": 7}
READERS = {
    "prevention_fee_share": lambda: orders.fee_share(),
    "premium_tolerance": lambda: policies.premium_tolerance(),
    "order_accept_days": lambda: orders.accept_days(),
}


@pytest.mark.parametrize("key", sorted(READERS))
@pytest.mark.parametrize(
    "stored,value",
    [("0.3", D("0.3")), (" 0.05 ", D("0.05")), ("12", 12), (None, None), ("", None), ("三成", None), ("NaN", None)],
)
def test_settings_read_as_stored_else_as_seeded(monkeypatch, key, stored, value):
    monkeypatch.setattr(settings, "stored", lambda name: stored if name == key else pytest.fail(name))
    integer = isinstance(SEEDED[key], int)
    if integer and isinstance(value, D):  # a fraction is no number of days
        value = None
    elif not integer and isinstance(value, int):
        value = D(value)
    assert READERS[key]() == (SEEDED[key] if value is None else value)


@pytest.mark.parametrize("stored,days", [("30", 30), ("0", 0), (None, 90), ("九十", 90)])
def test_password_lifetime_setting(monkeypatch, stored, days):
    from app.security import passwords

    monkeypatch.setattr(passwords, "_max_age_cache", {"value": None, "at": 0.0})
    monkeypatch.setattr(settings, "stored", lambda name: stored if name == "password_max_age_days" else pytest.fail())
    assert passwords.max_age_days() == days


def test_a_negative_number_of_days_to_accept_is_none(monkeypatch):
    monkeypatch.setattr(settings, "stored", lambda name: "-3")
    assert orders.accept_days() == 0


@pytest.mark.parametrize(
    "part,whole,value",
    [
        (1, 4, D("0.2500")),
        (2, 3, D("0.6667")),
        (1, 6, D("0.1667")),
        (3, 3, D("1.0000")),
        (0, 5, D("0.0000")),
        (5, 0, D("0.0000")),
        (5, None, D("0.0000")),
        (D("8888.00"), D("30000.00"), D("0.2963")),
    ],
)
def test_ratio(part, whole, value):
    assert statistics.ratio(part, whole) == value
    assert statistics.ratio(part, whole).as_tuple().exponent == -4


@pytest.mark.parametrize(
    "value,money", [(None, D("0.00")), (0, D("0.00")), (D("12.345"), D("12.34")), ("7", D("7.00")), (1.5, D("1.50"))]
)
def test_money(value, money):
    assert statistics.money(value) == money


def test_report_periods():
    periods = statistics.report_periods(date(2031, 3, 1))
    assert (periods["cumulative"].start, periods["cumulative"].end) == (date(2031, 1, 1), date(2031, 3, 31))
    assert (periods["month"].start, periods["month"].end) == (date(2031, 3, 1), date(2031, 3, 31))
    leap = statistics.report_periods(date(2028, 2, 1))["month"]
    assert (leap.start, leap.end) == (date(2028, 2, 1), date(2028, 2, 29))
    before = leap.previous_year()
    assert (before.start, before.end) == (date(2027, 2, 1), date(2027, 2, 28))  # 29 February falls back
    assert statistics.month_end(date(2031, 12, 5)) == date(2031, 12, 31)


@pytest.mark.parametrize(
    "text,month",
    [
        ("2025-01", date(2025, 1, 1)),
        ("2031-12-09", date(2031, 12, 1)),
        ("", date(2026, 5, 1)),
        (None, date(2026, 5, 1)),
    ],
)
def test_parse_month(text, month):
    assert statistics.parse_month(text, today=date(2026, 5, 20)) == month


def test_service_errors_carry_their_status():
    assert [e.status for e in (base.NotFound, base.Forbidden, base.Invalid, base.Conflict)] == [404, 403, 422, 409]
    assert base.ServiceError("x").status == 400  # any other refusal of a service: a bad request
    error = base.Invalid("请检查", errors={"name": ["必填"]})
    assert (str(error), error.message, error.errors) == ("请检查", "请检查", {"name": ["必填"]})
    assert base.Conflict("x").errors == {}


@pytest.mark.parametrize("submitted", [None, "", "  ", "3", " 3 ", 3])
def test_check_version_accepts_the_same_version_or_none(submitted):
    base.check_version(SimpleNamespace(version=3), submitted)


@pytest.mark.parametrize("submitted", ["2", "4", 2, "3a"])
def test_check_version_refuses_another_version(submitted):
    with pytest.raises(base.Conflict) as refused:
        base.check_version(SimpleNamespace(version=3), submitted)
    assert str(refused.value) == "该记录已被他人修改，请刷新后重试"
