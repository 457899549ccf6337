"""A two-sided world for the security tests: two parties of every kind, each with a full chain of rows.

Side "A" lives in Harbin (230103, department 230100), side "B" in Qiqihar (230202, department 230200).
Every text column a list or an export may show carries the side's unique marker, so a page that
leaks a foreign row is caught by a plain substring search. The world is built directly through the
models (test setup, not a workflow) with unique names, so it does not collide with the demo data or
with other test modules.
"""

import io
import os
import uuid
from dataclasses import dataclass, field

import pytest
from werkzeug.security import generate_password_hash

from app.extensions import db

PASSWORD = "Demo@2026"
SIDES = ("A", "B")
REGION = {"A": "230103", "B": "230202"}
CITY = {"A": "230100", "B": "230200"}
KINDS = ("enterprise", "insurer", "broker", "org", "expert", "department")
ROLE = {
    "enterprise": "Enterprise",
    "insurer": "Insurer",
    "broker": "Broker",
    "org": "PreventionOrg",
    "expert": "Expert",
    "department": "Department",
}


def png_bytes(size=(8, 8), color=(200, 30, 30)):
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def jpeg_bytes(size=(8, 8)):
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 20)).save(out, "JPEG")
    return out.getvalue()


def pdf_bytes(text="hello"):
    from app.demo.insurance import demo_pdf  # a well-formed PDF: uploads are read by a real parser

    return demo_pdf(text)


@dataclass
class World:
    tag: str
    marker: dict  # side -> unique text
    ids: dict  # side -> model name -> [ids]
    users: dict  # (kind, side) -> username
    files: dict = field(default_factory=dict)  # side -> [stored file ids]

    def foreign(self, side):
        return "B" if side == "A" else "A"


