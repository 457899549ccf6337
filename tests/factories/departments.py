"""A hand-built world for the departments' tests (imported by tests/test_departments_*.py).

It lives in county 232701 (漠河市), seen by a department created for it, in 2030/2031 so no demo or
other test data falls into its periods; a few rows in Harbin (230103) prove the region scope.
"""

from datetime import date, datetime
from decimal import Decimal as D

import pytest
from flask_appbuilder.security.sqla.models import Role
from sqlalchemy import delete
from werkzeug.security import generate_password_hash

from app.demo.data import make_credit_code
from app.extensions import db
from app.models import (
    Application,
    AppUser,
    AuditEvent,
    Claim,
    Department,
    DispatchOrder,
    Enterprise,
    Hazard,
    HazardCategory,
    InsuranceCompany,
    Plan,
    Policy,
    Project,
    RegistryProject,
    StoredFile,
)
from app.models.base import utcnow

PASSWORD = "Demo@2026"
MOHE = "232701"
HARBIN = "230103"


def department_user(username, department):
    user = AppUser(
        username=username,
        first_name="测试",
        last_name="部门",
        email=f"{username}@example.invalid",
        active=True,
        party_kind="department",
        department_id=department.id,
        password=generate_password_hash(PASSWORD),
        password_changed_at=utcnow(),
        roles=[db.session.query(Role).filter_by(name="Department").one()],
        created_on=utcnow(),
        changed_on=utcnow(),
    )
    db.session.add(user)
    return user


def add_order(key, pol, created, status, fee):
    """A 派单 ``STAT-O-<key>`` on policy ``pol`` dispatched at ``created`` (its statistical date)."""
    o = DispatchOrder(
        order_no=f"STAT-O-{key}",
        policy_id=pol.id,
        project_id=pol.project_id,
        enterprise_id=pol.enterprise_id,
        region_code=pol.region_code,
        insurer_id=pol.insurer_id,
        service_place="现场",
        start_date=created.date(),
        end_date=created.date(),
        deadline=created.date(),
        status=status,
        fee=fee,
        created_at=created,
    )
    db.session.add(o)
    db.session.flush()
    return o


