"""Figures kept per scope (app/services/kept_figures.py), the 数据大屏's and an open month's 统计报告:
served from the kept row without touching the fact tables, refreshed through the task queue once
anything they count has changed, and always equal to the figures computed from the rows."""

import random
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from factories import insurance as f
from factories.queries import counting
from flask import g
from sqlalchemy import delete, select, update

from app import clock
from app.extensions import db
from app.models import AppUser, KeptFigures, Policy
from app.models.base import utcnow
from app.services import claims, kept_figures, policies, statistics, statistics_store


@pytest.fixture
def kept(app, db_session):
    """Figures kept (as configured outside the tests, where FIGURES_CACHE_SECONDS is 0), from none kept
    (the test's transaction is rolled back after it)."""
    db_session.execute(delete(KeptFigures))
    app.config["FIGURES_CACHE_SECONDS"] = 30
    yield app
    app.config["FIGURES_CACHE_SECONDS"] = 0


def _served(app, username):
    """The figures one request of ``username`` is served (a request of its own, as in production: the
    generation is read once per request, on the request's ``g``)."""
    with app.app_context(), app.test_request_context():
        user = db.session.execute(select(AppUser).filter_by(username=username)).scalar_one()
        g.user = user
        return statistics.dashboard(user)


def _from_rows(app, username):
    with app.app_context(), app.test_request_context():
        user = db.session.execute(select(AppUser).filter_by(username=username)).scalar_one()
        return statistics.dashboard_from_rows(user)


def _figures(served):
    return {k: v for k, v in served.items() if k != "as_of"}


def _insured_policies(insurer):
    return (
        db.session.execute(
            select(Policy.id)
            .where(Policy.insurer_id == insurer.company_id, Policy.status == "insured")
            .order_by(Policy.id)
        )
        .scalars()
        .all()
    )


def test_the_kept_figures_equal_the_rows_after_random_changes(kept, db_session):
    """A random sequence of changes the dashboard counts (new insured projects, claims with settled
    amounts, surrenders): after each, the next request of the province and of a city is served figures
    equal to those computed from the rows — the refresh ran through the queue (at once in the tests)."""
    app = kept
    picc = f.user("insurer_picc")
    rng = random.Random(20261203)
    for username in ("dept_province", "dept_harbin"):
        _served(app, username)  # the first request computes and keeps them
    assert {s.key for s in db.session.execute(select(KeptFigures)).scalars()} == {"dashboard|all", "dashboard|2301"}
    for step in range(8):
        action = rng.choice(["insure", "claim", "claim", "surrender"])
        if action == "insure":
            f.make_application(
                "insured", investment=str(rng.randint(100, 5000)), region=rng.choice(["230102", "230202"])
            )
        elif action == "claim":
            policy_id = rng.choice(_insured_policies(picc))
            claims.add_claim(
                policy_id,
                picc,
                dict(
                    injured_count=rng.randint(0, 3),
                    death_count=rng.randint(0, 1),
                    estimated_loss=str(rng.randint(1, 90000)),
                    settled_amount=str(rng.randint(0, 9000)),
                    settled_date=clock.today().isoformat(),
                    submitted_date=clock.today().isoformat(),
                ),
            )
        else:
            policies.surrender(rng.choice(_insured_policies(picc)), picc, f"第{step}次随机退保")
        for username in ("dept_province", "dept_harbin"):
            assert _figures(_served(app, username)) == _from_rows(app, username), (step, action, username)


def test_a_kept_scope_is_served_without_counting_a_row(kept, db_session):
    app = kept
    first = _served(app, "dept_province")
    with counting(app) as statements:
        again = _served(app, "dept_province")
    assert _figures(again) == _figures(first) and again["as_of"] == first["as_of"]
    # the user and its department (the page has both already), the generation, the snapshot
    assert len(statements) <= 4, "\n".join(statements)
    assert not [s for s in statements if "count(" in s.lower() or "GROUP BY" in s.upper()], statements


def test_many_requests_queue_one_refresh(kept, db_session, monkeypatch):
    app = kept
    _served(app, "dept_province")
    queued = []
    monkeypatch.setattr(kept_figures.refresh_figures, "enqueue", lambda *args: queued.append(args))
    stale = Decimal("0.1234")
    snap = db.session.get(KeptFigures, "dashboard|all")
    figures = kept_figures._load(snap.figures)
    figures["insured_ratio"] = stale  # what the figures were before the change below
    db.session.execute(
        update(KeptFigures)
        .where(KeptFigures.key == "dashboard|all")
        .values(figures=kept_figures._dump(figures), generation=kept_figures.FIGURES_VERSION + ":0,0,0")
    )
    for _ in range(5):
        served = _served(app, "dept_province")
        assert served["insured_ratio"] == stale  # the figures it has, while the refresh runs
    assert len(queued) == 1 and queued[0] == ("dashboard", [], "all", queued[0][3])
    # a refresh queued long ago and never finished (its worker died) is queued again, once
    lost_at = utcnow() - kept_figures.REFRESH_LOST_AFTER - timedelta(seconds=1)
    db.session.execute(update(KeptFigures).where(KeptFigures.key == "dashboard|all").values(refresh_queued_at=lost_at))
    _served(app, "dept_province")
    _served(app, "dept_province")
    assert len(queued) == 2
    # the refresh itself: the figures from the rows, the mark cleared
    kept_figures.refresh_figures(*queued[-1])
    db.session.expire_all()
    snap = db.session.get(KeptFigures, "dashboard|all")
    assert snap.refresh_queued_at is None and not snap.generation.endswith(":0,0,0")
    assert kept_figures._load(snap.figures) == _from_rows(app, "dept_province")


