"""The one scope rule: every role × every scoped model, and foreign ids on FAB's row paths.

A small world with two of each kind of party is built directly (test setup, not a workflow): for
each demo account the rows it may see are exactly the expected ones.
"""

from datetime import date

import pytest
from factories.chains import insured_chain
from sqlalchemy import select

from app.demo.data import make_credit_code, make_id_number
from app.extensions import db
from app.models import (
    Application,
    AppUser,
    Claim,
    DispatchOrder,
    Enterprise,
    Expert,
    FlowEvent,
    Hazard,
    InsuranceCompany,
    Plan,
    Policy,
    PreventionOrg,
    Project,
    RegistryProject,
    Review,
    ServiceVisit,
    TitleLevel,
)
from app.security.scope import criterion, party_of


@pytest.fixture(scope="module")
def world(app):
    with app.app_context():
        s = db.session
        company = {c.short_name: c for c in s.query(InsuranceCompany)}
        plan = s.query(Plan).filter_by(code="A").first()
        title = s.query(TitleLevel).filter_by(code="senior").one()
        demo = {u.username: u for u in s.query(AppUser)}
        # Fresh enterprises and accounts: other tests link the demo enterprises to more companies.
        ent_a = Enterprise(
            name="范围测试企业甲", region_code="230103", credit_code=make_credit_code("230103", 77000001)
        )
        ent_b = Enterprise(
            name="范围测试企业乙", region_code="230202", credit_code=make_credit_code("230202", 77000002)
        )
        s.add_all([ent_a, ent_b])
        s.flush()
        from flask_appbuilder.security.sqla.models import Role
        from werkzeug.security import generate_password_hash

        from app.models.base import utcnow

        role = s.query(Role).filter_by(name="Enterprise").one()
        for username, ent in (("scope_ent_a", ent_a), ("scope_ent_b", ent_b)):
            s.add(
                AppUser(
                    username=username,
                    first_name="范围",
                    last_name="测试",
                    email=f"{username}@example.invalid",
                    active=True,
                    roles=[role],
                    party_kind="enterprise",
                    enterprise_id=ent.id,
                    is_demo=True,
                    password=generate_password_hash("Demo@2026"),
                    password_changed_at=utcnow(),
                )
            )
        org_a = demo["org_demo"].org
        exp_a = demo["expert_demo"].expert
        org_b = PreventionOrg(name="测试预防机构乙", region_code="230202")
        s.add(org_b)
        s.flush()
        exp_b = Expert(
            name="测试专家乙",
            id_number=make_id_number("230202", date(1980, 1, 2), 456),
            title_level_id=title.id,
            org_id=org_b.id,
        )
        s.add(exp_b)
        s.flush()
        rows = {}

        def chain(key, ent, region, insurer, broker, org, expert):
            made = insured_chain(
                s,
                key=key,
                code="SCOPE",
                name="范围测试项目",
                enterprise=ent,
                region=region,
                insurer=insurer,
                broker=broker,
                plan=plan,
                org=org,
                expert=expert,
                order_status="in_service",
            )
            o, p, a = made["DispatchOrder"], made["Project"], made["Application"]
            v = ServiceVisit(order_id=o.id)
            h = Hazard(order_id=o.id, region_code=region, seq=1, level="general", category_id=1, description="d")
            r = Review(order_id=o.id, stage="org", verdict="pass")
            reg = RegistryProject(project_code=f"SCOPE-REG-{key}", name=p.name, region_code=region)
            s.add_all([v, h, r, reg])
            s.flush()
            s.add(FlowEvent(entity_type="application", entity_id=a.id, action="submit"))
            rows[key] = dict(made, ServiceVisit=v, Hazard=h, Review=r, RegistryProject=reg, Enterprise=ent)

        chain("A", ent_a, "230103", company["人保财险"], company["昆仑保险经纪"], org_a, exp_a)
        chain("B", ent_b, "230202", company["平安财险"], None, org_b, exp_b)
        s.commit()
        ids = {k: {m: obj.id for m, obj in v.items()} for k, v in rows.items()}
        ids["experts"] = {"A": exp_a.id, "B": exp_b.id}
        return ids


MODELS = {
    m.__name__: m
    for m in (
        Project,
        Application,
        Policy,
        Claim,
        DispatchOrder,
        ServiceVisit,
        Hazard,
        Review,
        RegistryProject,
        Enterprise,
    )
}

# account -> chains whose rows it sees, per model ("*": both; none listed: neither)
EXPECTED = {
    "scope_ent_a": {m: {"A"} for m in MODELS if m != "RegistryProject"},
    "scope_ent_b": {m: {"B"} for m in MODELS if m != "RegistryProject"},
    "insurer_picc": {m: {"A"} for m in MODELS if m != "RegistryProject"},
    "insurer_pingan": {m: {"B"} for m in MODELS if m != "RegistryProject"},
    "broker_kunlun": {m: {"A"} for m in MODELS if m != "RegistryProject"},
    "org_demo": {
        m: {"A"} for m in ("Project", "Policy", "DispatchOrder", "ServiceVisit", "Hazard", "Review", "Enterprise")
    },
    "expert_demo": {
        m: {"A"} for m in ("Project", "Policy", "DispatchOrder", "ServiceVisit", "Hazard", "Review", "Enterprise")
    },
    "dept_harbin": {m: {"A"} for m in MODELS},
    "dept_province": {m: {"A", "B"} for m in MODELS},
    "admin": {m: {"A", "B"} for m in MODELS},
}


