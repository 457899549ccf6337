"""Shared setup of the REST API tests: a small world of two chains of rows (A: 人保财险 with 昆仑经纪,
enterprise_demo, org_demo/expert_demo, Harbin; B: 平安财险, enterprise_demo2, another org and expert,
Qiqihar), JWT and API-key clients, and the expected visibility per account.

Rows are test setup (as in test_scope.py), built with unique codes so modules never collide; states
that only a workflow can reach are reached through the services in the write tests.
"""

import importlib.util
import uuid
from datetime import date, datetime

import pytest
from chains import insured_chain
from flask import current_app
from werkzeug.security import generate_password_hash

from app.demo.data import make_credit_code, make_id_number
from app.extensions import db
from app.models import (
    Application,
    AppUser,
    Enterprise,
    Expert,
    InsuranceCompany,
    Plan,
    PreventionOrg,
    Project,
    ServiceVisit,
    TitleLevel,
)
from app.models.base import utcnow

DEMO_PASSWORD = "Demo@2026"
RESOURCES = {
    "enterprises": "Enterprise",
    "projects": "Project",
    "applications": "Application",
    "policies": "Policy",
    "claims": "Claim",
    "orders": "DispatchOrder",
    "reports": "ServiceVisit",
}
_ALL = set(RESOURCES.values())
_ORDER_SIDE = {"Enterprise", "Project", "Policy", "DispatchOrder", "ServiceVisit"}
# account -> {model: chains it sees}
VISIBLE = {
    "ent:A": {m: {"A"} for m in _ALL},
    "ent:B": {m: {"B"} for m in _ALL},
    "insurer_picc": {m: {"A"} for m in _ALL},
    "insurer_pingan": {m: {"B"} for m in _ALL},
    "broker_kunlun": {m: {"A"} for m in _ALL},
    "org_demo": {m: {"A"} for m in _ORDER_SIDE},
    "expert_demo": {m: {"A"} for m in _ORDER_SIDE},
    "dept_harbin": {m: {"A"} for m in _ALL},
    "dept_province": {m: {"A", "B"} for m in _ALL},
    "admin": {m: {"A", "B"} for m in _ALL},
    "key:人保财险": {m: {"A"} for m in _ALL},
    "key:平安财险": {m: {"B"} for m in _ALL},
}


def services_missing(*names):
    """The service modules of app.services that are not there (yet)."""
    return [n for n in names if importlib.util.find_spec(f"app.services.{n}") is None]


def needs_services(*names):
    missing = services_missing(*names)
    return pytest.mark.skipif(
        bool(missing),
        reason="service module(s) not in this branch yet: " + ", ".join(f"app.services.{n}" for n in missing),
    )


