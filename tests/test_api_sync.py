"""Strict filters (422 naming the filter; eq/ne/gt/ge/lt/le/between on dates and times), paging links,
incremental sync by (updated_at, id) with a stable cursor while writes go on, tombstones for
withdrawn applications, and a row's files through the row's scope."""

import hashlib
from datetime import date, datetime, timedelta

import pytest
from api_helpers import build_world, issue_test_key, minimal_pdf
from sqlalchemy import select, update

from app.extensions import db
from app.models import Application, Hazard, HazardCategory, HazardPhoto, Policy, ServiceVisit, SyncTombstone
from app.models.base import utcnow


@pytest.fixture(scope="module")
def world(app):
    with app.app_context():
        return build_world()


@pytest.fixture(scope="module")
def h(app, world):
    return {
        "picc": {"X-API-Key": issue_test_key(app, "人保财险")[1]},
        "pingan": {"X-API-Key": issue_test_key(app, "平安财险")[1]},
    }


@pytest.fixture
def no_settle(app):
    saved = app.config["API_SYNC_SETTLE_SECONDS"]
    app.config["API_SYNC_SETTLE_SECONDS"] = 0
    yield
    app.config["API_SYNC_SETTLE_SECONDS"] = saved


def ids(client, headers, resource, filters):
    r = client.get(f"/api/v1/{resource}/", headers=headers, query_string={"q": f"(filters:!({filters}),page_size:100)"})
    assert r.status_code == 200, r.json
    return set(r.json["ids"])


@pytest.mark.parametrize(
    "filters,field",
    [
        ("(col:start_date,opr:gt,value:abc)", "filters[0].value"),
        ("(col:start_date,opr:gt,value:'2026-13-45')", "filters[0].value"),
        ("(col:start_date,opr:like,value:'2026-01-01')", "filters[0].opr"),
        ("(col:key_hash,opr:eq,value:x)", "filters[0].col"),
        ("(col:premium,opr:gt,value:'many')", "filters[0].value"),
        ("(col:id,opr:eq,value:99999999999999)", "filters[0].value"),
        ("(col:id,opr:eq,value:1),(col:updated_at,opr:ge,value:'yesterday')", "filters[1].value"),
        ("(col:start_date,opr:between,value:!('2026-02-01','2026-01-01'))", "filters[0].value"),
        ("(col:start_date,opr:between,value:'2026-01-01')", "filters[0].value"),
        ("(col:status,opr:gt,value:active)", "filters[0].opr"),
        ("(col:enterprise,opr:rel_o_m,value:abc)", "filters[0].value"),
        ("(col:status,opr:eq)", "filters[0].value"),
    ],
)
def test_bad_filters_are_422_naming_the_filter(client, h, filters, field):
    r = client.get("/api/v1/policies/", headers=h["picc"], query_string={"q": f"(filters:!({filters}))"})
    assert r.status_code == 422, (filters, r.status_code)
    assert r.json["code"] == "invalid_filter" and field in r.json["errors"], r.json
    assert field in r.json["detail"]