def test_a_refresh_for_an_account_that_left_the_scope_changes_nothing(kept, db_session):
    app = kept
    _served(app, "dept_harbin")
    db.session.execute(
        update(KeptFigures).where(KeptFigures.key == "dashboard|2301").values(refresh_queued_at=utcnow())
    )
    before = db.session.get(KeptFigures, "dashboard|2301").figures
    province = db.session.execute(select(AppUser).filter_by(username="dept_province")).scalar_one()
    kept_figures.refresh_figures("dashboard", [], "2301", province.id)  # the province's user: scope "all", not 2301
    db.session.expire_all()
    snap = db.session.get(KeptFigures, "dashboard|2301")
    assert snap.figures == before and snap.refresh_queued_at is None


def test_another_party_is_computed_not_kept(kept, db_session):
    app = kept
    with app.test_request_context():
        picc = f.user("insurer_picc")
        served = statistics.dashboard(picc)
    assert isinstance(served["as_of"], datetime) and "project_total" in served
    assert db.session.execute(select(KeptFigures)).first() is None


def test_the_page_and_the_data_say_when_the_figures_were_computed(kept, as_user):
    client = as_user("dept_province")
    html = client.get("/dashboard/").get_data(as_text=True)
    shown = re.search(r'id="dashboard-as-of">数据截至 (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)<', html)
    assert shown, html[:2000]
    data = client.get("/dashboard/data").get_json()
    as_of = datetime.fromisoformat(data["as_of"])
    assert clock.local(as_of).strftime("%Y-%m-%d %H:%M:%S") == shown.group(1)
    assert abs(clock.now() - as_of) < timedelta(minutes=5)


def test_with_the_queue_down_the_request_refreshes_them_itself(kept, db_session, monkeypatch):
    app = kept
    _served(app, "dept_province")
    stale = kept_figures.FIGURES_VERSION + ":0,0,0"
    db.session.execute(update(KeptFigures).where(KeptFigures.key == "dashboard|all").values(generation=stale))

    def down(*args):
        raise ConnectionError("Redis is not answering")

    monkeypatch.setattr(kept_figures.refresh_figures, "enqueue", down)
    f.make_application("insured", investment="777")
    served = _served(app, "dept_province")
    assert _figures(served) == _from_rows(app, "dept_province")
    db.session.expire_all()
    snap = db.session.get(KeptFigures, "dashboard|all")
    assert snap.generation != stale and snap.refresh_queued_at is None


def test_figures_kept_by_another_version_are_computed_again_not_served(kept, db_session):
    app = kept
    _served(app, "dept_province")
    old = {"project_total": 1}  # what an earlier version kept: not the keys this one reads
    db.session.execute(
        update(KeptFigures)
        .where(KeptFigures.key == "dashboard|all")
        .values(figures=kept_figures._dump(old), generation="0:1,2,3")
    )
    served = _served(app, "dept_province")
    assert _figures(served) == _from_rows(app, "dept_province")
    db.session.expire_all()
    snap = db.session.get(KeptFigures, "dashboard|all")
    assert snap.generation.startswith(kept_figures.FIGURES_VERSION + ":")
    assert kept_figures._load(snap.figures) == _figures(served)


def test_the_page_waits_for_the_refresh_it_queued_and_the_wall_does_not(kept, as_user, monkeypatch):
    app = kept
    client = as_user("dept_province")
    client.get("/dashboard/data")  # the scope's first figures
    queued, waits = [], []
    monkeypatch.setattr(kept_figures.refresh_figures, "enqueue", lambda *args: queued.append(args))
    monkeypatch.setattr(kept_figures, "_wait_for_refresh", lambda key, seconds: waits.append(seconds))

    def out_of_date():
        with app.app_context():
            db.session.execute(
                update(KeptFigures)
                .where(KeptFigures.key == "dashboard|all")
                .values(generation=kept_figures.FIGURES_VERSION + ":0,0,0", refresh_queued_at=None)
            )
            db.session.commit()

    out_of_date()
    assert client.get("/dashboard/data").status_code == 200
    out_of_date()
    assert client.get("/dashboard/").status_code == 200
    assert len(queued) == 2 and waits == [0, app.config["FIGURES_FRESH_WAIT_SECONDS"]]


