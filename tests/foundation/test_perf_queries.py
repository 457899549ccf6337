"""Every list view of every role: the SQL query count does not depend on the page size (no per-row
queries), stays within the budget, and the page-size cap holds. Time figures live in bench/."""

import html
import re

import pytest
from factories.queries import counting

from app.demo import DEMO_ACCOUNTS
from app.extensions import db
from app.views.base import ScopedModelView

QUERY_BUDGET = 8


def list_views(app):
    return [v for v in app.appbuilder.baseviews if isinstance(v, ScopedModelView)]


def readable(app, username):
    """The ScopedModelViews whose list the user may open (by the role matrix)."""
    with app.app_context():
        from app.models import AppUser

        user = db.session.query(AppUser).filter_by(username=username).one()
        perms = app.appbuilder.sm.get_user_permissions(user)
        db.session.remove()
    return [
        v
        for v in list_views(app)
        if (
            v.method_permission_name.get("list")
            and ("can_" + v.method_permission_name["list"], v.class_permission_name) in perms
        )
        or username == "admin"
    ]


@pytest.fixture(scope="module")
def many_rows(app):
    """Enough rows in every scope that a page of 100 is really bigger than a page of 10."""
    from bench.seed import seed

    with app.app_context():
        seed(db.session, 300, progress=False)
        db.session.remove()


def test_views_are_discovered(app):
    names = {type(v).__name__ for v in list_views(app)}
    assert {"ApplicationView", "LedgerView", "DeptProjectView", "ReceivedOrderView", "ExpertTodoView"} <= names


@pytest.mark.parametrize("username", [a[0] for a in DEMO_ACCOUNTS])
def test_list_query_count_is_flat_and_capped(app, as_user, many_rows, username):
    client = as_user(username)
    views = readable(app, username)
    assert views, f"{username} reads no list"
    checked = 0
    for view in views:
        name = type(view).__name__
        url = f"{view.route_base}/list/"
        # warm, at the bigger page size: first-request work (locale, permission cache, per-process lookups
        # of the rows a page of 100 reaches first) is not the list's
        client.get(f"{url}?psize_{name}=100&psize=100")
        counts = {}
        for psize in (10, 100):
            with counting(app) as statements:
                response = client.get(f"{url}?psize_{name}={psize}")
            assert response.status_code == 200, (username, url, response.status_code)
            counts[psize] = len(statements)
        assert counts[10] == counts[100], (username, name, counts, statements)
        assert counts[100] <= QUERY_BUDGET, (username, name, counts[100], statements)
        checked += 1
    assert checked == len(views)


@pytest.mark.parametrize("username", ["admin", "dept_province", "insurer_picc"])
def test_page_size_is_capped(app, as_user, many_rows, username):
    client = as_user(username)
    for view in readable(app, username):
        name = type(view).__name__
        response = client.get(f"{view.route_base}/list/?psize_{name}=100000")
        assert response.status_code == 200
        assert _row_count(response.data) <= view.page_size, (username, name)  # not offered: the default


def test_page_size_cap_shows_at_most_the_cap(app, as_user, many_rows):
    """The seeded rows exceed the largest size, so the size offered is what limits the page; a size not
    offered (10 / 20 / 50 / 100) falls back to the list's default."""
    client = as_user("admin")
    assert _row_count(client.get("/orders/list/?psize_DispatchOrderView=100").data) == 100
    assert _row_count(client.get("/applications/list/?psize_ApplicationView=100").data) == 100
    assert _row_count(client.get("/applications/list/?psize_ApplicationView=100000").data) == 20
    assert _row_count(client.get("/orders/list/?psize_DispatchOrderView=-5").data) == 20


def test_counts_render_as_labels(app, as_user, many_rows):
    from app.views import datamodel

    client = as_user("admin")
    old = datamodel.COUNT_BOUND
    datamodel.COUNT_BOUND = 50  # a filtered list longer than the bound says "50+"
    try:
        response = client.get("/ledger/list/")
        fab = client.get("/orders/list/")
        applications = client.get("/applications/list/?status=insured").get_data(as_text=True)
    finally:
        datamodel.COUNT_BOUND = old
    assert "共 50+ 项" in response.get_data(as_text=True)
    assert b"50+" in fab.data
    # 投保信息 shows per-status figures of the same filter: its pager takes their exact total instead
    total = re.search(r"<th>合计</th><th>(\d+)</th>", applications).group(1)
    assert int(total) > 50 and f"共 {total} 项" in applications
    deep = client.get("/applications/list/?psize_ApplicationView=10&page_ApplicationView=2")
    assert deep.status_code == 200 and _row_count(deep.data) == 10