def _build(app):
    from chains import insured_chain
    from stdnum.cn import ric

    from app.demo.data import make_credit_code
    from app.models import (
        AppUser,
        AuditEvent,
        Department,
        Enterprise,
        Expert,
        FlowEvent,
        Hazard,
        HazardPhoto,
        InsuranceCompany,
        Plan,
        PreventionOrg,
        RegistryProject,
        Review,
        ServiceVisit,
        TitleLevel,
    )
    from app.models.base import utcnow
    from app.storage import store_bytes

    tag = uuid.uuid4().hex[:8]
    serial = int(tag[:6], 16) % 9_000_000
    marker = {s: f"ISO{s}{tag}" for s in SIDES}
    s = db.session
    sm = app.appbuilder.sm
    plan = s.query(Plan).filter_by(code="A").first()
    title = s.query(TitleLevel).filter_by(code="senior").one()
    ids = {side: {} for side in SIDES}
    users = {}
    files = {side: [] for side in SIDES}

    def put(side, obj):
        ids[side].setdefault(type(obj).__name__, []).append(obj.id)

    parties = {}
    for n, side in enumerate(SIDES):
        m = marker[side]
        ent = Enterprise(
            name=f"隔离企业{m}",
            region_code=REGION[side],
            credit_code=make_credit_code(REGION[side], 30_000_000 + serial * 2 + n),
            contact_name=f"联系人{m}",
        )
        ins = InsuranceCompany(
            name=f"隔离保险{tag}{side}", short_name=f"隔保{tag}{side}", kind="insurer", login_order=900 + n
        )
        org = PreventionOrg(name=f"隔离机构{tag}{side}", region_code=REGION[side])
        dept = Department(name=f"隔离住建局{tag}{side}", region_code=CITY[side])
        s.add_all([ent, ins, org, dept])
        s.flush()
        body = f"23010319800101{(serial + n) % 1000:03d}"
        exp = Expert(
            name=f"专家{m}", id_number=body + ric.calc_check_digit(body), title_level_id=title.id, org_id=org.id
        )
        s.add(exp)
        s.flush()
        parties[side] = dict(enterprise=ent, insurer=ins, org=org, expert=exp, department=dept)
        for obj in (ent, ins, org, exp, dept):
            put(side, obj)
    broker = InsuranceCompany(name=f"隔离经纪{tag}", short_name=f"隔经{tag}", kind="broker", login_order=950)
    broker.partner_insurers = [parties["A"]["insurer"]]
    s.add(broker)
    s.flush()
    parties["A"]["broker"] = broker

    def user(kind, side, **party):
        username = f"iso_{kind}_{side.lower()}_{tag}"
        u = AppUser(
            username=username,
            first_name=kind,
            last_name=side,
            email=f"{username}@example.invalid",
            active=True,
            password=generate_password_hash(PASSWORD),
            roles=[sm.find_role(ROLE[kind])],
            password_changed_at=utcnow(),
            created_on=utcnow(),
            changed_on=utcnow(),
            party_kind=kind,
            is_demo=True,
            **party,
        )  # certificate roles sign in by password only as demo accounts
        s.add(u)
        s.flush()
        users[(kind, side)] = username
        put(side, u)

    for side in SIDES:
        p = parties[side]
        user("enterprise", side, enterprise_id=p["enterprise"].id)
        user("insurer", side, company_id=p["insurer"].id)
        user("org", side, org_id=p["org"].id)
        user("expert", side, expert_id=p["expert"].id)
        user("department", side, department_id=p["department"].id)
    user("broker", "A", company_id=broker.id)

    for side in SIDES:
        m, p, region = marker[side], parties[side], REGION[side]
        ent = p["enterprise"]
        made = insured_chain(
            s,
            key=m,
            code="PC",
            name="项目",
            enterprise=ent,
            region=region,
            insurer=p["insurer"],
            broker=p.get("broker"),
            plan=plan,
            org=p["org"],
            expert=p["expert"],
            order_status="in_service",
            extra={
                "Project": dict(builder_name=f"建设单位{m}", address=f"地址{m}"),
                "Application": dict(review_opinion=f"意见{m}"),
                "Claim": dict(remark=f"理赔{m}"),
                "DispatchOrder": dict(service_place=f"现场{m}"),
            },
        )
        pr, app_row, pol, claim, order = (
            made[k] for k in ("Project", "Application", "Policy", "Claim", "DispatchOrder")
        )
        visit = ServiceVisit(order_id=order.id, service_record=f"记录{m}", conclusion=f"结论{m}")
        hazard = Hazard(
            order_id=order.id,
            region_code=region,
            seq=1,
            level="general",
            category_id=1,
            description=f"隐患{m}",
            suggestion=f"建议{m}",
        )
        review = Review(order_id=order.id, stage="org", verdict="pass", opinion=f"审核{m}")
        reg = RegistryProject(
            project_code=f"REG-{m}", name=f"登记项目{m}", region_code=region, enterprise_name=f"隔离企业{m}"
        )
        s.add_all([visit, hazard, review, reg])
        s.flush()
        flow = FlowEvent(
            entity_type="application", entity_id=app_row.id, action="submit", comment=f"流程{m}", created_at=utcnow()
        )
        audit = AuditEvent(action="download", username=f"审计{m}", detail=f"审计{m}", created_at=utcnow())
        s.add_all([flow, audit])
        s.flush()
        uploader = None
        for owner, kind, data, name in (
            (ent, "business_license", png_bytes(), f"营业执照{m}.png"),
            (app_row, "contract", pdf_bytes(m), f"合同{m}.pdf"),
            (pol, "policy_file", pdf_bytes(m), f"保单{m}.pdf"),
            (p["expert"], "expert_cert", jpeg_bytes(), f"证书{m}.jpg"),
            (visit, "signin_photo", jpeg_bytes(), f"签到{m}.jpg"),
            (order, "report_pdf", pdf_bytes(m), f"报告{m}.pdf"),
            (hazard, "hazard_photo", png_bytes(), f"隐患{m}.png"),
        ):
            f = store_bytes(s, data, name, kind, user_id=uploader, owner=owner)
            s.flush()
            files[side].append(f.id)
        ent.business_license_file_id = files[side][0]
        app_row.contract_file_id = files[side][1]
        pol.policy_file_id = files[side][2]
        p["expert"].cert_file_id = files[side][3]
        visit.signin_photo_file_id = files[side][4]
        visit.report_file_id = files[side][5]
        photo = HazardPhoto(hazard_id=hazard.id, file_id=files[side][6], kind="hazard")
        s.add(photo)
        s.flush()
        for obj in (pr, app_row, pol, claim, order, visit, hazard, review, reg, flow, audit, photo):
            put(side, obj)
        ids[side]["StoredFile"] = list(files[side])
    ids["A"]["InsuranceCompany"].append(broker.id)
    s.commit()
    return World(tag=tag, marker=marker, ids=ids, users=users, files=files)


@pytest.fixture(scope="session")
def world(app):
    with app.app_context():
        w = _build(app)
        db.session.remove()
    return w


def pytest_collection_modifyitems(session, config, items):
    """The security world adds parties (companies, departments) to the one test database of the run;
    tests elsewhere that count every party must not see them, so the security tests run last."""
    here = os.path.dirname(os.path.abspath(__file__))
    items.sort(key=lambda item: str(item.path).startswith(here))
