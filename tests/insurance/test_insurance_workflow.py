"""The application workflow table: every transition allowed or refused per role and state, through the
services; the buttons the lists show come from the same table; a second reviewer gets a clear message."""

import pytest
from factories import insurance as f
from sqlalchemy import select

from app.extensions import db
from app.models import Application, FlowEvent, Policy, Project
from app.models.enums import ApplicationStatus as A
from app.models.enums import PolicyStatus
from app.services import applications, policies
from app.services.base import Conflict, Forbidden, NotFound, ServiceError
from app.workflows import APPLICATION

ACTORS = ["enterprise_demo", "insurer_picc", "broker_kunlun", "insurer_pingan", "dept_province"]
STATES = ["draft", "pending_review", "rejected", "approved", "insured"]
TRANSITIONS = ["submit", "approve", "reject", "issue_policy", "surrender"]


def _fire(name, app, actor):
    if name == "submit":
        applications.submit(app.id, actor)
    elif name == "approve":
        applications.approve(app.id, actor)
    elif name == "reject":
        applications.reject(app.id, actor, "请补充资料")
    elif name == "issue_policy":
        policies.issue_policy(app.id, actor, f.issue_data(app), f.policy_files())
    elif name == "surrender":
        policies.surrender(app.policy.id, actor, "依法终止经营")


# Who may do what in which state (the manual's 投保 workflow), written down by hand for the five
# actors below: {transition: {state it may fire from: the actors who may fire it}}. Every other
# (transition, state, actor) is refused. A change to app/workflows (APPLICATION) or to the scope must
# be mirrored here deliberately.
WHO_MAY = {
    "submit": {"draft": {"enterprise_demo"}, "rejected": {"enterprise_demo"}},
    "approve": {"pending_review": {"insurer_picc", "broker_kunlun"}},
    "reject": {"pending_review": {"insurer_picc", "broker_kunlun"}},
    "issue_policy": {"approved": {"insurer_picc"}},
    "surrender": {"insured": {"insurer_picc"}},
}
LEADS_TO = {
    "submit": "pending_review",
    "approve": "approved",
    "reject": "rejected",
    "issue_policy": "insured",
    "surrender": "surrendered",
}
# Who sees the application at all (else NotFound): pingan is not named; the insurer and the broker
# named do not see a draft; the province department sees everything but acts on nothing.
HIDDEN = {("insurer_pingan", s) for s in STATES} | {("insurer_picc", "draft"), ("broker_kunlun", "draft")}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("name", TRANSITIONS)
def test_transition_per_role_and_state(db_session, name, state):
    allowed = WHO_MAY[name].get(state, set())
    if name == "surrender" and state != "insured":
        assert not allowed  # no policy yet: nothing to surrender
        return
    app = f.make_application(state, insurer="人保财险", broker="昆仑保险经纪")
    app_id, project_id = app.id, app.project_id
    for username in [a for a in ACTORS if a not in allowed]:
        with pytest.raises(ServiceError) as refused:
            _fire(name, db.session.get(Application, app_id), f.user(username))
        if (username, state) in HIDDEN:
            assert isinstance(refused.value, NotFound), username
        else:
            assert isinstance(refused.value, (Conflict, Forbidden)), (username, refused.value)
        db.session.expire_all()
        assert db.session.get(Application, app_id).status == state
    for n, username in enumerate(sorted(allowed)):
        if n:  # each allowed actor on an application of its own
            app = f.make_application(state, insurer="人保财险", broker="昆仑保险经纪")
            app_id, project_id = app.id, app.project_id
        _fire(name, db.session.get(Application, app_id), f.user(username))
        db.session.expire_all()
        assert db.session.get(Application, app_id).status == LEADS_TO[name], username
        assert db.session.get(Project, project_id).insurance_status == LEADS_TO[name]


def test_transition_writes_timeline(db_session):
    app = f.make_application("rejected")
    events = (
        db.session.query(FlowEvent).filter_by(entity_type="application", entity_id=app.id).order_by(FlowEvent.id).all()
    )
    assert [(e.action, e.from_status, e.to_status) for e in events] == [
        ("submit", A.DRAFT, A.PENDING_REVIEW),
        ("reject", A.PENDING_REVIEW, A.REJECTED),
    ]
    assert events[-1].comment == "资料不清晰" and events[-1].username == "insurer_picc"
    # who acted, as the 流程记录 shows it: the account and its party's kind and name
    assert [(e.username, e.party_kind, e.party_name) for e in events] == [
        ("enterprise_demo", "enterprise", f.user("enterprise_demo").party_name),
        ("insurer_picc", "insurer", f.user("insurer_picc").party_name),
    ]
    assert events[-1].party_name  # the insurer's name, not blank
    assert db.session.get(Application, app.id).review_opinion == "资料不清晰"


def test_reject_needs_an_opinion(db_session):
    app = f.make_application("pending_review")
    with pytest.raises(ServiceError) as exc:
        applications.reject(app.id, f.user("insurer_picc"), "  ")
    assert "审核意见" in str(exc.value.message)
    db.session.expire_all()
    assert db.session.get(Application, app.id).status == A.PENDING_REVIEW


