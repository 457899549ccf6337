"""Webhooks end to end: a receiver on 127.0.0.1 (HTTPS, its own certificate) gets the events of its
company, signed (Standard Webhooks' HMAC-SHA256 over id, timestamp and body), retried after a 500 by
a real queue worker with back-off, and nothing of another company's; the outbox row is written in
the event's own transaction (a rolled-back change leaves none); registration is for the company's
key, with an https:// URL; the delivery log is visible to the company and to the administrator."""

import re
import time

import pytest
from factories.api import build_world, issue_test_key, jwt_headers, pending_application
from factories.live import Receiver, make_certificate
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.jobs import InProcessWorker, make_huey, register_jobs
from app.models import Application, AppUser, FlowEvent, WebhookDelivery, WebhookEndpoint, WebhookEvent

# The module's tests build on each other's committed rows (an order refused once, then refused again).
pytestmark = pytest.mark.commits


@pytest.fixture(scope="module")
def world(app):
    with app.app_context():
        return build_world()


@pytest.fixture(scope="module")
def receiver(app, tmp_path_factory):
    cert, key = make_certificate(str(tmp_path_factory.mktemp("tls")))
    saved = {k: app.config.get(k) for k in ("WEBHOOK_CA_BUNDLE", "WEBHOOK_ALLOW_PRIVATE_NETWORKS")}
    app.config.update(WEBHOOK_CA_BUNDLE=cert, WEBHOOK_ALLOW_PRIVATE_NETWORKS=True)
    rec = Receiver(cert, key)
    yield rec
    rec.stop()
    app.config.update(saved)


@pytest.fixture(scope="module")
def keys(app):
    return {name: issue_test_key(app, name)[1] for name in ("人保财险", "平安财险", "昆仑保险经纪")}


def register(client, key, url, events):
    r = client.post("/api/v1/webhooks/", headers={"X-API-Key": key}, json={"url": url, "events": events})
    assert r.status_code == 201, r.json
    return r.json


def test_registration_rules(client, receiver, keys, as_user):
    key = keys["人保财险"]
    created = register(client, key, receiver.url + "/rules", ["order.refused"])
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]{32}", created["secret"])
    assert created["result"]["secret_hint"] == created["secret"][:10]
    # the secret is shown once: neither the listing nor the row carries it
    listing = client.get("/api/v1/webhooks/", headers={"X-API-Key": key})
    assert created["secret"] not in listing.get_data(as_text=True)
    assert created["id"] in [e["id"] for e in listing.json["result"]]
    for bad, field in (
        ({"url": "http://example.com/hook", "events": ["order.refused"]}, "url"),
        ({"url": "https://example.com/hook", "events": ["no.such.event"]}, "events"),
        ({"url": "https://user:pw@example.com/hook", "events": ["order.refused"]}, "url"),
    ):
        r = client.post("/api/v1/webhooks/", headers={"X-API-Key": key}, json=bad)
        assert r.status_code == 422 and field in r.json["errors"], (bad, r.json)
    # without the private-network switch an internal address is refused
    app = client.application
    app.config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] = False
    try:
        r = client.post(
            "/api/v1/webhooks/", headers={"X-API-Key": key}, json={"url": receiver.url, "events": ["order.refused"]}
        )
        assert r.status_code == 422 and "url" in r.json["errors"]
    finally:
        app.config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] = True
    # the company's staff with a password token may read, not register
    staff = jwt_headers(client, "insurer_picc")
    assert client.get("/api/v1/webhooks/", headers=staff).status_code == 200
    r = client.post("/api/v1/webhooks/", headers=staff, json={"url": receiver.url, "events": ["order.refused"]})
    assert r.status_code == 403 and r.json["code"] == "forbidden"
    # another company's endpoint does not exist for this one
    assert client.get(f"/api/v1/webhooks/{created['id']}", headers={"X-API-Key": keys["平安财险"]}).status_code == 404
    assert (
        client.delete(f"/api/v1/webhooks/{created['id']}", headers={"X-API-Key": keys["平安财险"]}).status_code == 404
    )
    # parties other than insurers and brokers have no webhooks at all
    assert client.get("/api/v1/webhooks/", headers=jwt_headers(client, "org_demo")).status_code == 403
    r = client.delete(f"/api/v1/webhooks/{created['id']}", headers={"X-API-Key": key})
    assert r.status_code == 200 and r.json["result"]["active"] is False


def _verify(secret, request):
    from app.api.webhooks import verify

    return verify(secret, request["headers"], request["body"])


