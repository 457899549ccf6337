"""One error shape for the whole API (RFC 9457 problem+json with a stable code, in the request's
language), never a 500 from an id, a q or a method; a database outage is 503 with Retry-After; a
write that committed is answered with its success whatever fails after the commit."""

import pytest
from factories.api import RESOURCES, build_world, issue_test_key, jwt_headers, pending_application
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.models import Application, IdempotencyRecord

PROBLEM_KEYS = {"type", "title", "status", "code", "detail", "instance"}
IDS = ["0", "-1", str(2**31), str(2**63), str(10**20)]


@pytest.fixture(scope="module")
def world(app):
    with app.app_context():
        return build_world()


@pytest.fixture(scope="module")
def key(app, world):
    return {"X-API-Key": issue_test_key(app, "人保财险")[1]}


def assert_problem(r, status, code):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers["Content-Type"]
    assert set(r.json) >= PROBLEM_KEYS and r.json["status"] == status and r.json["code"] == code, r.json
    assert r.json["type"].endswith("/" + code)
    return r.json


@pytest.mark.parametrize("resource", sorted(RESOURCES) + ["deletions", "webhooks"])
def test_ids_beyond_range_are_404(client, key, resource):
    for pk in IDS:
        for suffix in ("", "/files", "/files/1", "/deliveries"):
            r = client.get(f"/api/v1/{resource}/{pk}{suffix}", headers=key)
            assert r.status_code == 404, (resource, pk, suffix, r.status_code)
            assert r.json["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/applications/{pk}/approve",
        "/api/v1/applications/{pk}/reject",
        "/api/v1/applications/{pk}/policy",
        "/api/v1/applications/{pk}/withdraw",
        "/api/v1/policies/{pk}/claims",
        "/api/v1/orders/{pk}/accept",
        "/api/v1/orders/{pk}/refuse",
    ],
)
def test_write_ids_beyond_range_are_404(client, key, path):
    for pk in IDS:
        r = client.post(path.format(pk=pk), headers=key, json={})
        assert r.status_code in (403, 404), (path, pk, r.status_code)  # 403: the role lacks the write
        assert r.json["code"] in ("not_found", "forbidden")
    r = client.patch(f"/api/v1/claims/{2**31}", headers=key, json={})
    assert_problem(r, 404, "not_found")


@pytest.mark.parametrize(
    "q",
    [
        "(page:1e+5)",
        "(((((((",
        "(page:'x')",
        "(page:-1)",
        "(page_size:0)",
        "!(1,2)",
        "'text'",
        "(unknown:1)",
        "(order_column:nope)",
        "(order_direction:sideways)",
        "(columns:!(key_hash))",
        "(page:100000000,page_size:100)",
        "%ZZ",
        "(filters:'x')",
    ],
)
def test_malformed_q_is_400_or_422(client, key, q):
    r = client.get("/api/v1/policies/", headers=key, query_string={"q": q})
    assert r.status_code in (400, 422), (q, r.status_code)
    assert r.json["code"] in ("invalid_query", "invalid_filter"), r.json


def test_trace_and_unknown_routes(client, key):
    r = client.open("/api/v1/policies/", method="TRACE", headers=key)
    assert_problem(r, 405, "method_not_allowed")
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}
    r = client.open("/api/v1/policies/1", method="TRACE")
    assert r.status_code == 405 and "Allow" in r.headers
    assert_problem(client.get("/api/v1/nothing-here/", headers=key), 404, "not_found")
    assert_problem(client.delete("/api/v1/policies/1", headers=key), 405, "method_not_allowed")


def test_language_follows_accept_language(client, key):
    zh = client.get("/api/v1/policies/99999999", headers=key).json
    en = client.get("/api/v1/policies/99999999", headers=dict(key, **{"Accept-Language": "en"})).json
    assert zh["code"] == en["code"] == "not_found"
    assert zh["title"] == "记录不存在或无权访问" and en["title"] != zh["title"]
    assert all(ord(c) < 128 for c in en["title"] + en["detail"]), en
    r = client.get(
        "/api/v1/policies/",
        headers=dict(key, **{"Accept-Language": "en-GB,en;q=0.9"}),
        query_string={"q": "(filters:!((col:start_date,opr:gt,value:'2026-13-45')))"},
    )
    body = assert_problem(r, 422, "invalid_filter")
    assert "filters[0].value" in body["errors"] and all(ord(c) < 128 for c in body["detail"]), body


