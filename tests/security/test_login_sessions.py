"""Server-side sessions: a new session at login, idle and absolute timeouts, logout revokes, so a
cookie copied before logout is refused after; logout is a POST with the CSRF token (a GET only asks);
signed-in answers are never stored by a cache; the purge of dead sessions."""

import re
from datetime import timedelta

import pytest

from app import clock
from tests.conftest import DEMO_PASSWORD, login

PAGE = "/dept/projects/list/"


def session_cookie(client):
    return client.get_cookie("session").value


def client_with_cookie(app, value):
    c = app.test_client()
    c.set_cookie("session", value)
    return c


def test_new_session_id_at_login(app):
    client = app.test_client()
    client.get("/login/")
    before = session_cookie(client) if client.get_cookie("session") else None
    login(client, "dept_harbin")
    first = session_cookie(client)
    assert first != before
    client.post("/logout/")
    login(client, "dept_harbin")
    assert session_cookie(client) != first


def test_idle_timeout(app, monkeypatch):
    client = app.test_client()
    login(client, "dept_harbin")
    assert client.get(PAGE).status_code == 200
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(minutes=29))
    assert client.get(PAGE).status_code == 200  # activity keeps it alive
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(minutes=58))
    assert client.get(PAGE).status_code == 200
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(minutes=58 + 31))
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login/" in response.location
    assert "会话已超时" in client.get("/login/").get_data(as_text=True)
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(minutes=58 + 32))
    assert client.get(PAGE).status_code == 302


def test_absolute_timeout(app, monkeypatch):
    client = app.test_client()
    login(client, "dept_harbin")
    start = clock.now()
    for minutes in range(20, 12 * 60, 20):
        monkeypatch.setattr(clock, "now", lambda m=minutes: start + timedelta(minutes=m))
        assert client.get(PAGE).status_code == 200, minutes
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(hours=12, minutes=1))
    assert client.get(PAGE).status_code == 302


def test_cookie_copied_before_logout_refused_after(app):
    client = app.test_client()
    login(client, "dept_harbin")
    copied = session_cookie(client)
    thief = client_with_cookie(app, copied)
    assert thief.get(PAGE).status_code == 200  # the copy works while the session lives
    client.post("/logout/")
    assert client.get(PAGE).status_code == 302
    assert thief.get(PAGE).status_code == 302
    assert client_with_cookie(app, copied).get(PAGE).status_code == 302


def test_logout_audited_and_session_row_revoked(app):
    from app.extensions import db
    from app.models import AuditEvent, UserSession

    client = app.test_client()
    client.post("/login/", data={"username": "dept_province", "password": DEMO_PASSWORD})
    client.post("/logout/")
    with app.app_context():
        event = db.session.query(AuditEvent).filter_by(username="dept_province").order_by(AuditEvent.id.desc()).first()
        assert event.action == "logout" and event.party_name == "黑龙江省住房和城乡建设厅"
        row = db.session.query(UserSession).filter_by(user_id=event.user_id).order_by(UserSession.id.desc()).first()
        assert row.revoked_at is not None and row.end_reason == "logout"


def test_logout_by_get_only_asks_and_the_user_menu_leads_there(app):
    client = app.test_client()
    login(client, "dept_harbin")
    page = client.get(PAGE).get_data(as_text=True)
    assert 'href="/logout/"' in page  # FAB's user menu: 退出 / Logout
    confirm = client.get("/logout/")
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and 'id="logout-form"' in html and 'method="post"' in html
    assert 'name="csrf_token"' in html and "确定要退出登录吗" in html
    assert client.get(PAGE).status_code == 200, "a GET of /logout/ signed the user out"
    assert client.post("/logout/").status_code == 302
    assert client.get(PAGE).status_code == 302
    assert client.get("/logout/").location.endswith("/login/")  # nothing to confirm any more


@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield app
    app.config["WTF_CSRF_ENABLED"] = False


def _csrf_login(client, username):
    page = client.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/login/", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and "/login/" not in response.location


def test_logout_post_needs_the_csrf_token(csrf_app):
    client = csrf_app.test_client()
    _csrf_login(client, "dept_harbin")
    forged = client.post("/logout/")  # a cross-site form: the cookie rides along, the token does not
    assert forged.status_code == 400 and "请求无效" in forged.get_data(as_text=True)
    assert client.get(PAGE).status_code == 200
    html = client.get("/logout/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert client.post("/logout/", data={"csrf_token": token}).status_code == 302
    assert client.get(PAGE).status_code == 302


def test_signed_in_answers_are_not_stored(app, as_user):
    client = as_user("dept_harbin")
    for path in (PAGE, "/", "/no/such/page", "/dept/projects/export/?fmt=csv", "/account/password", "/health"):
        response = client.get(path)
        assert "no-store" in response.headers.get("Cache-Control", ""), (path, response.status_code)
    # static files stay cacheable, and an anonymous page carries no such instruction from this rule
    assert "no-store" not in client.get("/static/css/azx.css").headers.get("Cache-Control", "")
    anonymous = app.test_client().get("/no/such/page")
    assert "no-store" not in anonymous.headers.get("Cache-Control", "")
    # API credentials count as signed in too
    api = app.test_client().get("/api/v1/no-such-resource/", headers={"Authorization": "Bearer x"})
    assert "no-store" in api.headers.get("Cache-Control", "")


def test_purge_deletes_dead_sessions_only_and_is_idempotent(app, monkeypatch):
    from app.extensions import db
    from app.models import AppUser, UserSession
    from app.security import sessions

    now = clock.now()
    with app.app_context():
        user = db.session.query(AppUser).filter_by(username="dept_harbin").one()
        rows = [
            UserSession(
                token_hash=f"purge-old-{i}",
                user_id=user.id,
                method="password",
                created_at=now,
                last_seen_at=now,
                expires_at=now - timedelta(days=31 + i),
            )
            for i in range(3)
        ] + [
            UserSession(
                token_hash="purge-recent",
                user_id=user.id,
                method="password",
                created_at=now,
                last_seen_at=now,
                expires_at=now - timedelta(days=29),
                revoked_at=now,
                end_reason="logout",
            ),
            UserSession(
                token_hash="purge-live",
                user_id=user.id,
                method="password",
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=1),
            ),
        ]
        db.session.add_all(rows)
        db.session.commit()
        first, cutoff = sessions.purge()
        second, _cutoff = sessions.purge()
        left = {r.token_hash for r in db.session.query(UserSession).filter(UserSession.token_hash.like("purge-%"))}
        db.session.query(UserSession).filter(UserSession.token_hash.like("purge-%")).delete(synchronize_session=False)
        db.session.commit()
    assert first >= 3 and second == 0
    assert left == {"purge-recent", "purge-live"}
    assert cutoff < now - timedelta(days=29)