def test_event_reaches_its_company_only_signed(app, client, world, receiver, keys):
    picc = register(client, keys["人保财险"], receiver.url + "/picc", ["order.refused", "order.timed_out"])
    pingan = register(client, keys["平安财险"], receiver.url + "/pingan", ["order.refused", "order.timed_out"])
    broker = register(client, keys["昆仑保险经纪"], receiver.url + "/kunlun", ["order.refused"])
    order_a = world["A"]["DispatchOrder"]
    before = len(receiver.requests)
    r = client.post(
        f"/api/v1/orders/{order_a}/refuse", headers=jwt_headers(client, "org_demo"), json={"reason": "人员不足"}
    )
    assert r.status_code == 200, r.json
    got = receiver.requests[before:]
    paths = sorted(x["path"] for x in got)
    assert paths == ["/kunlun", "/picc"], paths  # the insurer and the broker of the policy; not 平安
    for request in got:
        event = request["body"]
        assert _verify(picc["secret"] if request["path"] == "/picc" else broker["secret"], request)
        # a signature under another secret, or a changed body, does not verify
        assert not _verify(pingan["secret"], request)
        assert not _verify(picc["secret"], dict(request, body=event + b" "))
    payload = receiver.events("/picc")[-1]
    assert payload["type"] == "order.refused" and payload["data"]["resource"] == "orders"
    assert payload["data"]["id"] == order_a and payload["data"]["status"] == "refused"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+08:00", payload["created_at"])
    assert got[0]["headers"]["webhook-id"] == payload["id"] or got[1]["headers"]["webhook-id"] == payload["id"]
    with app.app_context():
        event = db.session.execute(select(WebhookEvent).filter_by(event_id=payload["id"])).scalar_one()
        delivery = db.session.execute(select(WebhookDelivery).filter_by(event_id=event.id)).scalar_one()
        assert delivery.status == "delivered" and delivery.attempts == 1 and delivery.last_status_code == 200
    # the delivery log, for the company (API) …
    log = client.get(f"/api/v1/webhooks/{picc['id']}/deliveries", headers={"X-API-Key": keys["人保财险"]})
    assert log.status_code == 200 and log.json["result"][0]["event_id"] == payload["id"]
    assert log.json["result"][0]["status"] == "delivered"
    # … and nothing at all was written for 平安
    with app.app_context():
        assert (
            db.session.execute(
                select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.endpoint_id == pingan["id"])
            ).scalar_one()
            == 0
        )


def test_a_change_that_rolls_back_leaves_no_event(app, client, world, receiver, keys):
    register(client, keys["人保财险"], receiver.url + "/rollback", ["order.refused"])
    with app.app_context():
        events = db.session.execute(select(func.count()).select_from(WebhookEvent)).scalar_one()
    # the order of chain A was refused above: a second refusal is a 409 and rolls back
    order_a = world["A"]["DispatchOrder"]
    r = client.post(
        f"/api/v1/orders/{order_a}/refuse", headers=jwt_headers(client, "org_demo"), json={"reason": "再次"}
    )
    assert r.status_code == 409
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(WebhookEvent)).scalar_one() == events


@pytest.fixture
def worker(app, tmp_path):
    """A real huey worker on a SQLite queue, with the delivery job's back-off shortened to a second."""
    from app.api.webhooks import deliver_webhook

    saved = (deliver_webhook.retry_delay, deliver_webhook.retry_backoff)
    deliver_webhook.retry_delay, deliver_webhook.retry_backoff = 1, 2
    huey = register_jobs(
        app, make_huey({"TASK_QUEUE_URL": f"sqlite:///{tmp_path}/tasks.db", "TASK_QUEUE_NAME": "azx-webhooks"})
    )
    previous = app.extensions["huey"]
    app.extensions["huey"] = huey
    w = InProcessWorker(huey, workers=1).start()
    yield huey
    w.stop()
    app.extensions["huey"] = previous
    deliver_webhook.retry_delay, deliver_webhook.retry_backoff = saved


def _withdraw_as_enterprise(app, client, application_id):
    """The enterprise withdraws its application (撤回) through the API."""
    from werkzeug.security import generate_password_hash

    from app.models.base import utcnow

    with app.app_context():
        a = db.session.get(Application, application_id)
        role = app.appbuilder.sm.find_role("Enterprise")
        name = f"hook_ent_{application_id}"
        db.session.add(
            AppUser(
                username=name,
                first_name="钩子",
                last_name="测试",
                email=f"{name}@example.invalid",
                active=True,
                roles=[role],
                party_kind="enterprise",
                enterprise_id=a.enterprise_id,
                password=generate_password_hash("Demo@2026"),
                created_on=utcnow(),
                changed_on=utcnow(),
                password_changed_at=utcnow(),
                is_demo=True,
            )
        )
        db.session.commit()
    return client.post(f"/api/v1/applications/{application_id}/withdraw", headers=jwt_headers(client, name), json={})