@pytest.mark.parametrize("username", sorted(EXPECTED))
@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_scope_matrix(app, world, username, model_name):
    model = MODELS[model_name]
    with app.test_request_context():
        user = db.session.query(AppUser).filter_by(username=username).one()
        stmt = select(model.id).where(model.id.in_([world["A"][model_name], world["B"][model_name]]))
        crit = criterion(model, user)
        if crit is not None:
            stmt = stmt.where(crit)
        seen = set(db.session.execute(stmt).scalars())
        expected = {world[k][model_name] for k in EXPECTED[username].get(model_name, set())}
        assert seen == expected


def test_experts_are_scoped(app, world):
    with app.test_request_context():
        # expert B's org is this world's own; expert A (the demo expert) may work for other insurers'
        # orders made by other tests, so insurer_pingan's view of A is not asserted
        for username, visible in (
            ("org_demo", {"A"}),
            ("expert_demo", {"A"}),
            ("insurer_picc", {"A"}),
            ("dept_province", {"A", "B"}),
        ):
            user = db.session.query(AppUser).filter_by(username=username).one()
            crit = criterion(Expert, user)
            stmt = select(Expert.id).where(Expert.id.in_(world["experts"].values()))
            if crit is not None:
                stmt = stmt.where(crit)
            assert set(db.session.execute(stmt).scalars()) == {world["experts"][k] for k in visible}, username
        pingan = db.session.query(AppUser).filter_by(username="insurer_pingan").one()
        seen = set(db.session.execute(select(Expert.id).where(criterion(Expert, pingan))).scalars())
        assert world["experts"]["B"] in seen


def test_party_of_department_levels(app):
    with app.test_request_context():
        prov = db.session.query(AppUser).filter_by(username="dept_province").one()
        harbin = db.session.query(AppUser).filter_by(username="dept_harbin").one()
        assert party_of(prov).sees_all
        assert party_of(harbin).region_prefix == "2301" and not party_of(harbin).sees_all


def test_user_without_party_or_admin_sees_nothing(app, world):
    with app.test_request_context():
        from flask_appbuilder.security.sqla.models import Role

        u = AppUser(
            username="no_party_user",
            first_name="无",
            last_name="单位",
            email="np@example.invalid",
            active=True,
            roles=[db.session.query(Role).filter_by(name="Department").one()],
        )
        db.session.add(u)
        db.session.flush()
        stmt = select(Project.id).where(criterion(Project, u))
        assert db.session.execute(stmt).first() is None
        db.session.rollback()


# Foreign ids on FAB's row paths: list, show, edit, delete, action, action_post
PATHS = [
    ("insurer_pingan", "/applications", "Application", "A"),
    ("insurer_picc", "/policies", "Policy", "B"),
    ("insurer_picc", "/ledger", "Policy", "B"),
    ("scope_ent_a", "/projects", "Project", "B"),
    ("dept_harbin", "/dept/projects", "Project", "B"),
    ("dept_harbin", "/enterprises", "Enterprise", "B"),
    ("org_demo", "/orders", "DispatchOrder", "B"),
    ("org_demo", "/org/received", "DispatchOrder", "B"),
    ("expert_demo", "/expert/todo", "DispatchOrder", "B"),
    ("broker_kunlun", "/applications", "Application", "B"),
]


@pytest.mark.parametrize("username,base,model_name,foreign", PATHS)
def test_foreign_row_answers_404(app, as_user, world, username, base, model_name, foreign):
    client = as_user(username)
    pk = world[foreign][model_name]
    own = world["A" if foreign == "B" else "B"][model_name]
    listing = client.get(f"{base}/list/?psize_{base}=100")
    assert listing.status_code == 200
    assert client.get(f"{base}/show/{pk}").status_code == 404
    assert client.get(f"{base}/edit/{pk}").status_code in (403, 404)
    assert client.post(f"{base}/edit/{pk}").status_code in (403, 404)
    # GET delete is refused as a GET mutation (302 back) or by permission; POST must be 403/404
    assert client.get(f"{base}/delete/{pk}").status_code in (302, 403, 404)
    assert client.post(f"{base}/delete/{pk}").status_code in (403, 404, 405)
    assert client.get(f"{base}/download/anything.pdf").status_code == 404
    assert client.post(f"{base}/action/muldelete/{pk}").status_code == 404
    assert client.post(f"{base}/action_post", data={"action": "muldelete", "rowid": [pk]}).status_code == 404
    assert client.post(f"{base}/action_post", data={"action": "muldelete", "rowid": [own, pk]}).status_code == 404
    with app.app_context():
        assert db.session.get(MODELS[model_name], pk) is not None