def build_world(tag=None):
    """Two chains A and B; returns {chain: {model name: id}}. Call inside an app context."""
    tag = tag or uuid.uuid4().hex[:8]
    s = db.session
    company = {c.short_name: c for c in s.query(InsuranceCompany)}
    plan = s.query(Plan).filter_by(code="A").first()
    title = s.query(TitleLevel).order_by(TitleLevel.id).first()
    demo = {u.username: u for u in s.query(AppUser).filter(AppUser.username.in_(["org_demo", "expert_demo"]))}
    org_b = PreventionOrg(name=f"接口测试预防机构{tag}", region_code="230202")
    serial = int(tag[:6], 16) % 9_000_000
    ent_a = Enterprise(
        name=f"接口测试企业甲{tag}", region_code="230103", credit_code=make_credit_code("230103", serial)
    )
    ent_b = Enterprise(
        name=f"接口测试企业乙{tag}", region_code="230202", credit_code=make_credit_code("230202", serial + 1)
    )
    s.add_all([org_b, ent_a, ent_b])
    s.flush()
    role = current_app.appbuilder.sm.find_role("Enterprise")
    users = {}
    for key, ent in (("A", ent_a), ("B", ent_b)):
        users[key] = f"api_ent_{key.lower()}_{tag}"
        s.add(
            AppUser(
                username=users[key],
                first_name="接口",
                last_name="测试",
                email=f"{users[key]}@example.invalid",
                active=True,
                roles=[role],
                party_kind="enterprise",
                enterprise_id=ent.id,
                password=generate_password_hash(DEMO_PASSWORD),
                created_on=utcnow(),
                changed_on=utcnow(),
                password_changed_at=utcnow(),
                is_demo=True,
            )
        )  # certificate role: password only as a demo account

    exp_b = Expert(
        name=f"接口测试专家{tag}",
        id_number=make_id_number("230202", date(1960 + serial % 40, 1 + serial % 12, 1 + serial % 28), serial % 999),
        title_level_id=title.id,
        org_id=org_b.id,
    )
    s.add(exp_b)
    s.flush()
    ids = {}

    def chain(key, ent, region, insurer, broker, org, expert):
        rows = insured_chain(
            s,
            key=key,
            code=f"API-{tag}",
            name=f"接口测试项目{tag}",
            enterprise=ent,
            region=region,
            insurer=insurer,
            broker=broker,
            plan=plan,
            org=org,
            expert=expert,
        )
        v = ServiceVisit(
            order_id=rows["DispatchOrder"].id,
            service_record="检查记录",
            conclusion="结论",
            submitted_at=datetime(2026, 4, 20),
        )
        s.add(v)
        s.flush()
        ids[key] = dict({m: row.id for m, row in rows.items()}, Enterprise=ent.id, ServiceVisit=v.id)

    chain(
        "A",
        ent_a,
        "230103",
        company["人保财险"],
        company["昆仑保险经纪"],
        demo["org_demo"].org,
        demo["expert_demo"].expert,
    )
    chain("B", ent_b, "230202", company["平安财险"], None, org_b, exp_b)
    s.commit()
    ids["users"] = {"ent:A": users["A"], "ent:B": users["B"]}
    return ids


def jwt_headers(client, username, password=DEMO_PASSWORD):
    r = client.post("/api/v1/security/login", json={"username": username, "password": password, "provider": "db"})
    assert r.status_code == 200, r.get_data(as_text=True)
    return {"Authorization": "Bearer " + r.json["access_token"]}


def issue_test_key(app, short_name, name=None):
    """An API key for a company, issued through app.api.keys (the admin view is tested separately)."""
    from app.api.keys import issue_key

    with app.test_request_context():
        company = db.session.query(InsuranceCompany).filter_by(short_name=short_name).one()
        admin = db.session.query(AppUser).filter_by(username="admin").one()
        key, raw = issue_key(company.id, name or f"测试密钥{uuid.uuid4().hex[:6]}", admin)
        return key.id, raw


def minimal_pdf(extra=b""):
    """A well-formed one-page PDF (uploads are read by a real parser); ``extra`` goes into its catalog."""
    objects = [
        b"<</Type/Catalog/Pages 2 0 R " + extra + b">>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    table = b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + table + b"trailer<</Size 4/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % len(out)


def pending_application(insurer="人保财险", broker=None):
    """A project and its application awaiting review (待复审), for a fresh enterprise. Test setup:
    the enterprise-side submission is another feature's service. Returns the application id."""
    tag = uuid.uuid4().hex[:8]
    s = db.session
    company = {c.short_name: c for c in s.query(InsuranceCompany)}
    plan = s.query(Plan).filter_by(code="A").first()
    ent = Enterprise(
        name=f"接口待审企业{tag}",
        region_code="230103",
        credit_code=make_credit_code("230103", int(tag[:6], 16) % 9_000_000),
    )
    s.add(ent)
    s.flush()
    p = Project(
        enterprise_id=ent.id,
        region_code="230103",
        project_code=f"API-PEND-{tag}",
        builder_name="哈尔滨市城投",
        name=f"接口待审项目{tag}",
        investment=2000,
    )
    s.add(p)
    s.flush()
    a = Application(
        project_id=p.id,
        enterprise_id=ent.id,
        region_code="230103",
        insurer_id=company[insurer].id,
        broker_id=company[broker].id if broker else None,
        plan_id=plan.id,
        status="pending_review",
        agreed=True,
        submitted_at=utcnow(),
        contact_phone="13936313636",
    )
    s.add(a)
    s.commit()
    return a.id
