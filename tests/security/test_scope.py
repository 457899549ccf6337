"""The one scope rule: every role × every scoped model, and foreign ids on FAB's row paths.

A small world with two of each kind of party is built directly (test setup, not a workflow): for
each demo account the rows it may see are exactly the expected ones.
"""

from datetime import date

import pytest
from factories.chains import insured_chain
from flask import g
from sqlalchemy import select

from app.demo.data import make_credit_code, make_id_number
from app.extensions import db
from app.models import (
    Application,
    AppUser,
    Claim,
    Department,
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
    StoredFile,
    TitleLevel,
)
from app.reference.data import BROKERS, INSURERS
from app.security.scope import (
    _FLOW_ENTITIES,
    INT32_MAX,
    NOBODY,
    RULES,
    criterion,
    current_user_obj,
    file_visible,
    get_scoped,
    get_scoped_file_or_404,
    is_visible,
    party_of,
    scoped_select,
    valid_pk,
)


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

        def account(username, role, **party):
            s.add(
                AppUser(
                    username=username,
                    first_name="范围",
                    last_name="测试",
                    email=f"{username}@example.invalid",
                    active=True,
                    roles=[s.query(Role).filter_by(name=role).one()],
                    is_demo=True,
                    password=generate_password_hash("Demo@2026"),
                    password_changed_at=utcnow(),
                    **party,
                )
            )

        for username, ent in (("scope_ent_a", ent_a), ("scope_ent_b", ent_b)):
            account(username, "Enterprise", party_kind="enterprise", enterprise_id=ent.id)
        # chain B's broker, a later broker than chain A's 昆仑 (a wrong comparison of ids shows in both)
        hexiang = company["合翔保险经纪"]
        account("scope_broker_b", "Broker", party_kind="broker", company_id=hexiang.id)
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
        account("scope_expert_b", "Expert", party_kind="expert", expert_id=exp_b.id)
        account("scope_org_b", "PreventionOrg", party_kind="org", org_id=org_b.id)
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
        chain("B", ent_b, "230202", company["平安财险"], hexiang, org_b, exp_b)
        # 平安's own expert (an insurer may keep experts of its own), seen by 平安 and not by 人保
        exp_own = Expert(
            name="测试平安专家",
            id_number=make_id_number("230202", date(1981, 3, 4), 457),
            title_level_id=title.id,
            company_id=company["平安财险"].id,
        )
        # an expert who served 人保's order A and has moved to an organisation 人保 never dispatched to:
        # 人保 sees them by that order alone
        org_c = PreventionOrg(name="测试预防机构丙", region_code="230202")
        # a colleague of the demo expert at org_demo who served no order: seen through the org alone
        exp_colleague = Expert(
            name="测试同事专家",
            id_number=make_id_number("230103", date(1983, 7, 8), 459),
            title_level_id=title.id,
            org_id=org_a.id,
        )
        s.add_all([exp_own, org_c, exp_colleague])
        s.flush()
        exp_moved = Expert(
            name="测试调离专家",
            id_number=make_id_number("230202", date(1982, 5, 6), 458),
            title_level_id=title.id,
            org_id=org_c.id,
        )
        # an org that only 人保 dispatched to (order A-2), with an expert who served nothing; and 人保's own
        org_d = PreventionOrg(name="测试预防机构丁", region_code="230103")
        s.add_all([exp_moved, org_d])
        s.flush()
        exp_idle = Expert(
            name="测试待命专家",
            id_number=make_id_number("230103", date(1984, 9, 10), 460),
            title_level_id=title.id,
            org_id=org_d.id,
        )
        exp_picc = Expert(
            name="测试人保专家",
            id_number=make_id_number("230103", date(1985, 11, 12), 461),
            title_level_id=title.id,
            company_id=company["人保财险"].id,
        )
        s.add_all([exp_idle, exp_picc])
        s.flush()
        first = rows["A"]["DispatchOrder"]
        s.add(
            DispatchOrder(
                order_no="SCOPE-A-2",
                policy_id=first.policy_id,
                project_id=first.project_id,
                enterprise_id=first.enterprise_id,
                region_code=first.region_code,
                insurer_id=first.insurer_id,
                org_id=org_d.id,
                expert_id=exp_moved.id,
                service_place="现场",
                start_date=date(2026, 5, 1),
                end_date=date(2026, 5, 31),
                deadline=date(2026, 5, 5),
                status="completed",
            )
        )
        # an enterprise registered in 齐齐哈尔 with a project in 哈尔滨: the Harbin department sees it
        ent_c = Enterprise(
            name="范围测试企业丙", region_code="230202", credit_code=make_credit_code("230202", 77000003)
        )
        s.add(ent_c)
        s.flush()
        s.add(
            Project(
                enterprise_id=ent_c.id,
                region_code="230103",
                project_code="SCOPE-C-HARBIN",
                name="范围测试项目丙",
                builder_name="测试建设单位",
                address="哈尔滨市南岗区测试路3号",
                investment=100,
                insurance_status="draft",
            )
        )
        s.commit()
        ids = {k: {m: obj.id for m, obj in v.items()} for k, v in rows.items()}
        ids["experts"] = {
            "A": exp_a.id,
            "B": exp_b.id,
            "own": exp_own.id,
            "moved": exp_moved.id,
            "colleague": exp_colleague.id,
            "idle": exp_idle.id,
            "picc_own": exp_picc.id,
        }
        ids["enterprise_c"] = ent_c.id
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
    "scope_broker_b": {m: {"B"} for m in MODELS if m != "RegistryProject"},
    "org_demo": {
        m: {"A"} for m in ("Project", "Policy", "DispatchOrder", "ServiceVisit", "Hazard", "Review", "Enterprise")
    },
    "expert_demo": {
        m: {"A"} for m in ("Project", "Policy", "DispatchOrder", "ServiceVisit", "Hazard", "Review", "Enterprise")
    },
    "scope_expert_b": {
        m: {"B"} for m in ("Project", "Policy", "DispatchOrder", "ServiceVisit", "Hazard", "Review", "Enterprise")
    },
    "scope_org_b": {
        m: {"B"} for m in ("Project", "Policy", "DispatchOrder", "ServiceVisit", "Hazard", "Review", "Enterprise")
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


# account -> the experts of this world it sees: A (the demo expert, of org_demo), B (of org B), 平安's own
# expert, the expert who served 人保's second order A and then moved to an org 人保 never used, a
# colleague of A at org_demo who has served no order, an idle expert of org 丁 (to which only 人保's second
# order A went) and 人保's own expert
EXPERTS = {
    "org_demo": {"A", "colleague"},
    "scope_org_b": {"B"},
    "expert_demo": {"A"},
    "scope_expert_b": {"B"},
    # its own, those of the orgs it dispatched to (org_demo, 丁), those who served its orders
    "insurer_picc": {"A", "moved", "colleague", "idle", "picc_own"},
    "scope_ent_a": {"A", "moved"},  # those who served its orders
    "scope_ent_b": {"B"},
    "broker_kunlun": {"A", "moved"},
    "scope_broker_b": {"B"},
    "dept_harbin": {"A", "moved"},
    "dept_province": {"A", "B", "own", "moved", "colleague", "idle", "picc_own"},
}


# The demo expert (A) serves orders that other tests make with the demo companies, 合翔 among them (committed
# tests keep their rows): whether 合翔 sees A depends on which tests ran before, so it is not asserted.
SHARED = {"scope_broker_b": {"A"}}


@pytest.mark.parametrize("username", sorted(EXPERTS))
def test_experts_are_scoped(app, world, username):
    with app.test_request_context():
        user = db.session.query(AppUser).filter_by(username=username).one()
        crit = criterion(Expert, user)
        stmt = select(Expert.id).where(Expert.id.in_(world["experts"].values()))
        if crit is not None:
            stmt = stmt.where(crit)
        names = {v: k for k, v in world["experts"].items()}
        shared = SHARED.get(username, set())
        assert {names[i] for i in db.session.execute(stmt).scalars()} - shared == EXPERTS[username] - shared


def test_an_insurer_sees_its_own_experts_and_those_of_the_orgs_it_dispatched_to(app, world):
    # the demo expert A may work for other insurers' orders made by other tests: only the rest is asserted
    with app.test_request_context():
        pingan = db.session.query(AppUser).filter_by(username="insurer_pingan").one()
        seen = set(db.session.execute(select(Expert.id).where(criterion(Expert, pingan))).scalars())
        experts = world["experts"]
        assert experts["B"] in seen and experts["own"] in seen
        # 人保's own expert, and those of an org only 人保 dispatched to or who served only 人保: a later company
        # than 人保 does not see them
        assert not seen & {experts["moved"], experts["idle"], experts["picc_own"]}


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
        # a role an administrator made, named before "Admin": a role is Admin by its name, not its order
        made = Role(name="Accountant")
        db.session.add(made)
        u.roles.append(made)
        db.session.add(u)
        db.session.flush()
        assert not party_of(u).sees_all
        for model in RULES:  # every rule answers such a party, none fails on its missing kind
            seen = db.session.execute(select(model.id).where(criterion(model, u))).scalars().all()
            assert seen == ([u.id] if model is AppUser else []), model.__name__
        db.session.rollback()


def test_admin_is_the_admin_role_not_any_party_that_sees_all(app):
    with app.test_request_context():
        admin = db.session.query(AppUser).filter_by(username="admin").one()
        province = db.session.query(AppUser).filter_by(username="dept_province").one()
        assert party_of(admin).is_admin and party_of(admin).sees_all
        assert party_of(province).sees_all and not party_of(province).is_admin


def test_nobody_signed_in_is_nobody(app):
    from flask_login import AnonymousUserMixin

    assert party_of(None) == NOBODY  # outside a request: no current user
    with app.test_request_context():
        assert party_of(None) == NOBODY
        assert party_of(AnonymousUserMixin()) == NOBODY
        g.user = AnonymousUserMixin()  # a request before sign-in: no current user for the audit log either
        assert current_user_obj() is None


def test_directories_are_open_to_whoever_signed_in(app):
    """Models without a rule (insurance companies, orgs, reference lists) serve the forms of every
    signed-in party, and nobody else."""
    with app.test_request_context():
        picc = db.session.query(AppUser).filter_by(username="insurer_picc").one()
        assert criterion(InsuranceCompany, picc) is None
        nobody = criterion(InsuranceCompany, None)
        assert nobody is not None
        assert db.session.execute(select(InsuranceCompany.id).where(nobody)).first() is None


def test_a_row_is_found_by_its_id_in_scope(app, world):
    with app.test_request_context():
        picc = db.session.query(AppUser).filter_by(username="insurer_picc").one()
        own = world["A"]["Policy"]
        assert get_scoped(Policy, own, picc).id == own
        assert get_scoped(Policy, str(own), picc).id == own
        assert get_scoped(Policy, world["B"]["Policy"], picc) is None


@pytest.mark.parametrize("username,own", [("insurer_pingan", "平安财险"), ("broker_kunlun", "昆仑保险经纪")])
def test_member_info_lists_the_company_itself(as_user, username, own):
    """会员信息 (OwnPartyFilter): the company's own record and no other."""
    page = as_user(username).get("/member/list/").get_data(as_text=True)
    names = {short for short, _full in INSURERS + BROKERS}
    assert {n for n in names if f">{n}<" in page} == {own}


def test_the_party_is_worked_out_once_a_request(app):
    """Every rule of a request asks for the party: the one worked out first is the one answered after."""
    with app.test_request_context():
        harbin = db.session.query(AppUser).filter_by(username="dept_harbin").one()
        first = party_of(harbin)
        assert party_of(harbin) is first and first.region_prefix == "2301"
    with app.test_request_context():  # the next request works it out again
        harbin = db.session.query(AppUser).filter_by(username="dept_harbin").one()
        assert party_of(harbin) is not first and party_of(harbin) == first


def test_a_party_cannot_be_changed_by_its_reader(app):
    """The party is cached for the request and read by every rule: no reader may alter it for the next."""
    from dataclasses import FrozenInstanceError

    with app.test_request_context():
        harbin = db.session.query(AppUser).filter_by(username="dept_harbin").one()
        with pytest.raises(FrozenInstanceError):
            party_of(harbin).region_prefix = ""


def test_each_sees_its_own_account_and_department(app, world):
    with app.test_request_context():
        county = Department(name="范围测试县住建局", region_code="230103")  # a department made after the demo's
        db.session.add(county)
        db.session.flush()
        # 人保 and org_demo are the first of their kinds (id 1, as is the province's department): a rule that
        # compared any party's id with the department's would show them that department
        for username in ("dept_harbin", "insurer_pingan", "insurer_picc", "org_demo", "scope_ent_b"):
            user = db.session.query(AppUser).filter_by(username=username).one()
            accounts = db.session.execute(select(AppUser.id).where(criterion(AppUser, user))).scalars().all()
            assert accounts == [user.id], username
            departments = db.session.execute(select(Department.id).where(criterion(Department, user))).scalars()
            assert departments.all() == ([user.department_id] if user.department_id else []), username
        db.session.rollback()


def test_a_department_sees_an_enterprise_by_a_project_in_its_region(app, world):
    """范围测试企业丙 is registered in 齐齐哈尔 and builds in 哈尔滨."""
    with app.test_request_context():
        harbin = db.session.query(AppUser).filter_by(username="dept_harbin").one()
        assert is_visible(Enterprise, world["enterprise_c"], harbin)
        insurer = db.session.query(AppUser).filter_by(username="insurer_picc").one()
        assert not is_visible(Enterprise, world["enterprise_c"], insurer)


def test_flow_records_follow_their_own_row(app, world):
    """A flow record of each kind for every row id of this world, so that ids of one kind meet rows of
    another: each account sees exactly the records whose row (that kind, that id) it sees."""
    ids = sorted({i for chain in ("A", "B") for i in world[chain].values()})
    with app.test_request_context():
        made = []
        for entity_type in _FLOW_ENTITIES:
            for entity_id in ids:
                event = FlowEvent(entity_type=entity_type, entity_id=entity_id, action="scope-test")
                db.session.add(event)
                made.append(event)
        db.session.flush()
        mine = [e.id for e in made]
        for username in ("insurer_picc", "scope_ent_b", "org_demo", "dept_harbin", "scope_broker_b"):
            user = db.session.query(AppUser).filter_by(username=username).one()
            expected = {e.id for e in made if is_visible(_FLOW_ENTITIES[e.entity_type], e.entity_id, user)}
            seen = db.session.execute(
                select(FlowEvent.id).where(FlowEvent.id.in_(mine), criterion(FlowEvent, user))
            ).scalars()
            assert set(seen) == expected and expected, username
        db.session.rollback()


def test_scoped_select_restricts_the_columns_asked_for(app, world):
    with app.test_request_context():
        picc = db.session.query(AppUser).filter_by(username="insurer_picc").one()
        both = [world["A"]["Policy"], world["B"]["Policy"]]
        stmt = scoped_select(Policy, picc, Policy.id).where(Policy.id.in_(both))
        assert db.session.execute(stmt).scalars().all() == [world["A"]["Policy"]]
        admin = db.session.query(AppUser).filter_by(username="admin").one()
        stmt = scoped_select(Policy, admin, Policy.id).where(Policy.id.in_(both)).order_by(Policy.id)
        assert db.session.execute(stmt).scalars().all() == sorted(both)


@pytest.mark.parametrize(
    "pk,valid",
    [
        ("7", True),
        ("1", True),  # the first row of every table
        (" 7 ", True),
        (7, True),
        (INT32_MAX, True),
        (INT32_MAX + 1, False),
        ("0", False),
        ("-3", False),
        ("abc", False),
        ("7.5", False),
        (None, False),
        ("", False),
    ],
)
def test_what_can_be_a_row_id(app, world, pk, valid):
    assert valid_pk(pk) is valid
    if not valid:  # no row is visible, nor looked up, by what cannot be an id
        with app.test_request_context():
            picc = db.session.query(AppUser).filter_by(username="insurer_picc").one()
            assert is_visible(Policy, pk, picc) is False
            assert get_scoped(Policy, pk, picc) is None


def test_a_file_is_seen_with_the_row_that_owns_it(app, world):
    from werkzeug.exceptions import NotFound

    with app.test_request_context():
        picc = db.session.query(AppUser).filter_by(username="insurer_picc").one()
        own, foreign = world["A"]["Policy"], world["B"]["Policy"]
        assert file_visible(StoredFile(owner_type="policy", owner_id=own), picc)
        assert not file_visible(StoredFile(owner_type="policy", owner_id=foreign), picc)
        assert not file_visible(StoredFile(owner_type="policy", owner_id=None), picc)
        assert not file_visible(StoredFile(owner_type="nothing-such", owner_id=own), picc)
        admin = db.session.query(AppUser).filter_by(username="admin").one()
        assert file_visible(StoredFile(owner_type="policy", owner_id=foreign), admin)
        stored = StoredFile(
            key="scope-test-key",
            original_name="保单.pdf",
            content_type="application/pdf",
            size=1,
            sha256="0" * 64,
            kind="policy",
            owner_type="policy",
            owner_id=own,
        )
        db.session.add(stored)
        db.session.flush()
        assert get_scoped_file_or_404(stored.id, picc) is stored
        assert get_scoped_file_or_404(str(stored.id), picc) is stored
        for bad in ("abc", "0", str(INT32_MAX + 1)):
            with pytest.raises(NotFound):
                get_scoped_file_or_404(bad, picc)
        pingan = db.session.query(AppUser).filter_by(username="insurer_pingan").one()
        with pytest.raises(NotFound):
            get_scoped_file_or_404(stored.id, pingan)
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