def test_deep_pages_and_pages_past_the_end(app, as_user, many_rows):
    """A deep page (ids first, then rows) shows the same rows as offset paging; past the end, the last page."""
    from app.models import Application
    from app.views import datamodel

    client = as_user("admin")
    with app.app_context():
        ids = [i for (i,) in db.session.query(Application.id).order_by(Application.id.desc())]
        db.session.remove()
    old = datamodel.DEFERRED_FROM
    datamodel.DEFERRED_FROM = 10  # page 3 of 10 is "deep"
    try:
        deep = client.get("/applications/list/?psize_ApplicationView=10&page_ApplicationView=3").get_data(as_text=True)
        last = client.get("/applications/list/?psize_ApplicationView=10&page_ApplicationView=99999")
        last = last.get_data(as_text=True)
    finally:
        datamodel.DEFERRED_FROM = old
    assert re.findall(r'<tr data-id="(\d+)"', deep) == [str(i) for i in ids[30:40]]
    tail = ids[(len(ids) - 1) // 10 * 10 :]
    assert re.findall(r'<tr data-id="(\d+)"', last) == [str(i) for i in tail]


def test_list_statistics_are_reused_until_a_transition(app, as_user, many_rows):
    """投保信息's per-status figures: computed once, reused while nothing changed, recomputed after a
    transition (a FlowEvent) — the cache never serves figures older than the last change."""
    from app.models import Application, AppUser
    from app.services import applications as application_service
    from app.services import figures_cache

    app.config["FIGURES_CACHE_SECONDS"] = 30
    figures_cache.clear()
    try:
        client = as_user("insurer_picc")
        client.get("/applications/list/")
        with counting(app) as warm:
            client.get("/applications/list/")
        assert not [s for s in warm if "GROUP BY" in s.upper()], "the figures were computed again"
        with app.app_context():
            user = db.session.query(AppUser).filter_by(username="insurer_picc").one()
            pending = (
                db.session.query(Application).filter_by(insurer_id=user.company_id, status="pending_review").first()
            )
            assert pending is not None
            fields = dict(
                project_id=pending.project_id,
                enterprise_id=pending.enterprise_id,
                region_code=pending.region_code,
                insurer_id=pending.insurer_id,
                plan_id=pending.plan_id,
            )
            with app.test_request_context():
                from flask import g

                g.user = user
                application_service.approve(pending.id, user, "同意")
            db.session.remove()
        with counting(app) as after:
            page = client.get("/applications/list/").get_data(as_text=True)
        assert [s for s in after if "GROUP BY" in s.upper()], "a transition must refresh the figures"
        assert 'id="application-stats"' in page
        with counting(app) as warm_again:
            client.get("/applications/list/")
        assert not [s for s in warm_again if "GROUP BY" in s.upper()]
        with app.app_context():  # a new application writes no FlowEvent: its id moves the generation
            db.session.add(Application(status="pending_review", **fields))
            db.session.commit()
            db.session.remove()
        with counting(app) as added:
            client.get("/applications/list/")
        assert [s for s in added if "GROUP BY" in s.upper()], "a new application must refresh the figures"
    finally:
        app.config["FIGURES_CACHE_SECONDS"] = 0
        figures_cache.clear()


def test_keyset_page_follows_the_cursor(app, as_user, many_rows):
    from app.models import DispatchOrder

    client = as_user("admin")
    with app.app_context():
        ids = [i for (i,) in db.session.query(DispatchOrder.id).order_by(DispatchOrder.id.desc()).limit(30)]
        db.session.remove()
    first = client.get("/orders/list/?psize_DispatchOrderView=10").data.decode()
    link = re.search(r'class="[^"]*azx-keyset[^"]*" href="([^"]+)"', first)
    assert link, "the first page links the next one by keyset"
    assert f"after_DispatchOrderView={ids[9]}" in link.group(1)
    text = client.get(html.unescape(link.group(1))).data.decode()
    assert f'/orders/show/{ids[10]}"' in text and f'/orders/show/{ids[9]}"' not in text


def _row_count(html):
    table = html.rsplit(b"<table", 1)[-1].split(b"</table>", 1)[0]  # the list's table comes last
    return table.count(b"<tr data-id=")  # the rows of records (not the header, not "暂无数据")


def test_relations_to_large_tables_are_searched_by_text(app, as_user, many_rows):
    """No select of every project on a list page; the text filter finds rows by the project's name."""
    from app.models import DispatchOrder, Project

    client = as_user("admin")
    page = client.get("/orders/list/").data.decode()
    assert "<option" not in page.split('"project": "', 1)[1].split('", "', 1)[0]
    with app.app_context():
        order = db.session.query(DispatchOrder).order_by(DispatchOrder.id).first()
        name = db.session.get(Project, order.project_id).name
        expected = (
            db.session.query(DispatchOrder)
            .join(Project, Project.id == DispatchOrder.project_id)
            .filter(Project.name.contains(name))
            .count()
        )
        db.session.remove()
    column = [i for i, c in enumerate(["project"]) if c == "project"][0]
    found = client.get(f"/orders/list/?_flt_{column}_project={name}&psize_DispatchOrderView=100")
    assert found.status_code == 200
    assert _row_count(found.data) == min(expected, 100)
    none = client.get(f"/orders/list/?_flt_{column}_project=不存在的项目名称")
    assert _row_count(none.data) == 0


def test_seeded_rows_are_consistent(app):
    """`bench.seed`: every insured, expired or surrendered application it writes has its policy,
    every policy its application in one of those states (a list shows no 已投保 row without 保费)."""
    from sqlalchemy import func, select

    from app.models import Application, Policy
    from bench.seed import seed

    with app.app_context():
        first = (db.session.execute(select(func.max(Application.id))).scalar() or 0) + 1
        seed(db.session, 200, progress=False)
        states = ("insured", "expired", "surrendered")
        orphans = db.session.execute(
            select(func.count())
            .select_from(Application)
            .outerjoin(Policy, Policy.application_id == Application.id)
            .where(Application.id >= first, Application.status.in_(states), Policy.id.is_(None))
        ).scalar()
        wrong = db.session.execute(
            select(func.count())
            .select_from(Policy)
            .join(Application, Application.id == Policy.application_id)
            .where(Application.id >= first, Application.status.notin_(states))
        ).scalar()
        policies = db.session.execute(
            select(func.count()).select_from(Policy).where(Policy.application_id >= first)
        ).scalar()
        from app.models import DispatchOrder, Hazard, Project
        from app.models.enums import (
            ApplicationStatus,
            HazardLevel,
            HazardStatus,
            OrderStatus,
            PolicyStatus,
            ProjectInsuranceStatus,
        )

        invalid = {}
        for column, choices, since in (
            (Project.insurance_status, ProjectInsuranceStatus, Project.id >= 0),
            (Application.status, ApplicationStatus, Application.id >= first),
            (Policy.status, PolicyStatus, Policy.application_id >= first),
            (
                DispatchOrder.status,
                OrderStatus,
                DispatchOrder.policy_id.in_(select(Policy.id).where(Policy.application_id >= first)),
            ),
            (
                Hazard.status,
                HazardStatus,
                Hazard.order_id.in_(
                    select(DispatchOrder.id).where(
                        DispatchOrder.policy_id.in_(select(Policy.id).where(Policy.application_id >= first))
                    )
                ),
            ),
            (Hazard.level, HazardLevel, Hazard.order_id > 0),
        ):
            seen = set(db.session.execute(select(column).where(since).distinct()).scalars())
            allowed = set(choices.values()) | ({"uninsured"} if choices is ProjectInsuranceStatus else set())
            if seen - allowed:
                invalid[str(column)] = seen - allowed
        hazard_states = set(db.session.execute(select(Hazard.status).distinct()).scalars())
        db.session.remove()
    assert orphans == 0 and wrong == 0
    assert 120 <= policies <= 200  # about 0.8 N
    assert not invalid, invalid  # every status a value of its ChoiceSet (the lists show their labels)
    assert {"open", "passed"} <= hazard_states
