"""Builds projects, applications and policies in a wanted state through the services (test helper)."""

import io
import uuid
from datetime import timedelta

from werkzeug.datastructures import FileStorage

from app import clock
from app.demo.insurance import APPLICATION_UPLOADS, demo_pdf
from app.extensions import db
from app.models import AppUser, InsuranceCompany, Plan
from app.services import applications, enterprises, policies

STATE_PATH = ["draft", "pending_review", "rejected", "approved", "insured"]


def user(username):
    return db.session.query(AppUser).filter_by(username=username).one()


def company(short_name):
    return db.session.query(InsuranceCompany).filter_by(short_name=short_name).one()


def plan(code="C"):
    return db.session.query(Plan).filter_by(code=code).order_by(Plan.effective_from.desc()).first()


def pdf_upload(name="文件.pdf", title="test"):
    return FileStorage(stream=io.BytesIO(demo_pdf(title)), filename=name, content_type="application/pdf")


def application_files():
    return {slot: pdf_upload(name, slot) for slot, name in APPLICATION_UPLOADS.items()}


def make_project(enterprise="enterprise_demo", investment="1000", name=None, region=None):
    """A project of ``enterprise`` in its own county unless told otherwise (departments' scope follows it)."""
    tag = uuid.uuid4().hex[:8]
    account = user(enterprise)
    region = region or account.enterprise.region_code
    project, _warnings = enterprises.save_project(
        account,
        dict(
            region_code=region,
            project_code=f"GF-{tag}",
            name=name or f"测试项目{tag}",
            investment=investment,
            builder_name="测试建设单位",
            address="哈尔滨市南岗区测试路1号",
            planned_start="2026-01-01",
            planned_end="2027-06-30",
        ),
    )
    return project


def application_data(insurer="人保财险", broker=None, plan_code="C"):
    return dict(
        insurer_id=company(insurer).id,
        broker_id=company(broker).id if broker else "",
        plan_id=plan(plan_code).id,
        contact_phone="13900000001",
        agreed="1",
    )


def issue_data(app, **overrides):
    proposal = policies.propose_premium(app)
    data = dict(
        builder_name="测试建设单位",
        project_name=app.project.name,
        project_code=app.project.project_code,
        plan_id=app.plan_id,
        premium=str(proposal["proposed"]),
        start_date="2026-01-01",
        end_date="2027-06-30",
        policy_no="P" + uuid.uuid4().hex[:12].upper(),
        agreed="1",
    )
    data.update(overrides)
    return data


def policy_files():
    return {"policy_file": pdf_upload("保单.pdf", "policy"), "agreement_file": pdf_upload("协议.pdf", "agreement")}


def make_application(
    state="pending_review",
    enterprise="enterprise_demo",
    insurer="人保财险",
    broker=None,
    investment="1000",
    reviewer=None,
    plan_code="C",
    name=None,
    region=None,
):
    """An application brought to ``state`` (draft … insured, expired, surrendered) as the demo users."""
    ent = user(enterprise)
    insurer_user = user({"人保财险": "insurer_picc", "平安财险": "insurer_pingan"}[insurer])
    reviewer = user(reviewer) if reviewer else insurer_user
    project = make_project(enterprise, investment, name=name, region=region)
    app = applications.save_application(
        ent, project.id, application_data(insurer, broker, plan_code), application_files()
    )
    if state == "draft":
        return app
    applications.submit(app.id, ent)
    if state == "pending_review":
        return app
    if state == "rejected":
        return applications.reject(app.id, reviewer, "资料不清晰")
    applications.approve(app.id, reviewer)
    if state == "approved":
        return app
    end = clock.today() - timedelta(days=1) if state == "expired" else clock.today() + timedelta(days=365)
    policy = policies.issue_policy(
        app.id,
        insurer_user,
        issue_data(app, start_date=(end - timedelta(days=400)).isoformat(), end_date=end.isoformat()),
        policy_files(),
    )
    if state == "expired":
        policies.expire_policies()
    if state == "surrendered":
        policies.surrender(policy.id, insurer_user, "依法终止经营")
    db.session.refresh(app)
    return app


def make_enterprise_user(region="230602"):
    """A fresh enterprise with its own account (no history), for tests that need a clean slate."""
    import random

    from flask import current_app
    from werkzeug.security import generate_password_hash

    from app.demo.data import make_credit_code
    from app.models import Enterprise
    from app.models.base import utcnow
    from app.models.enums import PartyKind

    tag = uuid.uuid4().hex[:8]
    ent = Enterprise(
        name=f"测试建筑工程有限公司{tag}",
        region_code=region,
        credit_code=make_credit_code(region, random.randint(30000000, 99999999)),
        contact_name="测试",
        contact_mobile="13900000002",
        contact_email="t@example.com",
    )
    db.session.add(ent)
    db.session.flush()
    account = AppUser(
        username=f"ent_{tag}",
        first_name="测试",
        last_name="企业",
        email=f"{tag}@example.invalid",
        active=True,
        password=generate_password_hash("Demo@2026"),
        roles=[current_app.appbuilder.sm.find_role("Enterprise")],
        party_kind=PartyKind.ENTERPRISE,
        enterprise_id=ent.id,
        password_changed_at=utcnow(),
        created_on=utcnow(),
        changed_on=utcnow(),
    )
    db.session.add(account)
    db.session.commit()
    return account
