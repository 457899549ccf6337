"""REST API reads: every resource × every role with its own and a foreign row (404), paging capped,
filters and ordering, authentication required, the OpenAPI description and Swagger UI."""

import pytest
from api_helpers import RESOURCES, VISIBLE, build_world, issue_test_key, jwt_headers

ACCOUNTS = sorted(VISIBLE)


@pytest.fixture(scope="module")
def world(app):
    with app.app_context():
        return build_world()


@pytest.fixture(scope="module")
def headers(app, world):
    """account -> request headers: a JWT from /api/v1/security/login, or an API key."""
    client = app.test_client()
    out = {}
    for account in ACCOUNTS:
        if account.startswith("key:"):
            _id, raw = issue_test_key(app, account[4:])
            out[account] = {"X-API-Key": raw}
        else:
            out[account] = jwt_headers(client, world["users"].get(account, account))
    return out


@pytest.mark.parametrize("account", ACCOUNTS)
@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_rows_in_scope_only(client, world, headers, account, resource):
    model = RESOURCES[resource]
    visible = VISIBLE[account].get(model, set())
    h = headers[account]
    for chain in ("A", "B"):
        pk = world[chain][model]
        r = client.get(f"/api/v1/{resource}/{pk}", headers=h)
        if chain in visible:
            assert r.status_code == 200, (account, resource, chain, r.json)
            assert r.json["id"] == pk and r.json["result"]
        else:
            assert r.status_code == 404, (account, resource, chain, r.status_code)
            assert "result" not in r.json
    # the list: filter on id is not offered, so read the newest rows (ours are among them)
    r = client.get(
        f"/api/v1/{resource}/", headers=h, query_string={"q": "(page_size:100,order_column:id,order_direction:desc)"}
    )
    assert r.status_code == 200
    listed = set(r.json["ids"]) & {world["A"][model], world["B"][model]}
    assert listed == {world[c][model] for c in visible}, (account, resource)


