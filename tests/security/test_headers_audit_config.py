"""Security headers on every page, the audit trail of downloads and exports, `flask security check`."""

import re

import pytest
from factories.jobs import redis_up

from app.extensions import db

HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy")


def _pages(app):
    """Every GET rule without arguments (lists, pages, exports), plus the login page and a 404."""
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and "logout" not in rule.endpoint:
            yield rule.rule


@pytest.mark.parametrize("username", [None, "admin", "enterprise_demo", "insurer_picc", "dept_province"])
def test_security_headers_on_every_page(app, as_user, username):
    client = as_user(username) if username else app.test_client()
    missing = []
    for path in list(_pages(app)) + ["/login/", "/no/such/page", "/static/css/azx.css"]:
        r = client.get(path)
        for header in HEADERS:
            if header not in r.headers:
                missing.append(f"{path} ({r.status_code}) lacks {header}")
        csp = r.headers.get("Content-Security-Policy", "")
        if "frame-ancestors 'none'" not in csp or r.headers.get("X-Frame-Options") != "DENY":
            missing.append(f"{path}: framing allowed")
        missing += _script_policy_problems(path, r, csp)
    assert not missing, "\n".join(missing[:30])


def _script_policy_problems(path, response, csp):
    """script-src without 'unsafe-inline' / 'unsafe-eval'; on an HTML page every <script> carries the
    answer's nonce (inline ones could not run otherwise) and no element has an inline handler."""
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    script_src = directives.get("script-src", [])
    problems = [f"{path}: script-src {s}" for s in script_src if s in ("'unsafe-inline'", "'unsafe-eval'")]
    if response.mimetype != "text/html":
        return problems
    html = response.get_data(as_text=True)
    nonces = [s[7:-1] for s in script_src if s.startswith("'nonce-")]
    for tag in re.findall(r"<script\b[^>]*>", html):
        if not nonces or f'nonce="{nonces[0]}"' not in tag:
            problems.append(f"{path}: {tag} without the nonce")
    problems += [f"{path}: inline handler {h}" for h in re.findall(r"<[^>]+\son[a-z]+=", html)]
    problems += [f"{path}: javascript: URL" for _ in re.findall(r"""href=["']javascript:""", html)]
    return problems


def _audit(app, action):
    from app.models import AuditEvent

    with app.app_context():
        rows = db.session.query(AuditEvent).filter_by(action=action).order_by(AuditEvent.id.desc()).all()
        out = [(r.username, r.party_kind, r.party_name, r.result, r.ip, r.detail, r.created_at) for r in rows]
        db.session.remove()
    return out


@pytest.mark.commits  # the audit trail is its own transaction, kept when the request's is not
def test_download_is_audited(app, world, as_user):
    from conftest import PASSWORD

    own, foreign = world.files["A"][1], world.files["B"][1]
    username = world.users[("insurer", "A")]
    client = app.test_client()
    client.post("/login/", data={"username": username, "password": PASSWORD})
    assert client.get(f"/files/{own}").status_code == 200
    assert client.get(f"/files/{foreign}").status_code == 404
    events = [e for e in _audit(app, "download") if e[0] == username]
    ok = [e for e in events if e[3] == "ok" and f"file {own} " in e[5]]
    denied = [e for e in events if e[3] == "denied" and e[5] == f"file {foreign}"]
    assert ok and denied
    who, kind, party, _result, ip, _detail, when = ok[0]
    assert kind == "insurer" and party and ip and when


@pytest.mark.commits  # the audit trail is its own transaction, kept when the request's is not
def test_export_is_audited(app, as_user):
    from app.models import Project
    from app.reports.export import export_response

    with app.test_request_context("/export"):
        from flask import g

        from app.models import AppUser

        g.user = db.session.query(AppUser).filter_by(username="dept_province").one()
        response = export_response(db.session.query(Project), [("名称", lambda p: p.name)], "项目信息", fmt="csv")
        b"".join(response.response)
    events = [e for e in _audit(app, "export") if e[0] == "dept_province"]
    assert events and events[0][5] == "项目信息.csv" and events[0][1] == "department"


def test_audit_log_is_read_only_and_admin_or_province_only(app, as_user):
    admin = as_user("admin")
    assert admin.get("/admin/audit/list/").status_code == 200
    for path in ("/admin/audit/add", "/admin/audit/edit/1", "/admin/audit/delete/1"):
        assert admin.get(path).status_code in (403, 404, 405), path
        assert admin.post(path).status_code in (403, 404, 405), path
    for username in ("enterprise_demo", "insurer_picc", "org_demo", "expert_demo", "dept_harbin"):
        r = as_user(username).get("/admin/audit/list/")
        # a city department may hold the menu, but the scope shows it no event at all
        assert r.status_code == 403 or (
            r.status_code == 200 and "purge" not in r.get_data(as_text=True) and "admin" not in _usernames_in(r)
        ), username
    from app.models import AppUser, AuditEvent
    from app.security.scope import criterion

    with app.test_request_context():
        for username, sees in (("dept_province", True), ("dept_harbin", False), ("insurer_picc", False)):
            user = db.session.query(AppUser).filter_by(username=username).one()
            assert (criterion(AuditEvent, user) is None) == sees, username


