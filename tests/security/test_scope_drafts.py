"""A draft is the enterprise's own: the insurer and the broker it names see neither the application nor,
through it, the enterprise or the project — until it is submitted (scope.py's drafts guard, on the
Enterprise, Project and Application rules alike)."""

import pytest

from app.demo.data import make_credit_code
from app.extensions import db
from app.models import Application, AppUser, Enterprise, InsuranceCompany, Plan, Project
from app.security.scope import is_visible

NAMED = ("insurer_picc", "broker_kunlun")


@pytest.fixture
def draft(app):
    with app.test_request_context():
        s = db.session
        company = {c.short_name: c for c in s.query(InsuranceCompany)}
        ent = Enterprise(
            name="草稿范围测试企业", region_code="230602", credit_code=make_credit_code("230602", 81000001)
        )
        s.add(ent)
        s.flush()
        project = Project(
            enterprise_id=ent.id,
            region_code="230602",
            project_code="DRAFT-SCOPE-1",
            name="草稿范围测试项目",
            investment=10,
        )
        s.add(project)
        s.flush()
        application = Application(
            project_id=project.id,
            enterprise_id=ent.id,
            region_code="230602",
            insurer_id=company["人保财险"].id,
            broker_id=company["昆仑保险经纪"].id,
            plan_id=s.query(Plan).filter_by(code="A").first().id,
            status="draft",
        )
        s.add(application)
        s.flush()
        users = {u.username: u for u in s.query(AppUser).filter(AppUser.username.in_(NAMED + ("insurer_pingan",)))}
        yield dict(Enterprise=ent.id, Project=project.id, Application=application.id), users, application


MODELS = {"Enterprise": Enterprise, "Project": Project, "Application": Application}


def _seen(ids, user):
    return {name: is_visible(MODELS[name], pk, user) for name, pk in ids.items()}


@pytest.mark.parametrize("username", NAMED)
def test_a_draft_hides_its_enterprise_and_project_from_the_insurer_and_broker_it_names(draft, username):
    ids, users, application = draft
    assert _seen(ids, users[username]) == {"Enterprise": False, "Project": False, "Application": False}
    application.status = "pending_review"
    db.session.flush()
    assert _seen(ids, users[username]) == {"Enterprise": True, "Project": True, "Application": True}
    # an insurer it does not name sees none of it, submitted or not
    assert _seen(ids, users["insurer_pingan"]) == {"Enterprise": False, "Project": False, "Application": False}


@pytest.mark.parametrize("status", ["rejected", "approved", "insured"])
def test_every_state_after_submission_is_seen_by_both(draft, status):
    ids, users, application = draft
    application.status = status
    db.session.flush()
    for username in NAMED:
        assert _seen(ids, users[username]) == {"Enterprise": True, "Project": True, "Application": True}
