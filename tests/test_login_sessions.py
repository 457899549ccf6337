"""Server-side sessions: a new session at login, idle and absolute timeouts, logout revokes, so a
cookie copied before logout is refused after."""

from datetime import timedelta

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
    client.get("/logout/")
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
    client.get("/logout/")
    assert client.get(PAGE).status_code == 302
    assert thief.get(PAGE).status_code == 302
    assert client_with_cookie(app, copied).get(PAGE).status_code == 302


def test_logout_audited_and_session_row_revoked(app):
    from app.extensions import db
    from app.models import AuditEvent, UserSession

    client = app.test_client()
    client.post("/login/", data={"username": "dept_province", "password": DEMO_PASSWORD})
    client.get("/logout/")
    with app.app_context():
        event = db.session.query(AuditEvent).filter_by(username="dept_province").order_by(AuditEvent.id.desc()).first()
        assert event.action == "logout" and event.party_name == "黑龙江省住房和城乡建设厅"
        row = db.session.query(UserSession).filter_by(user_id=event.user_id).order_by(UserSession.id.desc()).first()
        assert row.revoked_at is not None and row.end_reason == "logout"