def test_date_and_time_operators(app, client, world, h):
    pk = world["A"]["Policy"]
    with app.app_context():
        p = db.session.get(Policy, pk)
        start, created = p.start_date, p.created_at
    d = start.isoformat()
    before, after = (start - timedelta(days=1)).isoformat(), (start + timedelta(days=1)).isoformat()
    for opr, value, hit in (
        ("eq", d, True),
        ("ne", d, False),
        ("gt", before, True),
        ("gt", d, False),
        ("ge", d, True),
        ("lt", after, True),
        ("lt", d, False),
        ("le", d, True),
    ):
        got = pk in ids(client, h["picc"], "policies", f"(col:start_date,opr:{opr},value:'{value}')")
        assert got is hit, (opr, value)
    assert pk in ids(client, h["picc"], "policies", f"(col:start_date,opr:between,value:!('{before}','{after}'))")
    assert pk in ids(
        client, h["picc"], "policies", f"(col:start_date,opr:ge,value:'{d}'),(col:start_date,opr:le,value:'{d}')"
    )
    assert pk not in ids(client, h["picc"], "policies", f"(col:start_date,opr:between,value:!('{after}','{after}'))")
    # timestamps: with an offset, without one (the platform's zone), or a date (its midnight there)
    stamp = created.replace(microsecond=0)
    utc = stamp.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    local = (stamp + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S")
    assert pk in ids(client, h["picc"], "policies", f"(col:created_at,opr:ge,value:'{utc}')")
    assert pk in ids(client, h["picc"], "policies", f"(col:created_at,opr:ge,value:'{local}')")
    later = (stamp + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert pk not in ids(client, h["picc"], "policies", f"(col:created_at,opr:ge,value:'{later}')")
    assert pk in ids(client, h["picc"], "policies", f"(col:updated_at,opr:ge,value:'{date(2000, 1, 1)}')")
    # numbers, relations, text
    assert pk in ids(client, h["picc"], "policies", "(col:premium,opr:ge,value:0)")
    assert pk in ids(client, h["picc"], "policies", f"(col:enterprise,opr:rel_o_m,value:{world['A']['Enterprise']})")
    assert pk in ids(client, h["picc"], "policies", f"(col:id,opr:in,value:!({pk},1))")
    assert pk not in ids(client, h["picc"], "policies", "(col:policy_no,opr:eq,value:'no-such')")
    # a filter never widens the scope: 平安 sees nothing of chain A whatever it asks
    assert pk not in ids(client, h["pingan"], "policies", f"(col:id,opr:eq,value:{pk})")


def test_paging_links(client, h):
    r = client.get(
        "/api/v1/projects/", headers=h["picc"], query_string={"q": "(page_size:1,order_column:id,order_direction:asc)"}
    )
    body = r.json
    assert body["count"] >= 2 and body["page"] == 0 and body["prev"] is None and body["next"]
    assert r.headers["Link"] == f'<{body["next"]}>; rel="next"'
    second = client.get(body["next"], headers=h["picc"])
    assert second.status_code == 200 and second.json["page"] == 1
    assert second.json["ids"][0] > body["ids"][0] and second.json["prev"]
    assert 'rel="prev"' in second.headers["Link"]
    back = client.get(second.json["prev"], headers=h["picc"]).json
    assert back["ids"] == body["ids"]


def _changes(client, headers, resource, **params):
    r = client.get(f"/api/v1/{resource}/changes", headers=headers, query_string=params)
    assert r.status_code == 200, r.json
    return r.json


def test_sync_walks_every_change_once_while_writes_go_on(app, client, world, h, no_settle):
    since = (utcnow() - timedelta(days=3650)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    seen, cursor, pages = [], None, 0
    pk = world["A"]["Policy"]
    touched = False
    while True:
        page = _changes(
            client, h["picc"], "policies", page_size=1, **({"cursor": cursor} if cursor else {"since": since})
        )
        pages += 1
        seen += [(row["updated_at"], row["id"]) for row in page["result"]]
        if page["result"] and not touched:
            # a write between two pages: the changed row must come again, later in the walk
            with app.app_context():
                db.session.execute(
                    update(Policy).where(Policy.id == pk).values(updated_at=utcnow() + timedelta(seconds=1))
                )
                db.session.commit()
            touched = True
        cursor = page["next_cursor"] or cursor
        if not page["has_more"]:
            break
        assert pages < 500
    stamps = [datetime.fromisoformat(s) for s, _i in seen]
    assert stamps == sorted(stamps), "ordered by updated_at (then id, within the instant)"
    assert len(seen) - len({i for _s, i in seen}) <= 1, "every row once; the one changed meanwhile again at the end"
    assert seen[-1][1] == pk, "the row changed during the walk comes last, with its new updated_at"
    with app.app_context():
        expected = set(db.session.execute(select(Policy.id).where(Policy.insurer_id == _insurer_id(world))).scalars())
    assert {i for _s, i in seen} == expected
    # the cursor is stable: nothing new means an empty page, and the same cursor again
    again = _changes(client, h["picc"], "policies", cursor=cursor)
    assert again["result"] == [] and again["next_cursor"] == cursor and again["has_more"] is False
    # a bad cursor or since is 400, not a full resync
    for params in ({"cursor": "garbage!"}, {"since": "last tuesday"}, {"page_size": "x"}, {"bogus": "1"}):
        r = client.get("/api/v1/policies/changes", headers=h["picc"], query_string=params)
        assert r.status_code == 400 and r.json["code"] == "invalid_query", params


def _insurer_id(world):
    return db.session.get(Policy, world["A"]["Policy"]).insurer_id


def test_settle_time_holds_back_the_newest(app, client, world, h):
    app.config["API_SYNC_SETTLE_SECONDS"] = 60
    try:
        with app.app_context():
            db.session.execute(update(Policy).where(Policy.id == world["A"]["Policy"]).values(updated_at=utcnow()))
            db.session.commit()
        page = _changes(client, h["picc"], "policies", page_size=100)
        assert world["A"]["Policy"] not in page["ids"]
    finally:
        app.config["API_SYNC_SETTLE_SECONDS"] = 2


def test_withdrawn_application_is_a_tombstone(app, client, world, h, no_settle):
    from api_helpers import pending_application

    from app.services.applications import withdraw

    with app.app_context():
        pk = pending_application()
    start = _changes(client, h["picc"], "deletions", page_size=100)
    cursor = start["next_cursor"]
    with app.test_request_context():
        from flask import g

        from app.models import AppUser, Enterprise

        a = db.session.get(Application, pk)
        user = AppUser(username=f"tomb_{pk}", party_kind="enterprise", enterprise_id=a.enterprise_id, active=True)
        g.user = user
        withdraw(pk, user)
        assert db.session.get(Enterprise, a.enterprise_id) is not None
    page = _changes(client, h["picc"], "deletions", **({"cursor": cursor} if cursor else {}))
    rows = [r for r in page["result"] if r["row_id"] == pk]
    assert rows and rows[0]["resource"] == "applications" and rows[0]["reason"] == "withdrawn"
    # the application itself is gone from the insurer's view, and the tombstone is not 平安's
    assert client.get(f"/api/v1/applications/{pk}", headers=h["picc"]).status_code == 404
    assert pk not in [r["row_id"] for r in _changes(client, h["pingan"], "deletions", page_size=100)["result"]]
    with app.app_context():
        assert db.session.execute(select(SyncTombstone).filter_by(row_id=pk)).scalar_one().insurer_id is not None


def _store(app, data, name, kind, owner):
    from app.storage import attach, store_bytes

    stored = store_bytes(db.session, data, name, kind, validate=False)
    db.session.flush()
    attach(stored, owner)
    return stored


def test_files_through_the_scope_of_their_row(app, client, world, h):
    pdf = minimal_pdf(b"% policy\n")
    with app.app_context():
        policy = db.session.get(Policy, world["A"]["Policy"])
        stored = _store(app, pdf, "电子保单 2026.pdf", "policy_file", policy)
        policy.policy_file = stored
        other = db.session.get(Policy, world["B"]["Policy"])
        foreign = _store(app, minimal_pdf(b"% other\n"), "other.pdf", "policy_file", other)
        other.policy_file = foreign
        db.session.commit()
        file_id, foreign_id = stored.id, foreign.id
    pk = world["A"]["Policy"]
    listing = client.get(f"/api/v1/policies/{pk}/files", headers=h["picc"])
    assert listing.status_code == 200
    entry = next(f for f in listing.json["result"] if f["id"] == file_id)
    assert entry["slot"] == "policy" and entry["content_type"] == "application/pdf" and entry["size"] == len(pdf)
    r = client.get(f"/api/v1/policies/{pk}/files/{file_id}", headers=h["picc"])
    assert r.status_code == 200 and r.data == pdf
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.headers["Content-Length"] == str(len(pdf))
    assert r.headers["ETag"] == f'"{hashlib.sha256(pdf).hexdigest()}"'
    assert (
        r.headers["Content-Disposition"].startswith("attachment")
        and "filename*=UTF-8''" in r.headers["Content-Disposition"]
    )
    assert client.get(entry["url"], headers=dict(h["picc"], **{"If-None-Match": r.headers["ETag"]})).status_code == 304
    # a file of another row, or of a row out of scope, does not exist
    assert client.get(f"/api/v1/policies/{pk}/files/{foreign_id}", headers=h["picc"]).status_code == 404
    assert (
        client.get(f"/api/v1/policies/{world['B']['Policy']}/files/{foreign_id}", headers=h["picc"]).status_code == 404
    )
    assert client.get(f"/api/v1/policies/{world['B']['Policy']}/files", headers=h["picc"]).status_code == 404
    assert (
        client.get(f"/api/v1/policies/{world['B']['Policy']}/files/{foreign_id}", headers=h["pingan"]).status_code
        == 200
    )
    # the web's file URL still needs a browser session; a token is no substitute
    assert client.get(f"/files/{file_id}", headers=h["picc"]).status_code in (302, 401, 403)


def test_report_files_include_photos(app, client, world, h):
    from api_helpers import minimal_pdf

    png = _png()
    with app.app_context():
        visit = db.session.get(ServiceVisit, world["A"]["ServiceVisit"])
        report = _store(app, minimal_pdf(b"% report\n"), "事故预防服务报告.pdf", "report_pdf", visit)
        visit.report_file = report
        signin = _store(app, png, "signin.png", "signin_photo", visit)
        visit.signin_photo_file = signin
        category = db.session.execute(select(HazardCategory)).scalars().first()
        hazard = Hazard(
            order_id=visit.order_id,
            region_code="230103",
            seq=1,
            level="general",
            category_id=category.id,
            description="临边防护缺失",
        )
        db.session.add(hazard)
        db.session.flush()
        photo = _store(app, png, "hazard.png", "hazard_photo", hazard)
        db.session.add(HazardPhoto(hazard_id=hazard.id, file_id=photo.id, kind="hazard"))
        db.session.commit()
        wanted = {report.id: "report", signin.id: "signin_photo", photo.id: "hazard_photo"}
    pk = world["A"]["ServiceVisit"]
    listing = client.get(f"/api/v1/reports/{pk}/files", headers=h["picc"]).json["result"]
    assert {f["id"]: f["slot"] for f in listing} == wanted
    for f in listing:
        r = client.get(f["url"], headers=h["picc"])
        assert r.status_code == 200 and r.headers["Content-Type"] == f["content_type"]
    assert client.get(f"/api/v1/reports/{pk}/files", headers=h["pingan"]).status_code == 404


def _png():
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 0, 0)).save(out, "PNG")
    return out.getvalue()