def test_second_reviewer_gets_a_clear_message(db_session):
    app = f.make_application("pending_review", broker="昆仑保险经纪")
    applications.approve(app.id, f.user("insurer_picc"))
    with pytest.raises(Conflict) as exc:
        applications.reject(app.id, f.user("broker_kunlun"), "不同意")
    assert "已被他人处理" in str(exc.value.message)
    db.session.expire_all()
    assert db.session.get(Application, app.id).status == A.APPROVED


def test_stale_reviewer_loses_the_compare_and_set(db_session):
    """Both reviewers loaded the row in 待复审; the slower one's UPDATE matches nothing."""
    from app.services.base import transition

    app = f.make_application("pending_review", broker="昆仑保险经纪")
    stale = db.session.get(Application, app.id)
    status, version = stale.status, stale.version
    applications.approve(app.id, f.user("insurer_picc"))
    db.session.expire_all()
    stale = db.session.get(Application, app.id)
    stale.__dict__["status"], stale.__dict__["version"] = status, version  # what the slower click saw
    with pytest.raises(Conflict):
        transition(stale, APPLICATION, "reject", f.user("broker_kunlun"), comment="不同意")
    db.session.expire_all()
    assert db.session.get(Application, app.id).status == A.APPROVED


def test_resubmission_after_rejection(db_session):
    app = f.make_application("rejected")
    ent = f.user("enterprise_demo")
    applications.save_application(
        ent,
        app.project_id,
        f.application_data(plan_code="B"),
        {"contract": f.pdf_upload("新合同.pdf")},
        application_id=app.id,
    )
    applications.submit(app.id, ent)
    db.session.expire_all()
    again = db.session.get(Application, app.id)
    assert again.status == A.PENDING_REVIEW and again.plan.code == "B"
    assert again.contract_file.original_name == "新合同.pdf"


def test_expire_is_scheduled_and_idempotent(db_session):
    app = f.make_application("insured")
    policy = app.policy
    from datetime import timedelta

    later = policy.end_date + timedelta(days=1)
    assert policies.display_status(policy, policy.end_date) == PolicyStatus.ACTIVE
    assert policies.display_status(policy, later) == PolicyStatus.EXPIRED
    active = dict(db.session.execute(select(Policy.id, Policy.end_date).where(Policy.status == "insured")).all())
    done = policies.expire_policies(later)
    db.session.expire_all()
    expired = {pid for pid in active if db.session.get(Policy, pid).status == PolicyStatus.EXPIRED}
    # exactly the policies whose 终止日期 is before the day, this one among them; none twice
    assert expired == {pid for pid, end in active.items() if end < later} and app.policy.id in expired
    assert done == len(expired)
    assert policies.expire_policies(later) == 0
    db.session.expire_all()
    assert db.session.get(Application, app.id).status == A.EXPIRED
    assert db.session.get(Project, app.project_id).insurance_status == A.EXPIRED


def test_expire_command(app, db_session):
    made = f.make_application("insured")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["policies", "expire", "--today", "2099-01-01"])
    assert result.exit_code == 0, result.output
    assert "expired:" in result.output
    db.session.expire_all()
    assert db.session.get(Application, made.id).status == A.EXPIRED


def test_surrender_needs_a_reason_and_follows_the_project(db_session):
    app = f.make_application("insured")
    with pytest.raises(ServiceError):
        policies.surrender(app.policy.id, f.user("insurer_picc"), "")
    policies.surrender(app.policy.id, f.user("insurer_picc"), "依法终止经营")
    db.session.expire_all()
    assert db.session.get(Project, app.project_id).insurance_status == A.SURRENDERED


BUTTONS = {
    # (username, state) -> the 操作 buttons of that row, in the manual's order
    ("insurer_picc", "pending_review"): ["审核", "详情", "事故"],
    ("insurer_picc", "approved"): ["提交", "详情", "事故"],
    ("insurer_picc", "rejected"): ["详情", "事故"],
    ("broker_kunlun", "pending_review"): ["审核", "详情", "事故"],
    ("broker_kunlun", "approved"): ["详情", "事故"],
    ("enterprise_demo", "rejected"): ["修改", "详情"],
    ("enterprise_demo", "pending_review"): ["详情"],
}


@pytest.mark.parametrize("username,state", sorted(BUTTONS))
def test_list_buttons_follow_the_workflow_table(app, as_user, username, state):
    import re

    with app.app_context():
        made = f.make_application(state, broker="昆仑保险经纪")
        name = made.project.name
    html = as_user(username).get("/applications/list/?project=" + name).get_data(as_text=True)
    row = re.search(r'<tr data-id="%d">(.*?)</tr>' % made.id, html, re.S)
    assert row, html
    ops = re.findall(r"<a [^>]*>([^<]+)</a>", row.group(1).split('class="azx-ops"')[1])
    assert ops == BUTTONS[(username, state)]
