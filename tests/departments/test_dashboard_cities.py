"""数据大屏 by city (附件2): each city's 承保比例 takes numerator and denominator from the same set — its
valid registry projects, and those of them whose project code is insured — so it never exceeds 100 %;
insured projects missing from the registry are counted beside the ratio. 已登录建筑单位数量 and 注册比率
count enterprises that have signed in at least once. Two cities on a clean slate (every other registry
row set invalid, every other project uninsured, every other enterprise never signed in, inside the
test's transaction)."""

from decimal import Decimal as D

from factories.departments import department_user
from sqlalchemy import update

from app import clock
from app.demo.data import make_credit_code
from app.extensions import db
from app.models import AppUser, Claim, Department, Enterprise, Project, RegistryProject
from app.services import statistics

# city -> (county, registry projects, of them insured, insured outside the registry), counted by hand.
# 齐齐哈尔 (2302) is the case: 1 registry project, 2 insured — once 200 %, now 100 % and 1 outside.
ROWS = {
    "2327": ("232701", 4, 1, 0),
    "2301": ("230103", 2, 2, 0),
    "2302": ("230202", 1, 1, 1),
    "2303": ("230302", 3, 0, 0),
}
# 鸡西 (2303): its three registry projects have projects of their codes that are not (or no longer) insured,
# in statuses on either side of 'insured'
NOT_INSURED = {"2303": ("expired", "approved", "surrendered")}


def _build():
    s = db.session
    s.execute(update(RegistryProject).values(valid=False))
    s.execute(update(Project).values(insurance_status="uninsured"))
    s.execute(update(Enterprise).values(first_login_at=None))
    signed = Enterprise(
        name="城市比例测试企业",
        region_code="232701",
        credit_code=make_credit_code("232701", 82000001),
        first_login_at=clock.now(),
    )
    # created by an administrator, never signed in: neither 已登录 nor in 注册比率's numerator
    never = Enterprise(name="从未登录的企业", region_code="230103", credit_code=make_credit_code("230103", 82000002))
    s.add_all([signed, never])
    s.flush()
    for city, (county, registered, insured, outside) in ROWS.items():
        owner = signed if city != "2301" else never
        for n in range(registered):
            s.add(
                RegistryProject(
                    project_code=f"CITY-{city}-{n}",
                    name=f"城市比例登记{city}-{n}",
                    region_code=county,
                    credit_code=owner.credit_code,
                    valid=True,
                )
            )
        statuses = ["insured"] * (insured + outside) + list(NOT_INSURED.get(city, ()))
        for n, status in enumerate(statuses):
            code = f"CITY-{city}-OUT{n}" if insured <= n < insured + outside else f"CITY-{city}-{n}"
            s.add(
                Project(
                    enterprise_id=signed.id,
                    region_code=county,
                    project_code=code,
                    name=f"城市比例项目{city}-{n}",
                    investment=10,
                    insurance_status=status,
                )
            )
    s.flush()


def test_each_city_ratio_from_its_own_rows(app):
    with app.test_request_context():
        from app.services import figures_cache

        _build()
        figures_cache.clear()
        province = db.session.query(AppUser).filter_by(username="dept_province").one()
        fig = statistics.dashboard(province)
        cities = {c["code"]: c for c in fig["cities"]}
        assert (fig["project_total"], fig["insured_projects"], fig["insured_in_registry"]) == (10, 5, 4)
        assert fig["insured_ratio"] == D("0.4000") and fig["insured_outside_registry"] == 1
        assert {
            k: (c["projects"], c["insured"], c["insured_ratio"], c["insured_outside_registry"])
            for k, c in cities.items()
            if c["projects"]
        } == {
            "232700": (4, 1, D("0.2500"), 0),
            "230100": (2, 2, D("1.0000"), 0),
            "230200": (1, 1, D("1.0000"), 1),
            "230300": (3, 0, D("0.0000"), 0),
        }
        # the other cities have no registry row in this slate: zeros, not a default of their own
        empty = [c for c in fig["cities"] if c["code"][:4] not in ROWS]
        assert len(empty) == len(fig["cities"]) - len(ROWS) > 0
        assert {(c["projects"], c["insured"], c["insured_ratio"], c["insured_outside_registry"]) for c in empty} == {
            (0, 0, D("0.0000"), 0)
        }
        assert all(c["insured_ratio"] <= 1 for c in fig["cities"])
        # two registry enterprises, one of them has signed in
        assert (fig["registry_enterprises"], fig["registered_enterprises"]) == (2, 1)
        assert fig["registration_ratio"] == D("0.5000")
        assert fig["logged_in_enterprises"] == 1
        # cities without any claim (found by a query of their own): zeros, not a default of their own
        claim_cities = {code[:4] for (code,) in db.session.query(Claim.region_code).distinct()}
        quiet = [c for c in fig["cities"] if c["code"][:4] not in claim_cities]
        assert quiet and {(c["claims"], c["settled"]) for c in quiet} == {(0, D("0.00"))}
        # and a department of such a city: no claim, nothing settled (an empty sum is 0)
        dept = Department(name="无理赔城市住建局(大屏测试)", region_code=quiet[0]["code"])
        db.session.add(dept)
        db.session.flush()
        user = department_user("dept_quiet_dashboard", dept)
        db.session.flush()
        mine = statistics.dashboard(user)
        assert (mine["claims"], mine["settled"]) == (0, D("0.00"))


