"""保单 expiry on its boundary: a policy is still in force on its 终止日期 and expires the day after."""

from datetime import date, timedelta

from factories import insurance as f
from sqlalchemy import func, select

from app.extensions import db
from app.models import Application, Policy, Project
from app.services import policies

LAST_DAY = date(2001, 6, 30)  # before every other policy of the test database


def test_expiry_boundary_day(db_session):
    app_row = f.make_application("insured")
    policy = app_row.policy
    policy.start_date, policy.end_date = LAST_DAY - timedelta(days=364), LAST_DAY
    db.session.commit()
    earliest = db.session.execute(
        select(func.min(Policy.end_date)).where(Policy.status == "insured", Policy.id != policy.id)
    ).scalar()
    assert earliest > LAST_DAY + timedelta(days=1)  # nothing else expires on these two days

    assert policies.expire_policies(today=LAST_DAY) == 0
    db.session.expire_all()
    assert db.session.get(Policy, policy.id).status == "insured"
    assert policies.display_status(db.session.get(Policy, policy.id), today=LAST_DAY) == "insured"

    assert policies.expire_policies(today=LAST_DAY + timedelta(days=1)) == 1
    db.session.expire_all()
    assert db.session.get(Policy, policy.id).status == "expired"
    assert db.session.get(Application, app_row.id).status == "expired"
    assert db.session.get(Project, app_row.project_id).insurance_status == "expired"
    assert policies.expire_policies(today=LAST_DAY + timedelta(days=1)) == 0  # idempotent


def test_display_status_on_the_boundary(db_session):
    policy = f.make_application("insured").policy
    policy.start_date, policy.end_date = LAST_DAY - timedelta(days=364), LAST_DAY
    assert policies.display_status(policy, today=LAST_DAY) == "insured"
    assert policies.display_status(policy, today=LAST_DAY + timedelta(days=1)) == "expired"
