"""Demo data for the embedded default: believable Heilongjiang parties, projects and every workflow
state, and one account per role. All demo accounts share DEMO_PASSWORD."""

from flask import current_app
from werkzeug.security import generate_password_hash

from app import clock
from app.extensions import db
from app.models import AppUser, InsuranceCompany
from app.models.base import utcnow
from app.models.enums import PartyKind as P

DEMO_PASSWORD = "Demo@2026"

# username -> (role, party kind, description)
DEMO_ACCOUNTS = [
    ("admin", "Admin", None, "平台管理员"),
    ("dept_province", "Department", P.DEPARTMENT, "黑龙江省住房和城乡建设厅"),
    ("dept_harbin", "Department", P.DEPARTMENT, "哈尔滨市住房和城乡建设局"),
    ("enterprise_demo", "Enterprise", P.ENTERPRISE, "黑龙江龙建路桥建设有限公司"),
    ("enterprise_demo2", "Enterprise", P.ENTERPRISE, "齐齐哈尔市鹤城建筑工程有限公司"),
    ("insurer_picc", "Insurer", P.INSURER, "人保财险"),
    ("insurer_pingan", "Insurer", P.INSURER, "平安财险"),
    ("broker_kunlun", "Broker", P.BROKER, "昆仑保险经纪"),
    ("org_demo", "PreventionOrg", P.ORG, "黑龙江安建安全技术服务有限公司"),
    ("expert_demo", "Expert", P.EXPERT, "王建国"),
]


def _user(username, role_name, first, last, email, **party):
    sm = current_app.appbuilder.sm
    user = db.session.query(AppUser).filter_by(username=username).first()
    if user is not None:
        return user
    role = sm.find_role(role_name)
    user = AppUser(
        username=username,
        first_name=first,
        last_name=last,
        email=email,
        active=True,
        password=generate_password_hash(DEMO_PASSWORD),
        roles=[role],
        password_changed_at=utcnow(),
        created_on=clock.naive_utc(),
        changed_on=clock.naive_utc(),
        **party,
    )
    db.session.add(user)
    return user


def ensure_admin():
    """The platform administrator (demo password unless ADMIN_PASSWORD is set)."""
    import os

    sm = current_app.appbuilder.sm
    if db.session.query(AppUser).filter_by(username="admin").first() is None:
        user = AppUser(
            username="admin",
            first_name="平台",
            last_name="管理员",
            email="admin@example.invalid",
            active=True,
            roles=[sm.find_role(sm.auth_role_admin)],
            password=generate_password_hash(os.environ.get("ADMIN_PASSWORD", DEMO_PASSWORD)),
            password_changed_at=utcnow(),
            created_on=clock.naive_utc(),
            changed_on=clock.naive_utc(),
        )
        db.session.add(user)
        db.session.commit()


def demo_present():
    return db.session.query(AppUser).filter_by(username="enterprise_demo").first() is not None


def load_demo_data():
    """Create the demo parties, accounts and data once. Returns False when already present."""
    if demo_present():
        return False
    from app.demo.data import build_demo_dataset

    parties = build_demo_dataset(db.session)
    db.session.commit()
    company = {c.short_name: c for c in db.session.query(InsuranceCompany)}
    _user(
        "dept_province",
        "Department",
        "省住建厅",
        "用户",
        "dept_province@example.invalid",
        party_kind=P.DEPARTMENT,
        department_id=parties["dept_province"].id,
    )
    _user(
        "dept_harbin",
        "Department",
        "哈尔滨住建局",
        "用户",
        "dept_harbin@example.invalid",
        party_kind=P.DEPARTMENT,
        department_id=parties["dept_harbin"].id,
    )
    _user(
        "enterprise_demo",
        "Enterprise",
        "龙建路桥",
        "用户",
        "enterprise_demo@example.invalid",
        party_kind=P.ENTERPRISE,
        enterprise_id=parties["enterprise_demo"].id,
        is_demo=True,
    )
    _user(
        "enterprise_demo2",
        "Enterprise",
        "鹤城建筑",
        "用户",
        "enterprise_demo2@example.invalid",
        party_kind=P.ENTERPRISE,
        enterprise_id=parties["enterprise_demo2"].id,
        is_demo=True,
    )
    _user(
        "insurer_picc",
        "Insurer",
        "人保财险",
        "用户",
        "insurer_picc@example.invalid",
        party_kind=P.INSURER,
        company_id=company["人保财险"].id,
        is_demo=True,
    )
    _user(
        "insurer_pingan",
        "Insurer",
        "平安财险",
        "用户",
        "insurer_pingan@example.invalid",
        party_kind=P.INSURER,
        company_id=company["平安财险"].id,
        is_demo=True,
    )
    _user(
        "broker_kunlun",
        "Broker",
        "昆仑经纪",
        "用户",
        "broker_kunlun@example.invalid",
        party_kind=P.BROKER,
        company_id=company["昆仑保险经纪"].id,
        is_demo=True,
    )
    _user(
        "org_demo",
        "PreventionOrg",
        "安建安全",
        "用户",
        "org_demo@example.invalid",
        party_kind=P.ORG,
        org_id=parties["org_demo"].id,
        is_demo=True,
    )
    _user(
        "expert_demo",
        "Expert",
        "王建国",
        "专家",
        "expert_demo@example.invalid",
        party_kind=P.EXPERT,
        expert_id=parties["expert_demo"].id,
        is_demo=True,
    )
    db.session.commit()
    # The workflow data is built through the services, acting as the demo users, in workflow order.
    import importlib

    for module in DEMO_STAGES:
        importlib.import_module(module).build(parties)
        db.session.commit()
    return True


DEMO_STAGES = ["app.demo.insurance", "app.demo.prevention", "app.demo.registry"]  # each has build(parties), in order