@pytest.fixture(scope="module")
def world(app):
    with app.app_context():
        s = db.session
        company = {c.short_name: c for c in s.query(InsuranceCompany)}
        picc, pingan, kunlun = company["人保财险"], company["平安财险"], company["昆仑保险经纪"]
        plan = s.query(Plan).filter_by(code="A").first()
        category = {c.code: c for c in s.query(HazardCategory)}
        dept = Department(name="漠河市住房和城乡建设局(统计测试)", region_code=MOHE)
        ent = Enterprise(
            name="漠河统计测试建筑有限公司",
            region_code=MOHE,
            credit_code=make_credit_code(MOHE, 40000001),
            contact_mobile="13900000001",
            first_login_at=utcnow(),  # it has signed in; the Harbin one never has
        )
        ent_harbin = Enterprise(
            name="哈尔滨统计测试建筑有限公司", region_code=HARBIN, credit_code=make_credit_code(HARBIN, 40000002)
        )
        s.add_all([dept, ent, ent_harbin])
        s.flush()
        user = department_user("dept_mohe_stats", dept)
        s.flush()
        policies, orders = {}, {}

        def policy(
            key,
            insurer,
            premium,
            start,
            broker=None,
            status="insured",
            project_status="insured",
            enterprise=ent,
            region=MOHE,
        ):
            p = Project(
                enterprise_id=enterprise.id,
                region_code=region,
                project_code=f"STAT-{key}",
                name=f"统计测试项目{key}",
                investment=1000,
                address=f"测试地址{key}",
                insurance_status=project_status,
            )
            s.add(p)
            s.flush()
            a = Application(
                project_id=p.id,
                enterprise_id=enterprise.id,
                region_code=region,
                insurer_id=insurer.id,
                broker_id=broker.id if broker else None,
                plan_id=plan.id,
                status=project_status,
                contact_phone="13900000009",
            )
            s.add(a)
            s.flush()
            pol = Policy(
                application_id=a.id,
                project_id=p.id,
                enterprise_id=enterprise.id,
                region_code=region,
                insurer_id=insurer.id,
                broker_id=a.broker_id,
                plan_id=plan.id,
                builder_name="建设单位",
                project_name=p.name,
                project_code=p.project_code,
                premium=premium,
                start_date=start,
                end_date=date(start.year + 1, start.month, 1),
                policy_no=f"STAT-PN-{key}",
                ledger_no=f"CB-STAT-{key}",
                status=status,
            )
            s.add(pol)
            s.flush()
            policies[key] = pol
            return pol

        policy("A", picc, D("10000.00"), date(2031, 3, 10), broker=kunlun)
        policy("B", picc, D("5000.00"), date(2031, 1, 15))
        policy("C", pingan, D("20000.00"), date(2030, 3, 5), status="expired", project_status="expired")
        policy("D", picc, D("3000.00"), date(2030, 2, 1), status="expired", project_status="expired")
        policy("E", pingan, D("7000.00"), date(2031, 4, 1))
        policy("F", picc, D("999.00"), date(2031, 2, 1), status="surrendered", project_status="surrendered")
        policy("H", picc, D("8888.00"), date(2031, 3, 1), enterprise=ent_harbin, region=HARBIN)

        def order(key, pol, created, status, fee):
            orders[key] = add_order(key, pol, created, status, fee)
            return orders[key]

        order("1", policies["A"], datetime(2031, 3, 12, 9), "completed", D("1200"))
        order("2", policies["B"], datetime(2031, 2, 1, 9), "in_service", D("800"))
        order("3", policies["A"], datetime(2031, 3, 20, 9), "refused", D("500"))
        order("4", policies["C"], datetime(2030, 3, 15, 9), "completed", D("600"))
        order("H", policies["H"], datetime(2031, 3, 2, 9), "completed", D("999"))

        def hazard(o, seq, level, code, status):
            s.add(
                Hazard(
                    order_id=o.id,
                    region_code=o.region_code,
                    seq=seq,
                    level=level,
                    category_id=category[code].id,
                    description="测试隐患",
                    status=status,
                )
            )

        hazard(orders["1"], 1, "general", "09", "passed")
        hazard(orders["1"], 2, "major", "05", "open")
        hazard(orders["2"], 1, "general", "09", "passed")
        hazard(orders["4"], 1, "general", "10", "passed")
        hazard(orders["H"], 1, "major", "05", "passed")

        def claim(pol, injured, deaths, estimated, settled, submitted):
            s.add(
                Claim(
                    policy_id=pol.id,
                    insurer_id=pol.insurer_id,
                    enterprise_id=pol.enterprise_id,
                    region_code=pol.region_code,
                    injured_count=injured,
                    death_count=deaths,
                    estimated_loss=estimated,
                    settled_amount=settled,
                    submitted_date=submitted,
                )
            )

        claim(policies["A"], 2, 0, D("50000"), D("30000"), date(2031, 3, 15))
        claim(policies["B"], 0, 1, D("400000"), None, date(2031, 1, 20))
        claim(policies["C"], 1, 0, D("10000"), D("8000"), date(2030, 3, 20))
        claim(policies["H"], 1, 1, D("1"), D("1"), date(2031, 3, 3))

        other = make_credit_code(MOHE, 40000003)
        third = make_credit_code(MOHE, 40000004)
        # R1-R3 carry the codes of the insured projects A, B, E (承保比例 matches by project code)
        for key, code, credit, valid, region in (
            ("R1", "STAT-A", ent.credit_code, True, MOHE),
            ("R2", "STAT-B", ent.credit_code, True, MOHE),
            ("R3", "STAT-E", other, True, MOHE),
            ("R4", "STAT-R4", ent.credit_code, False, MOHE),
            ("R5", "STAT-R5", third, True, MOHE),
            ("RH", "STAT-RH", ent_harbin.credit_code, True, HARBIN),
        ):
            s.add(
                RegistryProject(
                    project_code=code,
                    name=f"统计测试登记{key}",
                    region_code=region,
                    credit_code=credit,
                    valid=valid,
                )
            )
        s.commit()
        ids = {
            "user_id": user.id,
            "policies": {k: p.id for k, p in policies.items()},
            "projects": {k: p.project_id for k, p in policies.items()},
            "enterprise": ent.id,
            "enterprise_harbin": ent_harbin.id,
            "department": dept.id,
            "orders": [o.id for o in orders.values()],
        }
    # No app context stays pushed while the tests run: requests would share its g (and the login).
    yield ids
    with app.app_context():
        s = db.session
        s.execute(delete(Hazard).where(Hazard.order_id.in_(ids["orders"])))
        s.execute(delete(DispatchOrder).where(DispatchOrder.id.in_(ids["orders"])))
        s.execute(delete(Claim).where(Claim.policy_id.in_(ids["policies"].values())))
        files = [p.policy_file_id for p in s.query(Policy).filter(Policy.id.in_(ids["policies"].values()))]
        s.execute(delete(Policy).where(Policy.id.in_(ids["policies"].values())))
        s.execute(delete(StoredFile).where(StoredFile.id.in_([f for f in files if f])))
        s.execute(delete(Application).where(Application.project_id.in_(ids["projects"].values())))
        s.execute(delete(Project).where(Project.id.in_(ids["projects"].values())))
        s.execute(delete(RegistryProject).where(RegistryProject.project_code.like("STAT-%")))
        # the user's login audit rows are test data too
        s.execute(delete(AuditEvent).where(AuditEvent.user_id == ids["user_id"]))
        s.delete(s.get(AppUser, ids["user_id"]))
        s.flush()
        s.execute(delete(Department).where(Department.id == ids["department"]))
        s.execute(delete(Enterprise).where(Enterprise.id.in_([ids["enterprise"], ids["enterprise_harbin"]])))
        s.commit()