def _first_sign_ins(username):
    from app.models import AuditEvent

    return db.session.query(AuditEvent).filter_by(action="first_sign_in", username=username).count()


def test_a_password_sign_in_records_the_enterprise_first_sign_in(app, client):
    """The first sign-in is recorded on the enterprise and as its own audit event, which moves the
    figures' generation (已登录建筑单位 changes); a later sign-in moves neither."""
    from app.services import figures_cache
    from tests.conftest import login

    with app.app_context():
        user = db.session.query(AppUser).filter_by(username="enterprise_demo2").one()
        user.enterprise.first_login_at = None
        db.session.commit()
        before, events = figures_cache.generation(), _first_sign_ins("enterprise_demo2")
    login(client, "enterprise_demo2")
    with app.app_context():
        user = db.session.query(AppUser).filter_by(username="enterprise_demo2").one()
        first, last = user.enterprise.first_login_at, user.last_login
        assert first is not None and last is not None
        assert _first_sign_ins("enterprise_demo2") == events + 1
        after = figures_cache.generation()
        assert after[1] > before[1] and (after[0], after[2]) == (before[0], before[2])
    login(app.test_client(), "enterprise_demo2")
    with app.app_context():
        user = db.session.query(AppUser).filter_by(username="enterprise_demo2").one()
        assert user.enterprise.first_login_at == first  # the first stays, the last moves
        assert user.last_login >= last
        assert _first_sign_ins("enterprise_demo2") == events + 1
        assert figures_cache.generation() == after  # an ordinary sign-in changes no figure


def test_only_what_changes_figures_moves_their_generation(app, db_session):
    from app.security import audit
    from app.services import figures_cache

    user = db.session.query(AppUser).filter_by(username="dept_province").one()
    before = figures_cache.generation()
    for action in ("login", "logout", "export", "download", "api_write", "password_change", "enterprise_register"):
        audit.record(action, user=user, commit=False)
        db.session.flush()
        assert figures_cache.generation() == before, action
    for action in figures_cache.FIGURE_ACTIONS:
        event = audit.record(action, user=user, commit=False)
        db.session.flush()
        assert figures_cache.generation() == (before[0], event.id, before[2]), action


def test_dashboard_page_states_the_definitions_and_the_outside_count(app, as_user):
    from app.services import figures_cache

    with app.test_request_context():
        _build()
        db.session.commit()
    figures_cache.clear()
    html = as_user("dept_province").get("/dashboard/").get_data(as_text=True)
    assert "至少登录过一次" in html and "分子分母取自同一项目表" in html
    assert "另有 1 个已投保项目不在项目表中" in html


def test_the_demo_dashboard_shows_real_figures(app):
    """The embedded demo loads a small registry table: 项目总数 and 投保比率 are not 0 beside its policies,
    and in each city the ratio stays within 100 %."""
    from app.services import figures_cache

    with app.test_request_context():
        figures_cache.clear()
        province = db.session.query(AppUser).filter_by(username="dept_province").one()
        fig = statistics.dashboard(province)
        assert fig["project_total"] >= 10 and fig["registry_enterprises"] >= 4
        assert 0 < fig["insured_ratio"] < 1 and fig["insured_outside_registry"] == 1
        assert all(c["insured"] <= c["projects"] for c in fig["cities"])
        assert sum(1 for c in fig["cities"] if c["projects"]) >= 2