def _usernames_in(response):
    import re

    return set(re.findall(r"<td[^>]*>\s*(admin|insurer_picc|dept_province)\s*</td>", response.get_data(as_text=True)))


GOOD = dict(
    DEBUG=False,
    TESTING=False,
    SECRET_KEY="k7Qz9vX2mP4wR8tY1uI3oA6sD5fG0hJ2lZxCvBnM",
    DEMO_MODE=False,
    SESSION_COOKIE_SECURE=True,
    WTF_CSRF_ENABLED=True,
    SQLALCHEMY_DATABASE_URI="postgresql+psycopg://azx@db/azx",
    GUNICORN_BIND="unix:/run/anzexian-web-{instance}/web.sock",
    TRUSTED_PROXIES=["unix"],
    PROXY_SECRET=None,
    REDIS_URL="redis://127.0.0.1:6379/15",
    RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/15",
    TASK_QUEUE_URL="redis://127.0.0.1:6379/14",
)
SECRET = "Zq8Lw3Nx7Pd2Rk5Tv9Ys4Hb6Jm1Cf0Ga"


@pytest.mark.parametrize(
    "override,needle",
    [
        ({}, None),
        ({"DEBUG": True}, "DEBUG"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SECRET_KEY": "test-secret-key-not-for-production"}, "SECRET_KEY"),
        ({"SECRET_KEY": "a" * 40}, "SECRET_KEY"),
        ({"DEMO_MODE": True}, "DEMO_MODE"),
        ({"SESSION_COOKIE_SECURE": False}, "SESSION_COOKIE_SECURE"),
        ({"SQLALCHEMY_DATABASE_URI": "sqlite:////srv/app.db"}, "SQLite"),
        ({"WTF_CSRF_ENABLED": False}, "CSRF"),
        # the bind of gunicorn and the trust of the app must describe the same proxy
        ({"TRUSTED_PROXIES": []}, "TRUSTED_PROXIES 不含 unix"),
        ({"TRUSTED_PROXIES": ["unix", "127.0.0.1"]}, "不监听 TCP 地址"),
        ({"GUNICORN_BIND": "127.0.0.1:8000", "TRUSTED_PROXIES": ["127.0.0.1"]}, "未设置 PROXY_SECRET"),
        ({"GUNICORN_BIND": "127.0.0.1:8000", "TRUSTED_PROXIES": ["unix"], "PROXY_SECRET": SECRET}, "没有 Unix"),
        ({"GUNICORN_BIND": "127.0.0.1:8000", "TRUSTED_PROXIES": ["unix"], "PROXY_SECRET": SECRET}, "未列出代理"),
        ({"GUNICORN_BIND": "10.0.0.12:8000", "TRUSTED_PROXIES": ["0.0.0.0/0"], "PROXY_SECRET": SECRET}, "任何地址"),
        (
            {"GUNICORN_BIND": "10.0.0.12:8000", "TRUSTED_PROXIES": ["10.0.0.11"], "PROXY_SECRET": "short"},
            "PROXY_SECRET",
        ),
        ({"TRUSTED_PROXIES": ["unix", "nginx-host"]}, "无效项"),
        ({"RATELIMIT_STORAGE_URI": "memory://"}, "RATELIMIT_STORAGE_URI 不是 Redis"),
        ({"TASK_QUEUE_URL": "sqlite:////srv/tasks.db"}, "TASK_QUEUE_URL 不是 Redis"),
        # both ways of a sound proxy pass: the socket, and TCP with the secret and the proxy's address
        ({"GUNICORN_BIND": "10.0.0.12:8000", "TRUSTED_PROXIES": ["10.0.0.11"], "PROXY_SECRET": SECRET}, None),
        (
            {
                "GUNICORN_BIND": "unix:/run/anzexian-web-{instance}/web.sock,127.0.0.1:8001",
                "TRUSTED_PROXIES": ["unix", "127.0.0.1"],
                "PROXY_SECRET": SECRET,
            },
            None,
        ),
    ],
)
def test_security_check(app, monkeypatch, override, needle):
    if not redis_up():
        pytest.skip("no Redis on 127.0.0.1:6379 (the check pings it)")
    # `flask` sets app.debug from FLASK_DEBUG when it loads the app: that is how DEBUG reaches the command
    monkeypatch.setenv("FLASK_DEBUG", "1" if override.get("DEBUG") else "0")
    saved = {k: app.config.get(k) for k in GOOD}
    app.config.update(GOOD)
    app.config.update(override)
    try:
        result = app.test_cli_runner().invoke(args=["security", "check"])
    finally:
        app.config.update(saved)
    if needle is None:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0
        assert needle in result.output
