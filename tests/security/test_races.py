"""Races: many concurrent clicks on one transition change the row once; a stale edit form is refused.

The transition races need real concurrency (row locks, READ COMMITTED re-checks) and run on
PostgreSQL only; the stale edit form runs everywhere.
"""

import importlib
import inspect
import re
import threading
from datetime import date

import pytest

from app.extensions import db

pytestmark = pytest.mark.commits  # concurrent requests on their own connections

N = 50
STALE_MESSAGE = "该记录已被他人修改，请刷新后重试"


def _new_application(app, world, status="pending_review"):
    from app.models import Application, Plan, Project

    with app.app_context():
        project = db.session.get(Project, world.ids["A"]["Project"][0])
        plan = db.session.query(Plan).filter_by(code="A").first()
        insurer_id = world.ids["A"]["InsuranceCompany"][0]
        row = Application(
            project_id=project.id,
            enterprise_id=project.enterprise_id,
            region_code=project.region_code,
            insurer_id=insurer_id,
            plan_id=plan.id,
            status=status,
        )
        db.session.add(row)
        db.session.commit()
        pk = row.id
        db.session.remove()
    return pk


def _new_order(app, world, status="pending"):
    from app.models import DispatchOrder, Policy

    with app.app_context():
        policy = db.session.get(Policy, world.ids["A"]["Policy"][0])
        n = db.session.query(DispatchOrder).count()
        row = DispatchOrder(
            order_no=f"RACE-{world.tag}-{n}",
            policy_id=policy.id,
            project_id=policy.project_id,
            enterprise_id=policy.enterprise_id,
            region_code=policy.region_code,
            insurer_id=policy.insurer_id,
            org_id=world.ids["A"]["PreventionOrg"][0],
            service_place="现场",
            start_date=date(2026, 5, 1),
            end_date=date(2026, 5, 30),
            deadline=date(2026, 5, 5),
            status=status,
        )
        db.session.add(row)
        db.session.commit()
        pk = row.id
        db.session.remove()
    return pk


def _race(app, fire, n=N):
    """Run ``fire()`` in n threads released together, each in its own app context (its own session)."""
    barrier = threading.Barrier(n)
    results = []
    lock = threading.Lock()

    def worker():
        from app.services.base import Conflict

        with app.app_context():
            try:
                prepared = fire.prepare()
                barrier.wait(timeout=60)
                fire.go(prepared)
                outcome = ("ok", None)
            except Conflict as exc:
                db.session.rollback()
                outcome = ("conflict", str(exc.message))
            except Exception as exc:
                db.session.rollback()
                outcome = ("error", repr(exc))
            finally:
                db.session.remove()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


class _Transition:
    def __init__(self, model, pk, workflow, name, username):
        self.model, self.pk, self.workflow, self.name, self.username = model, pk, workflow, name, username

    def prepare(self):
        """Read the row (every thread sees the same status and version), then give the connection back."""
        from app.models import AppUser

        user = db.session.query(AppUser).filter_by(username=self.username).one()
        _ = (user.party_name, [r.name for r in user.roles])
        obj = db.session.get(self.model, self.pk)
        db.session.expunge_all()
        db.session.commit()
        return user, obj

    def go(self, prepared):
        from app.services.base import transition

        user, obj = prepared
        db.session.add(user)
        db.session.add(obj)
        transition(obj, self.workflow, self.name, user)
        db.session.commit()


def _flow_events(app, entity_type, pk, action):
    from app.models import FlowEvent

    with app.app_context():
        n = db.session.query(FlowEvent).filter_by(entity_type=entity_type, entity_id=pk, action=action).count()
        db.session.remove()
    return n


def _assert_one_winner(results):
    outcomes = [r[0] for r in results]
    errors = [r[1] for r in results if r[0] == "error"]
    assert not errors, errors[:3]
    assert outcomes.count("ok") == 1, outcomes
    assert outcomes.count("conflict") == len(results) - 1
    for _kind, message in results:
        if message is not None:
            assert re.search(r"[\u4e00-\u9fff]", message) and ("已被他人处理" in message or "状态" in message), message


@pytest.fixture
def postgres_only(app):
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("concurrency needs PostgreSQL (SQLite serialises writers)")


DIRECT = [
    ("Application", "APPLICATION", _new_application, "insurer", "application", "approve", "approved"),
    ("DispatchOrder", "ORDER", _new_order, "org", "dispatch_order", "accept", "accepted"),
]


@pytest.mark.postgres
@pytest.mark.parametrize("model_name,workflow_name,make,kind,entity,action,status", DIRECT, ids=[d[5] for d in DIRECT])
def test_concurrent_clicks_transition_once(
    app, world, postgres_only, model_name, workflow_name, make, kind, entity, action, status
):
    import app.models as models
    import app.workflows as workflows

    model = getattr(models, model_name)
    pk = make(app, world)
    results = _race(app, _Transition(model, pk, getattr(workflows, workflow_name), action, world.users[(kind, "A")]))
    _assert_one_winner(results)
    assert _flow_events(app, entity, pk, action) == 1
    with app.app_context():
        assert db.session.get(model, pk).status == status
        db.session.remove()


class _Service:
    """A service function called as the signed-in user would call it from a view."""

    def __init__(self, func, pk, username):
        self.func, self.pk, self.username = func, pk, username

    def prepare(self):
        from app.models import AppUser

        user = db.session.query(AppUser).filter_by(username=self.username).one()
        _ = (user.party_name, [r.name for r in user.roles])
        db.session.expunge_all()
        db.session.commit()
        return user

    def go(self, user):
        from flask import g

        db.session.add(user)

        app = __import__("flask").current_app
        with app.test_request_context():
            g.user = user
            params = inspect.signature(self.func).parameters
            kwargs = {}
            if "user" in params:
                kwargs["user"] = user
            if "comment" in params:
                kwargs["comment"] = "同意"
            self.func(self.pk, **kwargs)


