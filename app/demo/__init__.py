"""Demo data for the embedded default: believable Heilongjiang parties, projects and every workflow
state, and one account per role. All demo accounts share DEMO_PASSWORD."""

import os
from typing import NamedTuple

from flask import current_app
from werkzeug.security import generate_password_hash

from app import clock
from app.extensions import db
from app.models import AppUser, InsuranceCompany
from app.models.base import utcnow
from app.models.enums import PartyKind as P
from app.security import passwords

DEMO_PASSWORD = "Demo@2026"


class DemoAccount(NamedTuple):
    username: str
    role: str
    kind: str | None
    description: str  # its party, as the 登录 page's demo list names it
    first_name: str
    last_name: str


DEMO_ACCOUNTS = [
    DemoAccount("admin", "Admin", None, "平台管理员", "平台", "管理员"),
    DemoAccount("dept_province", "Department", P.DEPARTMENT, "黑龙江省住房和城乡建设厅", "省住建厅", "用户"),
    DemoAccount("dept_harbin", "Department", P.DEPARTMENT, "哈尔滨市住房和城乡建设局", "哈尔滨住建局", "用户"),
    DemoAccount("enterprise_demo", "Enterprise", P.ENTERPRISE, "黑龙江龙建路桥建设有限公司", "龙建路桥", "用户"),
    DemoAccount("enterprise_demo2", "Enterprise", P.ENTERPRISE, "齐齐哈尔市鹤城建筑工程有限公司", "鹤城建筑", "用户"),
    DemoAccount("insurer_picc", "Insurer", P.INSURER, "人保财险", "人保财险", "用户"),
    DemoAccount("insurer_pingan", "Insurer", P.INSURER, "平安财险", "平安财险", "用户"),
    DemoAccount("broker_kunlun", "Broker", P.BROKER, "昆仑保险经纪", "昆仑经纪", "用户"),
    DemoAccount("org_demo", "PreventionOrg", P.ORG, "黑龙江安建安全技术服务有限公司", "安建安全", "用户"),
    DemoAccount("expert_demo", "Expert", P.EXPERT, "王建国", "王建国", "专家"),
]
# the account column naming each kind's party
PARTY_COLUMN = {
    P.DEPARTMENT: "department_id",
    P.ENTERPRISE: "enterprise_id",
    P.INSURER: "company_id",
    P.BROKER: "company_id",
    P.ORG: "org_id",
    P.EXPERT: "expert_id",
}


def _user(account, password=DEMO_PASSWORD, role=None, **fields):
    sm = current_app.appbuilder.sm
    user = db.session.query(AppUser).filter_by(username=account.username).first()
    if user is not None:
        return user
    user = AppUser(
        username=account.username,
        first_name=account.first_name,
        last_name=account.last_name,
        email=f"{account.username}@example.invalid",
        active=True,
        password=generate_password_hash(password),
        roles=[sm.find_role(role or account.role)],
        password_changed_at=utcnow(),
        created_on=clock.naive_utc(),
        changed_on=clock.naive_utc(),
        **fields,
    )
    db.session.add(user)
    return user


def ensure_admin():
    """The platform administrator (demo password unless ADMIN_PASSWORD is set)."""
    admin_role = current_app.appbuilder.sm.auth_role_admin
    _user(DEMO_ACCOUNTS[0], password=os.environ.get("ADMIN_PASSWORD", DEMO_PASSWORD), role=admin_role)
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
    for account in DEMO_ACCOUNTS[1:]:  # the administrator exists already (ensure_admin)
        # insurers and brokers are named by their company's short name, the other parties by the account
        party = company[account.description] if account.kind in (P.INSURER, P.BROKER) else parties[account.username]
        _user(
            account,
            # a certificate party's demo account keeps its password (DEMO_MODE); a department's needs none
            is_demo=account.kind in passwords.CERTIFICATE_PARTIES,
            party_kind=account.kind,
            **{PARTY_COLUMN[account.kind]: party.id},
        )
    db.session.commit()
    # The workflow data is built through the services, acting as the demo users, in workflow order.
    import importlib

    for module in DEMO_STAGES:
        importlib.import_module(module).build(parties)
        db.session.commit()
    return True


DEMO_STAGES = ["app.demo.insurance", "app.demo.prevention", "app.demo.registry"]  # each has build(parties), in order
