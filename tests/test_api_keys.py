"""API keys: an administrator issues, lists and revokes them; only a digest is stored; a key acts as
a service user of its company, scoped like the company's staff."""

import hashlib
import re

from api_helpers import build_world, issue_test_key
from sqlalchemy import select

from app.extensions import db
from app.models import ApiKey, AppUser, InsuranceCompany


def _issue(admin, company_name, name):
    with admin.application.app_context():
        company_id = db.session.execute(select(InsuranceCompany.id).filter_by(short_name=company_name)).scalar_one()
    page = admin.post("/admin/api-keys/issue", data={"name": name, "company_id": str(company_id)})
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    match = re.search(r'<code id="api-key-value">(azx_[A-Za-z0-9_-]+)</code>', page.get_data(as_text=True))
    assert match, "the new key is shown once"
    return match.group(1)


def test_admin_issues_lists_and_revokes(app, as_user, client):
    admin = as_user("admin")
    assert admin.get("/admin/api-keys/issue").status_code == 200
    raw = _issue(admin, "人保财险", "核心系统-生产")
    with app.app_context():
        key = db.session.execute(select(ApiKey).filter_by(name="核心系统-生产")).scalar_one()
        # only a digest is stored; the plaintext is nowhere in the row
        assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
        assert raw not in repr([getattr(key, c.name) for c in ApiKey.__table__.columns])
        user = key.user
        assert user.party_kind == "insurer" and user.company.short_name == "人保财险"
        assert [r.name for r in user.roles] == ["Insurer"] and user.active
        key_id = key.id
    listing = admin.get("/admin/api-keys/list/")
    assert listing.status_code == 200 and "核心系统-生产" in listing.get_data(as_text=True)
    assert raw not in listing.get_data(as_text=True)

    for headers in ({"X-API-Key": raw}, {"Authorization": f"Bearer {raw}"}):
        assert client.get("/api/v1/policies/", headers=headers).status_code == 200

    r = admin.post("/admin/api-keys/action_post", data={"action": "revoke", "rowid": [str(key_id)]})
    assert r.status_code == 302
    with app.app_context():
        key = db.session.get(ApiKey, key_id)
        assert key.revoked_at is not None and not key.user.active
    assert client.get("/api/v1/policies/", headers={"X-API-Key": raw}).status_code == 401


def test_issue_form_refuses_bad_input(app, as_user):
    admin = as_user("admin")
    with app.app_context():
        before = db.session.query(ApiKey).count()
    page = admin.post("/admin/api-keys/issue", data={"name": " ", "company_id": ""})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "请填写名称" in text and "请选择保险机构" in text
    page = admin.post("/admin/api-keys/issue", data={"name": "x", "company_id": "999999"})
    assert "请选择保险机构" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(ApiKey).count() == before


def test_only_admin_manages_keys(as_user):
    for username in ("insurer_picc", "broker_kunlun", "dept_province"):
        c = as_user(username)
        for path in ("/admin/api-keys/list/", "/admin/api-keys/issue"):
            assert c.get(path).status_code in (302, 403), (username, path)
        assert c.post("/admin/api-keys/issue", data={"name": "x", "company_id": "1"}).status_code in (302, 403)


def test_broker_key_is_scoped_as_the_broker(app, as_user, client):
    with app.app_context():
        world = build_world()
    raw = _issue(as_user("admin"), "昆仑保险经纪", "经纪核心系统")
    with app.app_context():
        user = db.session.execute(
            select(AppUser).join(ApiKey, ApiKey.user_id == AppUser.id).filter(ApiKey.name == "经纪核心系统")
        ).scalar_one()
        assert user.party_kind == "broker" and [r.name for r in user.roles] == ["Broker"]
    h = {"X-API-Key": raw}
    assert client.get(f"/api/v1/applications/{world['A']['Application']}", headers=h).status_code == 200
    assert client.get(f"/api/v1/applications/{world['B']['Application']}", headers=h).status_code == 404
    # a broker may review but not issue: the Broker role's permissions apply to its key
    r = client.post(f"/api/v1/applications/{world['A']['Application']}/policy", headers=h, data={})
    assert r.status_code == 403


def test_service_user_cannot_log_in_with_a_password(app, client):
    key_id, raw = issue_test_key(app, "平安财险")
    with app.app_context():
        username = db.session.get(ApiKey, key_id).user.username
    for password in ("", raw, "Demo@2026"):
        r = client.post("/api/v1/security/login", json={"username": username, "password": password, "provider": "db"})
        assert r.status_code in (401, 422) and "access_token" not in r.json