def test_unauthenticated_and_cookie_sessions_are_refused(client, as_user, world):
    assert client.get("/api/v1/policies/").status_code == 401
    assert client.get("/api/v1/policies/", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401
    assert client.get("/api/v1/policies/", headers={"X-API-Key": "azx_unknown"}).status_code == 401
    # A browser session does not authorise the API (its routes are CSRF-exempt).
    browser = as_user("insurer_picc")
    assert browser.get("/api/v1/policies/").status_code == 401
    assert browser.post(f"/api/v1/applications/{world['A']['Application']}/approve", json={}).status_code == 401


def test_page_size_is_capped(app, client, headers):
    h = headers["admin"]
    cap = app.config["FAB_API_MAX_PAGE_SIZE"]
    for size in (cap + 1, 100000):
        r = client.get("/api/v1/enterprises/", headers=h, query_string={"q": f"(page_size:{size})"})
        assert r.status_code == 200
        assert len(r.json["result"]) <= cap and r.json["page_size"] == cap
        assert r.json["page_size_capped"] is True and r.json["requested_page_size"] == size
        assert r.json["count"] >= len(r.json["result"])
    r = client.get("/api/v1/enterprises/", headers=h, query_string={"q": f"(page_size:{cap})"})
    assert r.json["page_size_capped"] is False and "requested_page_size" not in r.json
    for bad in ("-1", "0", "1.5", "'x'"):  # FAB's -1 ('uncapped') is not honoured: malformed is 400
        r = client.get("/api/v1/enterprises/", headers=h, query_string={"q": f"(page_size:{bad})"})
        assert r.status_code == 400 and r.json["code"] == "invalid_query", bad


def test_filters_ordering_and_columns(client, world, headers):
    h = headers["insurer_picc"]
    no = "CB-API-"
    q = f"(filters:!((col:ledger_no,opr:sw,value:'{no}')),order_column:ledger_no,order_direction:asc,page_size:100)"
    r = client.get("/api/v1/policies/", headers=h, query_string={"q": q})
    assert r.status_code == 200, r.json
    numbers = [row["ledger_no"] for row in r.json["result"]]
    assert numbers == sorted(numbers) and all(n.startswith(no) for n in numbers)
    assert world["A"]["Policy"] in r.json["ids"] and world["B"]["Policy"] not in r.json["ids"]
    # select columns, and a relation's column
    r = client.get(
        f"/api/v1/policies/{world['A']['Policy']}",
        headers=h,
        query_string={"q": "(columns:!(ledger_no,premium,enterprise.name))"},
    )
    assert set(r.json["result"]) == {"ledger_no", "premium", "enterprise"}
    assert r.json["result"]["enterprise"]["name"].startswith("接口测试企业甲")
    # a filter on a status
    r = client.get(
        "/api/v1/orders/",
        headers=headers["org_demo"],
        query_string={"q": "(filters:!((col:status,opr:eq,value:pending)),page_size:100)"},
    )
    assert world["A"]["DispatchOrder"] in r.json["ids"]
    assert all(row["status"] == "pending" for row in r.json["result"])
    # a column that is not offered
    r = client.get("/api/v1/policies/", headers=h, query_string={"q": "(order_column:key_hash)"})
    assert r.status_code == 400


def test_info_offers_filters_but_no_related_rows(client, headers):
    r = client.get("/api/v1/applications/_info", headers=headers["insurer_pingan"])
    assert r.status_code == 200
    assert r.json["add_columns"] == [] and r.json["edit_columns"] == []
    assert "status" in r.json["filters"]


def test_generic_write_and_related_routes_are_absent(client, world, headers):
    h = headers["admin"]
    pk = world["A"]["Policy"]
    assert client.delete(f"/api/v1/policies/{pk}", headers=h).status_code in (404, 405)
    assert client.put(f"/api/v1/policies/{pk}", headers=h, json={"premium": 1}).status_code in (404, 405)
    assert client.post("/api/v1/policies/", headers=h, json={}).status_code in (404, 405)
    assert client.get("/api/v1/policies/related/enterprise", headers=h).status_code == 404
    assert client.get("/api/v1/policies/distinct/policy_no", headers=h).status_code == 404


def test_permission_decides_writes(client, world, headers):
    """Reads for every role; a write needs the role's permission (403 before anything runs)."""
    pk = world["A"]["Application"]
    for account in ("ent:A", "org_demo", "expert_demo", "dept_province"):
        r = client.post(f"/api/v1/applications/{pk}/approve", headers=headers[account], json={})
        assert r.status_code == 403, account
    r = client.post(f"/api/v1/policies/{world['A']['Policy']}/claims", headers=headers["broker_kunlun"], json={})
    assert r.status_code == 403
    r = client.post(f"/api/v1/orders/{world['A']['DispatchOrder']}/accept", headers=headers["insurer_picc"])
    assert r.status_code == 403


def test_openapi_and_swagger(app, client, as_user, headers):
    r = client.get("/api/v1/_openapi", headers=headers["insurer_picc"])
    assert r.status_code == 200
    paths = r.json["paths"]
    for path, method in (
        ("/api/v1/applications/{pk}/approve", "post"),
        ("/api/v1/applications/{pk}/reject", "post"),
        ("/api/v1/applications/{pk}/policy", "post"),
        ("/api/v1/policies/{pk}/claims", "post"),
        ("/api/v1/claims/{pk}", "patch"),
        ("/api/v1/orders/", "post"),
        ("/api/v1/orders/{pk}/accept", "post"),
        ("/api/v1/orders/{pk}/refuse", "post"),
        ("/api/v1/enterprises/", "get"),
        ("/api/v1/reports/{pk}", "get"),
    ):
        assert method in paths[path], path
    body = paths["/api/v1/applications/{pk}/policy"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body
    schemas = r.json["components"]["schemas"]
    assert {"IssuePolicySchema", "ClaimSchema", "DispatchSchema", "RejectSchema"} <= set(schemas)
    assert "premium" in schemas["IssuePolicySchema"]["properties"]
    for username in ("admin", "insurer_picc", "broker_kunlun"):
        page = as_user(username).get("/swagger/v1")
        assert page.status_code == 200, username
        assert b"swagger-ui" in page.data
