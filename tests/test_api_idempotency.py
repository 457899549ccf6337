"""The API layer's Idempotency-Key handling on its own, with a minimal double of the claims service
(app.services.claims is another feature's module; the write tests run the real one). The double adds
a claim to a scoped policy in one unit of work, as a service must.
"""

import uuid
from types import SimpleNamespace

import pytest
from api_helpers import build_world, jwt_headers
from sqlalchemy import func, select

from app.api import policies as policies_api
from app.extensions import db
from app.models import AuditEvent, Claim, IdempotencyRecord, Policy
from app.services.base import fetch, unit_of_work


@pytest.fixture(scope="module")
def world(app):
    with app.app_context():
        return build_world()


@pytest.fixture
def claims_double(monkeypatch):
    calls = []

    def add_claim(policy_id, user, data):
        calls.append(policy_id)
        with unit_of_work():
            policy = fetch(Policy, policy_id, user)
            claim = Claim(
                policy_id=policy.id,
                insurer_id=policy.insurer_id,
                enterprise_id=policy.enterprise_id,
                region_code=policy.region_code,
                **data,
            )
            db.session.add(claim)
        return claim

    double = SimpleNamespace(add_claim=add_claim, calls=calls)
    monkeypatch.setattr(policies_api, "service", lambda name: double)
    return double


def claims_of(app, policy_id):
    with app.app_context():
        return db.session.execute(
            select(func.count()).select_from(Claim).where(Claim.policy_id == policy_id)
        ).scalar_one()


def test_replay_mismatch_and_per_user_keys(app, client, world, claims_double):
    pol = world["A"]["Policy"]
    h = jwt_headers(client, "insurer_picc")
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"injured_count": 1, "submitted_date": "2026-05-01", "remark": "高处坠落"}
    before = claims_of(app, pol)
    first = client.post(f"/api/v1/policies/{pol}/claims", headers=dict(h, **key), json=body)
    assert first.status_code == 201, first.json
    again = client.post(f"/api/v1/policies/{pol}/claims", headers=dict(h, **key), json=dict(reversed(body.items())))
    assert again.status_code == 201 and again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert claims_of(app, pol) == before + 1 and len(claims_double.calls) == 1
    other = client.post(f"/api/v1/policies/{pol}/claims", headers=dict(h, **key), json=dict(body, injured_count=2))
    assert (
        other.status_code == 422
        and "Idempotency-Key" in other.json["detail"]
        and other.json["code"] == "idempotency_key_reused"
    )
    # another party's policy answers 404 before the key is even looked at
    other = client.post(f"/api/v1/policies/{world['B']['Policy']}/claims", headers=dict(h, **key), json=body)
    assert other.status_code == 404
    assert claims_of(app, pol) == before + 1
    with app.app_context():
        details = db.session.execute(
            select(AuditEvent.detail, AuditEvent.result)
            .where(AuditEvent.action == "api_write", AuditEvent.detail.like(f"%{key['Idempotency-Key']}%"))
            .order_by(AuditEvent.id)
        ).all()
        assert [r for _d, r in details] == ["ok", "ok", "422"] and "replayed" in details[1][0]


def test_failed_write_leaves_no_record_and_key_can_be_reused(app, client, world, claims_double):
    h = jwt_headers(client, "insurer_picc")
    key = {"Idempotency-Key": uuid.uuid4().hex}
    foreign = world["B"]["Policy"]
    r = client.post(f"/api/v1/policies/{foreign}/claims", headers=dict(h, **key), json={"submitted_date": "2026-05-01"})
    assert r.status_code == 404
    with app.app_context():
        assert db.session.execute(select(IdempotencyRecord).filter_by(key=key["Idempotency-Key"])).first() is None
    pol = world["A"]["Policy"]
    r = client.post(f"/api/v1/policies/{pol}/claims", headers=dict(h, **key), json={"submitted_date": "2026-05-01"})
    assert r.status_code == 201


def test_in_progress_elsewhere_is_409(app, client, world, claims_double):
    """Another worker holds the key (its write not finished): this request must not run the write."""
    pol = world["A"]["Policy"]
    h = jwt_headers(client, "insurer_picc")
    key = uuid.uuid4().hex
    body = {"submitted_date": "2026-05-01"}
    with app.app_context():
        from app.models import AppUser

        uid = db.session.execute(select(AppUser.id).filter_by(username="insurer_picc")).scalar_one()
    # a completed run, then its record turned back into "in progress" (another worker mid-write)
    r = client.post(f"/api/v1/policies/{pol}/claims", headers=dict(h, **{"Idempotency-Key": key}), json=body)
    assert r.status_code == 201
    with app.app_context():
        rec = db.session.execute(select(IdempotencyRecord).filter_by(user_id=uid, key=key)).scalar_one()
        rec.status_code, rec.response_body = None, None
        db.session.commit()
    calls = len(claims_double.calls)
    r = client.post(f"/api/v1/policies/{pol}/claims", headers=dict(h, **{"Idempotency-Key": key}), json=body)
    assert r.status_code == 409 and len(claims_double.calls) == calls