# ---------------------------------------------------------------- an open month's 统计报告


def _open_month():
    return clock.today().replace(day=1)


def _report(app, username, report_type, served=True):
    """(截止 report, month report[, as_of]) of the open month: as one request of ``username`` is served, or
    computed from the rows."""
    with app.app_context(), app.test_request_context():
        user = db.session.execute(select(AppUser).filter_by(username=username)).scalar_one()
        g.user = user
        if served:
            return statistics_store.figures(report_type, _open_month(), user)
        return statistics_store.compute_figures(report_type, _open_month(), user)


def _same(first, second):
    return statistics_store.dump_figures(first[:2]) == statistics_store.dump_figures(second[:2])


def test_an_open_months_report_is_kept_and_equals_the_rows_after_changes(kept, db_session):
    app = kept
    picc = f.user("insurer_picc")
    rng = random.Random(20261204)
    month = _open_month().isoformat()
    for report_type in statistics.REPORT_TYPES:
        for username in ("dept_province", "dept_harbin"):
            _report(app, username, report_type)
    keys = {s.key for s in db.session.execute(select(KeptFigures)).scalars()}
    assert keys == {f"report|{t}|{month}|zh|{s}" for t in statistics.REPORT_TYPES for s in ("all", "2301")}
    for step in range(5):
        if rng.random() < 0.5:
            f.make_application("insured", investment=str(rng.randint(100, 5000)), region="230102")
        else:
            claims.add_claim(
                rng.choice(_insured_policies(picc)),
                picc,
                dict(
                    injured_count=rng.randint(1, 3),
                    estimated_loss=str(rng.randint(1, 90000)),
                    settled_amount=str(rng.randint(0, 9000)),
                    settled_date=clock.today().isoformat(),
                    submitted_date=clock.today().isoformat(),
                ),
            )
        for report_type in statistics.REPORT_TYPES:
            for username in ("dept_province", "dept_harbin"):
                served = _report(app, username, report_type)
                assert _same(served, _report(app, username, report_type, served=False)), (step, report_type)
                assert isinstance(served[2], datetime)


def test_a_kept_report_is_served_without_counting_a_row(kept, db_session):
    app = kept
    first = _report(app, "dept_province", "insurance")
    with counting(app) as statements:
        again = _report(app, "dept_province", "insurance")
    assert _same(again, first) and again[2] == first[2]
    assert len(statements) <= 4, "\n".join(statements)
    assert not [s for s in statements if "count(" in s.lower() or "GROUP BY" in s.upper()], statements


def test_a_closed_month_is_not_kept_here(kept, db_session):
    app = kept
    with app.app_context(), app.test_request_context():
        admin = f.user("admin")
        cumulative, _monthly, as_of = statistics_store.figures("insurance", date(2025, 3, 1), admin)
    assert as_of is None and cumulative.period.end == date(2025, 3, 31)
    assert db.session.execute(select(KeptFigures)).first() is None


def test_a_report_refresh_stores_the_figures_from_the_rows(kept, db_session):
    app = kept
    month = _open_month().isoformat()
    _report(app, "dept_province", "claims")
    key = f"report|claims|{month}|zh|all"
    db.session.execute(update(KeptFigures).where(KeptFigures.key == key).values(refresh_queued_at=utcnow()))
    with app.app_context():
        province = f.user("dept_province")
        assert kept_figures.refresh_figures("report", ["claims", month, "zh"], "all", province.id) == key
    db.session.expire_all()
    snap = db.session.get(KeptFigures, key)
    assert snap.refresh_queued_at is None
    assert _same(statistics_store.load_figures(snap.figures), _report(app, "dept_province", "claims", served=False))


def test_the_statistics_page_says_when_an_open_months_figures_were_computed(kept, as_user):
    client = as_user("dept_province")
    html = client.get("/statistics/?type=insurance").get_data(as_text=True)
    shown = re.search(r'id="statistics-as-of">数据截至 (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)<', html)
    assert shown and "当月数据：截止今日" in html, html[:3000]
    with kept.app_context():
        snap = db.session.get(KeptFigures, f"report|insurance|{_open_month().isoformat()}|zh|all")
        assert clock.local(snap.computed_at).strftime("%Y-%m-%d %H:%M:%S") == shown.group(1)
    closed = client.get("/statistics/?type=insurance&month=2025-03").get_data(as_text=True)
    assert "已结月份" in closed and "statistics-as-of" not in closed


def test_each_language_keeps_its_own_report(kept, as_user):
    client = as_user("dept_province")
    client.get("/lang/en")
    html = client.get("/statistics/?type=claims").get_data(as_text=True)
    assert re.search(r'id="statistics-as-of">Figures as of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d<', html), html[:3000]
    with kept.app_context():
        keys = {s.key for s in db.session.execute(select(KeptFigures)).scalars()}
    assert keys == {f"report|claims|{_open_month().isoformat()}|en|all"}