def _service(path):
    module, name = path.rsplit(".", 1)
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        pytest.skip(f"{path} is not on this branch yet")


SERVICES = [
    ("app.services.applications.approve", _new_application, "insurer", "application", "approve"),
    ("app.services.orders.accept", _new_order, "org", "dispatch_order", "accept"),
]


@pytest.mark.postgres
@pytest.mark.parametrize("path,make,kind,entity,action", SERVICES, ids=[s[0] for s in SERVICES])
def test_concurrent_clicks_through_the_service(app, world, postgres_only, path, make, kind, entity, action):
    service = _service(path)
    pk = make(app, world)
    results = _race(app, _Service(service, pk, world.users[(kind, "A")]))
    _assert_one_winner(results)
    assert _flow_events(app, entity, pk, action) == 1


# --- two edit forms open on one record ----------------------------------------------------------------


def test_second_of_two_concurrent_edits_is_refused(app, world):
    from app.models import Project

    username = world.users[("enterprise", "A")]
    with app.app_context():
        base = db.session.get(Project, world.ids["A"]["Project"][0])
        project = Project(
            enterprise_id=base.enterprise_id,
            region_code=base.region_code,
            project_code=f"EDIT-{world.tag}",
            name="并发编辑项目",
            investment=10,
        )
        db.session.add(project)
        db.session.commit()
        pk, region = project.id, project.region_code
        db.session.remove()

    def opened():
        client = app.test_client()
        client.post("/login/", data={"username": username, "password": "Demo@2026"})
        page = client.get(f"/projects/edit/{pk}")
        assert page.status_code == 200, page.status_code
        match = re.search(
            r'name="row_version"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="row_version"', page.get_data(as_text=True)
        )
        assert match, "the edit form carries no row_version"
        return client, match.group(1) or match.group(2)

    first, v1 = opened()
    second, v2 = opened()
    assert v1 == v2
    form = {
        "region_code": region,
        "project_code": f"EDIT-{world.tag}",
        "builder_name": "建设单位",
        "address": "哈尔滨市",
        "scale_content": "",
        "investment": "10",
        "planned_start": "",
        "planned_end": "",
    }
    r1 = first.post(f"/projects/edit/{pk}", data=dict(form, name="第一次保存", row_version=v1), follow_redirects=True)
    assert r1.status_code == 200
    with app.app_context():
        saved = db.session.get(Project, pk)
        assert saved.name == "第一次保存", "the first save did not land"
        version_after_first = saved.version
        db.session.remove()
    r2 = second.post(f"/projects/edit/{pk}", data=dict(form, name="第二次保存", row_version=v2), follow_redirects=True)
    assert STALE_MESSAGE in r2.get_data(as_text=True)
    with app.app_context():
        row = db.session.get(Project, pk)
        assert row.name == "第一次保存" and row.version == version_after_first
        db.session.remove()
    # a fresh form (the current version) saves normally
    again, v3 = opened()
    assert int(v3) == version_after_first
    again.post(f"/projects/edit/{pk}", data=dict(form, name="刷新后保存", row_version=v3))
    with app.app_context():
        assert db.session.get(Project, pk).name == "刷新后保存"
        db.session.remove()


class _ProjectSave:
    """``save_project`` as the edit form calls it, every thread with the version it opened the form at."""

    def __init__(self, pk, username, version, region):
        self.pk, self.username, self.version, self.region = pk, username, version, region
        self.counter = iter(range(1000))

    def prepare(self):
        from app.models import AppUser

        user = db.session.query(AppUser).filter_by(username=self.username).one()
        _ = (user.party_name, [r.name for r in user.roles])
        db.session.expunge_all()
        db.session.commit()
        return user, next(self.counter)

    def go(self, prepared):
        from flask import current_app, g

        from app.services.enterprises import save_project

        user, n = prepared
        db.session.add(user)
        with current_app.test_request_context():
            g.user = user
            save_project(
                user,
                {
                    "region_code": self.region,
                    "project_code": "RACE-EDIT",
                    "name": f"保存{n}",
                    "investment": "10",
                    "builder_name": "建设单位",
                    "address": "哈尔滨市",
                    "row_version": str(self.version),
                },
                project_id=self.pk,
            )


@pytest.mark.postgres
def test_concurrent_saves_of_one_version_keep_exactly_one(app, world, postgres_only):
    """Saves racing past the form's version check are still told apart by the versioned UPDATE."""
    from app.models import Project

    with app.app_context():
        base = db.session.get(Project, world.ids["A"]["Project"][0])
        project = Project(
            enterprise_id=base.enterprise_id,
            region_code=base.region_code,
            project_code=f"RACE-{world.tag}",
            name="并发保存项目",
            investment=10,
            insurance_status="uninsured",
        )
        db.session.add(project)
        db.session.commit()
        pk, region, version = project.id, project.region_code, project.version
        db.session.remove()
    results = _race(app, _ProjectSave(pk, world.users[("enterprise", "A")], version, region), n=20)
    outcomes = [r[0] for r in results]
    assert "error" not in outcomes, results[:3]
    assert outcomes.count("ok") == 1, outcomes
    assert all(message == STALE_MESSAGE for kind, message in results if kind == "conflict")
    with app.app_context():
        row = db.session.get(Project, pk)
        assert row.version == version + 1 and row.name.startswith("保存")
        db.session.remove()