def test_retry_after_a_500_with_backoff(app, client, receiver, keys, worker):
    hook = register(client, keys["人保财险"], receiver.url + "/retry", ["application.withdrawn"])
    with app.app_context():
        application_id = pending_application()
    receiver.statuses[:] = [500]
    start = len(receiver.requests)
    r = _withdraw_as_enterprise(app, client, application_id)
    assert r.status_code == 200 and r.json["result"]["status"] == "draft", r.json
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tries = [x for x in receiver.requests[start:] if x["path"] == "/retry"]
        if len(tries) >= 2:
            break
        time.sleep(0.1)
    tries = [x for x in receiver.requests[start:] if x["path"] == "/retry"]
    assert len(tries) == 2, "delivered once more after the 500"
    assert tries[0]["headers"]["webhook-id"] == tries[1]["headers"]["webhook-id"]  # the same event id
    assert all(_verify(hook["secret"], t) for t in tries)
    with app.app_context():
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            db.session.expire_all()
            d = db.session.execute(
                select(WebhookDelivery).where(WebhookDelivery.endpoint_id == hook["id"])
            ).scalar_one()
            if d.status == "delivered":
                break
            time.sleep(0.1)
        assert d.status == "delivered" and d.attempts == 2 and d.last_status_code == 200
        event = receiver.events("/retry")[-1]
        assert event["type"] == "application.withdrawn" and event["data"]["id"] == application_id


def test_withdraw_is_the_enterprises_and_only_from_pending(app, client):
    with app.app_context():
        application_id = pending_application()
    # the insurer may not withdraw; the enterprise may, once
    r = client.post(
        f"/api/v1/applications/{application_id}/withdraw", headers=jwt_headers(client, "insurer_picc"), json={}
    )
    assert r.status_code == 403
    assert _withdraw_as_enterprise(app, client, application_id).status_code == 200
    with app.app_context():
        flow = (
            db.session.execute(
                select(FlowEvent).where(FlowEvent.entity_type == "application", FlowEvent.entity_id == application_id)
            )
            .scalars()
            .all()
        )
        assert [(f.action, f.from_status, f.to_status) for f in flow] == [("withdraw", "pending_review", "draft")]


def test_expiring_scan_raises_once(app, client, world, receiver, keys):
    from datetime import timedelta

    from app.api.webhooks import scan_expiring
    from app.models import Policy

    register(client, keys["平安财险"], receiver.url + "/expiring", ["policy.expiring"])
    with app.app_context():
        policy = db.session.get(Policy, world["B"]["Policy"])
        today = policy.end_date - timedelta(days=10)
        first = scan_expiring(today)
        again = scan_expiring(today)
    assert first >= 1 and again == 0
    events = [e for e in receiver.events("/expiring") if e["data"]["id"] == world["B"]["Policy"]]
    assert len(events) == 1 and events[0]["type"] == "policy.expiring"


def test_admin_pages(app, as_user, receiver, keys, client):
    admin = as_user("admin")
    hook = register(client, keys["平安财险"], receiver.url + "/admin", ["order.refused"])
    page = admin.get("/admin/api-keys/webhooks")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert receiver.url + "/admin" in text and "平安财险" in text
    with app.app_context():
        created = db.session.execute(
            select(WebhookEndpoint.created_at).filter_by(url=receiver.url + "/admin")
        ).scalar_one()
    assert clock.fmt(created) in text and " UTC" not in text  # the platform's clock, as on every page
    log = admin.get(f"/admin/api-keys/webhooks/{hook['id']}/deliveries")
    assert log.status_code == 200 and " UTC" not in log.get_data(as_text=True)
    # the administrator registers an endpoint for a company: the secret is shown once
    with app.app_context():
        from app.models import InsuranceCompany

        company_id = db.session.execute(select(InsuranceCompany.id).filter_by(short_name="人保财险")).scalar_one()
    page = admin.post(
        "/admin/api-keys/webhooks/new",
        data={"company_id": str(company_id), "url": receiver.url + "/by-admin", "events": ["report.approved"]},
    )
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert re.search(r'<code id="webhook-secret">whsec_[A-Za-z0-9+/=]+</code>', page.get_data(as_text=True))
    with app.app_context():
        endpoint = db.session.execute(select(WebhookEndpoint).filter_by(url=receiver.url + "/by-admin")).scalar_one()
        endpoint_id = endpoint.id
    r = admin.post(f"/admin/api-keys/webhooks/{endpoint_id}/disable")
    assert r.status_code == 302
    with app.app_context():
        assert db.session.get(WebhookEndpoint, endpoint_id).active is False
    # others do not see these pages
    assert as_user("insurer_picc").get("/admin/api-keys/webhooks").status_code in (302, 403)


def test_registration_is_idempotent(app, client, receiver, keys):
    headers = {"X-API-Key": keys["昆仑保险经纪"], "Idempotency-Key": "register-core-system-1"}
    body = {"url": receiver.url + "/idem", "events": ["report.approved"]}
    first = client.post("/api/v1/webhooks/", headers=headers, json=body)
    again = client.post("/api/v1/webhooks/", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == first.json["id"] and again.json["secret"] == first.json["secret"]
    with app.app_context():
        from app.models import IdempotencyRecord

        assert (
            db.session.execute(
                select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.url == receiver.url + "/idem")
            ).scalar_one()
            == 1
        )
        stored = db.session.execute(select(IdempotencyRecord).filter_by(key="register-core-system-1")).scalar_one()
        assert first.json["secret"] not in (stored.response_body or "")
    other = client.post("/api/v1/webhooks/", headers=headers, json=dict(body, events=["order.refused"]))
    assert other.status_code == 422 and other.json["code"] == "idempotency_key_reused"
