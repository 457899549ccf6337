"""Two app servers on one PostgreSQL database and one storage root (issue 10, item 2).

Each server is `gunicorn -c deploy/gunicorn.conf.py app.wsgi:application` with two workers, configured
as docs/deploy.md configures production (CSRF on, permissions not rewritten at boot), so four
independent processes serve. A session made on one is accepted by the other (same SECRET_KEY, session
records in the database) and a logout on one ends it on the other; failed logins on one lock the
account on the other (lockout in the database); a file in the shared store is served by both, through
the scope; `flask audit purge` run on two machines at once deletes each old event exactly once.
"""

import os
import re
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
import requests
from factories.ops import PG_URL, REPO, free_port
from sqlalchemy import text

from app.demo.insurance import demo_pdf

pytestmark = [
    pytest.mark.commits,  # servers in other processes read and write the database
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="TEST_DATABASE_URL is not set"),
]
PASSWORD = "Demo@2026"


@pytest.fixture(scope="module")
def servers(app, tmp_path_factory):
    config = app.config["AZX_TEST_CONFIG"]
    tmp = tmp_path_factory.mktemp("servers")
    settings = tmp / "production_like.py"
    settings.write_text("FAB_UPDATE_PERMS = False\nAZX_SYNC_ROLES = False\nWTF_CSRF_ENABLED = True\n")
    env = dict(
        os.environ,
        DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
        FILE_STORAGE_ROOT=config["FILE_STORAGE_ROOT"],
        SECRET_KEY=config["SECRET_KEY"],
        AZX_CONFIG=str(settings),
        DEMO_MODE="1",
        WEB_CONCURRENCY="2",
    )
    procs, urls = [], []
    for name in ("a", "b"):
        port = free_port()
        log = open(tmp / f"gunicorn-{name}.log", "w")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "app.wsgi:application"],
                cwd=REPO,
                env=dict(env, GUNICORN_BIND=f"127.0.0.1:{port}"),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 120
        for url, proc in zip(urls, procs):
            while True:
                assert proc.poll() is None, (tmp / "gunicorn-a.log").read_text()[-3000:]
                try:
                    if requests.get(url + "/health", timeout=5).status_code == 200:
                        break
                except requests.RequestException:  # not listening yet, or workers still booting
                    pass
                assert time.monotonic() < deadline, "server did not become healthy"
                time.sleep(0.5)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def _attempt(base, username, password, session=None):
    """POST the login form (with its CSRF token) and return (session, response)."""
    session = session or requests.Session()
    page = session.get(base + "/login/", timeout=10)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    response = session.post(
        base + "/login/",
        data={"username": username, "password": password, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    return session, response


def _signed_in(response):
    return response.status_code in (302, 303) and "/login" not in response.headers["Location"]


def _authenticated(session, base):
    """Logged in: a file id that does not exist is 404; logged out: a redirect to the login page."""
    response = session.get(base + "/files/987654321", allow_redirects=False, timeout=10)
    assert response.status_code in (404, 302, 401), response.status_code
    return response.status_code == 404


def _login(base, username, password=PASSWORD):
    session, response = _attempt(base, username, password)
    assert _signed_in(response), (response.status_code, response.headers.get("Location"))
    return session


def _stored_file(app, username, data):
    """A file written to the shared store by this (a third) process, owned by the user's enterprise."""
    from app.extensions import db
    from app.models import AppUser
    from app.storage import store_bytes

    with app.app_context():
        user = db.session.query(AppUser).filter_by(username=username).one()
        row = store_bytes(db.session, data, "营业执照.pdf", "business_license", owner=user.enterprise)
        db.session.commit()
        return row.id


PDF = demo_pdf("shared volume")  # well-formed: uploads are read by a real parser


def test_session_from_one_server_is_accepted_by_the_other(servers):
    a, b = servers
    session = _login(a, "enterprise_demo")
    assert session.cookies.get("session")
    assert _authenticated(session, b)
    assert "龙建路桥" in session.get(b + "/", timeout=10).text  # B knows who signed in on A
    assert not _authenticated(requests.Session(), b)
    forged = requests.Session()  # a cookie signed with another key is refused
    forged.cookies.set("session", session.cookies.get("session")[:-4] + "AAAA")
    assert not _authenticated(forged, b)


def test_logout_on_one_server_ends_the_session_on_the_other(servers):
    a, b = servers
    session = _login(a, "dept_province")
    assert _authenticated(session, b)
    cookie = session.cookies.get("session")
    confirm = session.get(a + "/logout/", timeout=10).text  # the menu's 退出: a page asking, then a POST
    token = re.search(r'name="csrf_token" value="([^"]+)"', confirm).group(1)
    assert (
        session.post(a + "/logout/", data={"csrf_token": token}, allow_redirects=False, timeout=10).status_code == 302
    )
    replayed = requests.Session()  # the copied cookie of the ended session, replayed on B
    replayed.cookies.set("session", cookie)
    assert not _authenticated(replayed, b)


def test_failed_logins_on_one_server_lock_the_account_on_the_other(app, servers):
    from app.extensions import db
    from app.models import AppUser

    a, b = servers
    username, password = f"ops_lock_{uuid.uuid4().hex[:8]}", "Ops#lock2026x"
    with app.app_context():
        sm = app.appbuilder.sm
        assert sm.add_user(username, "运维", "测试", f"{username}@example.invalid", sm.find_role("Admin"), password)
        threshold = app.config.get("LOCKOUT_THRESHOLD", 5)
    assert _signed_in(_attempt(b, username, password)[1])  # the password is right
    session = requests.Session()
    for _ in range(threshold):
        assert not _signed_in(_attempt(a, username, "wrong-password", session)[1])
    assert not _signed_in(_attempt(b, username, password)[1])  # locked, on the other server too
    with app.app_context():
        user = db.session.query(AppUser).filter_by(username=username).one()
        assert user.locked_until is not None
        user.active = False  # the probe account stays (audit rows name it) but can never sign in
        db.session.commit()


def test_a_stored_file_is_served_by_both_servers_within_scope(app, servers):
    a, b = servers
    file_id = _stored_file(app, "enterprise_demo", PDF)
    session = _login(b, "enterprise_demo")  # logged in on B, reads through A and B
    for base in (a, b):
        response = session.get(f"{base}/files/{file_id}", timeout=10)
        assert response.status_code == 200
        assert response.content == PDF
    other = _login(a, "enterprise_demo2")
    for base in (a, b):
        assert other.get(f"{base}/files/{file_id}", allow_redirects=False, timeout=10).status_code == 404


def test_health_and_request_id_on_both_servers(servers):
    for base in servers:
        response = requests.get(base + "/health", headers={"X-Request-ID": "probe-1"}, timeout=10)
        assert response.status_code == 200 and response.json()["status"] == "ok"
        assert response.headers["X-Request-ID"] == "probe-1"


def test_audit_purge_on_two_machines_at_once_deletes_each_event_once(app, tmp_path):
    from app.extensions import db
    from app.models import AuditEvent
    from app.models.base import utcnow

    config = app.config["AZX_TEST_CONFIG"]
    old = utcnow() - timedelta(days=400)
    with app.app_context():
        db.session.add_all([AuditEvent(action="login", username=f"purge{i}", created_at=old) for i in range(300)])
        db.session.commit()
        expected = db.session.execute(
            text("SELECT count(*) FROM audit_event WHERE created_at < :c"), {"c": utcnow() - timedelta(days=30)}
        ).scalar()
    settings = tmp_path / "cmd.py"
    settings.write_text("FAB_UPDATE_PERMS = False\nAZX_SYNC_ROLES = False\n")
    env = dict(
        os.environ,
        DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
        FILE_STORAGE_ROOT=config["FILE_STORAGE_ROOT"],
        SECRET_KEY=config["SECRET_KEY"],
        FLASK_APP="app:create_app",
        AZX_CONFIG=str(settings),
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "audit", "purge", "--days", "30"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    deleted = [int(re.search(r"deleted: (\d+)", out).group(1)) for out, _err in outputs]
    assert sum(deleted) == expected >= 300
    with app.app_context():
        assert db.session.query(AuditEvent).filter(AuditEvent.username.like("purge%")).count() == 0
        db.session.rollback()