def test_write_errors_share_the_shape(client, world):
    h = jwt_headers(client, "insurer_picc")
    body = assert_problem(
        client.post(
            f"/api/v1/policies/{world['A']['Policy']}/claims", headers=h, json={"bogus": 1, "injured_count": "x"}
        ),
        422,
        "validation_failed",
    )
    assert "bogus" in body["errors"] and "injured_count" in body["errors"]
    assert_problem(
        client.post(
            f"/api/v1/policies/{world['A']['Policy']}/claims",
            headers=dict(h, **{"Content-Type": "application/json"}),
            data="{not json",
        ),
        400,
        "invalid_json",
    )
    assert_problem(
        client.post(
            f"/api/v1/policies/{world['A']['Policy']}/claims",
            headers=dict(h, **{"Content-Type": "text/plain"}),
            data="x",
        ),
        415,
        "unsupported_media_type",
    )
    assert_problem(client.post(f"/api/v1/policies/{world['B']['Policy']}/claims", headers=h, json={}), 404, "not_found")
    assert_problem(client.get("/api/v1/policies/"), 401, "unauthorized")


def test_database_down_is_503_with_retry_after(app, client, key, monkeypatch):
    from app.api import base

    def down(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(base, "criterion", down)
    r = client.get("/api/v1/policies/", headers=key)
    assert_problem(r, 503, "service_unavailable")
    assert r.headers["Retry-After"] == "30"


def test_a_committed_write_is_never_a_500(app, client, monkeypatch):
    """Reading the row back, storing the idempotent answer and the audit row all fail after the
    commit: the client is still told of its success, and a retry with the key replays it."""
    from app.api import base, idempotency

    with app.app_context():
        pk = pending_application()
    h = dict(jwt_headers(client, "insurer_picc"), **{"Idempotency-Key": f"after-commit-{pk}"})

    def boom(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("database went away"))

    monkeypatch.setattr(base.ScopedModelRestApi, "_body", staticmethod(boom))
    monkeypatch.setattr(idempotency, "finish", boom)
    monkeypatch.setattr(base, "audit_api_write", boom)
    r = client.post(f"/api/v1/applications/{pk}/approve", headers=h, json={"opinion": "同意"})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.json == {"id": pk, "result": {}}
    with app.app_context():
        assert db.session.get(Application, pk).status == "approved"
        record = db.session.execute(select(IdempotencyRecord).filter_by(key=f"after-commit-{pk}")).scalar_one()
        assert record.status_code == 200  # stored in the write's own transaction
    monkeypatch.undo()
    again = client.post(f"/api/v1/applications/{pk}/approve", headers=h, json={"opinion": "同意"})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == pk and again.json["result"]["status"] == "approved"  # rebuilt from the row


def test_a_created_row_is_named_even_if_nothing_after_the_commit_runs(app, client, world, monkeypatch):
    from app.api import base, idempotency

    h = dict(jwt_headers(client, "insurer_picc"), **{"Idempotency-Key": f"claim-after-commit-{world['A']['Policy']}"})

    def boom(*args, **kwargs):
        raise RuntimeError("lost after commit")

    monkeypatch.setattr(idempotency, "finish", boom)
    r = client.post(f"/api/v1/policies/{world['A']['Policy']}/claims", headers=h, json={"submitted_date": "2026-07-01"})
    assert r.status_code == 201 and r.json["result"]["policy_id"] == world["A"]["Policy"]
    claim_id = r.json["id"]
    monkeypatch.undo()
    again = client.post(
        f"/api/v1/policies/{world['A']['Policy']}/claims", headers=h, json={"submitted_date": "2026-07-01"}
    )
    assert again.status_code == 201 and again.json["id"] == claim_id and again.json["result"]["id"] == claim_id
    del base
