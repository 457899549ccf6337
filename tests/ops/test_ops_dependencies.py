"""A dependency failing answers 503 with Retry-After on every path, never a 500 or a traceback (issue 21,
items 1 and 3): the database failing under a signed-in user's pages, exports and API calls (on SQLite and
PostgreSQL, by making every statement fail), Redis down with its URL set (the login limit, the nonce
limit, the task queue, /health and `flask security check`), the file store failing in a view.

The real outage — PostgreSQL cut off while clients keep requesting, then back — is
tests/security/test_faults.py (a TCP proxy) and the deploy smoke test (deploy/smoke-test.sh, the
PostgreSQL server itself stopped and started).
"""

import socket
from contextlib import contextmanager

import pytest
from factories.jobs import redis_up
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.jobs import job
from tests.conftest import DEMO_PASSWORD, login

UNAVAILABLE = "服务暂时不可用"


def closed_port():
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def database_failing(app):
    """Every SQL statement of ``app`` fails as a lost connection does, until the block ends."""

    def refuse(conn, cursor, statement, parameters, context, executemany):
        raise OperationalError(statement, parameters, ConnectionRefusedError("connection refused (simulated)"))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


def _pages(app):
    """Every GET rule without arguments that is not a static file or the logout: lists, exports, forms,
    statistics, the dashboard, the API's collections."""
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.endpoint.endswith("static"):
            continue
        if "logout" in rule.endpoint:
            continue
        yield rule.rule


def assert_unavailable(response, path):
    body = response.get_data(as_text=True)
    assert response.status_code == 503, (path, response.status_code, body[:300])
    assert response.headers.get("Retry-After"), path
    assert "Traceback" not in body and 'File "' not in body, path
    if response.is_json:
        assert response.get_json()["status"] == 503, path
    else:
        assert UNAVAILABLE in body, path


@pytest.mark.parametrize("username", ["admin", "dept_province", "insurer_picc", "enterprise_demo"])
def test_every_page_of_a_signed_in_user_answers_503_while_the_database_fails(app, username):
    app.config["LOG_REQUESTS"] = "1"  # the access line runs after every request: it must not load the user
    try:
        client = app.test_client()
        login(client, username)
        paths = sorted(set(_pages(app)))
        with database_failing(app):
            for path in paths:
                assert_unavailable(client.get(path), path)
            assert_unavailable(client.post("/login/", data={"username": username, "password": "x"}), "POST /login/")
        assert client.get("/").status_code in (200, 302)  # back at once: nothing to restart
    finally:
        app.config.pop("LOG_REQUESTS")
    assert len(paths) > 40


def test_api_answers_503_json_while_the_database_fails(app):
    from factories.api import jwt_headers

    client = app.test_client()
    headers = jwt_headers(client, "admin")
    api_paths = [p for p in _pages(app) if p.startswith("/api/v1/") and "openapi" not in p and "swagger" not in p]
    assert api_paths
    with database_failing(app):
        for path in api_paths:
            response = client.get(path, headers=headers)
            assert_unavailable(response, path)
            assert response.is_json, path
        body = {"username": "admin", "password": DEMO_PASSWORD, "provider": "db"}
        response = client.post("/api/v1/security/login", json=body)
        assert_unavailable(response, "POST /api/v1/security/login")
        assert response.is_json


def test_a_failing_file_store_answers_503(app, as_user, monkeypatch):
    import io

    from PIL import Image

    from app.models import AppUser
    from app.storage import LocalStorage, store_bytes

    with app.app_context():
        user = db.session.query(AppUser).filter_by(username="enterprise_demo").one()
        png = io.BytesIO()
        Image.new("RGB", (8, 8), (200, 30, 30)).save(png, "PNG")
        row = store_bytes(db.session, png.getvalue(), "营业执照.png", "business_license", owner=user.enterprise)
        db.session.commit()
        file_id = row.id
    client = as_user("enterprise_demo")
    assert client.get(f"/files/{file_id}").status_code == 200

    def broken(self, key):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(LocalStorage, "open", broken)
    response = client.get(f"/files/{file_id}")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "文件存储暂时不可用" in response.get_data(as_text=True)


# ---------------------------------------------------------------- Redis down, its URL set


@job()
def ops_probe_job():  # a job as any page would queue one (declared before the app registers its jobs)
    return 1


@pytest.fixture(scope="module")
def redis_down_app(app):
    """The app as production configures it, with every Redis URL pointing at a closed port."""
    from app import create_app

    url = f"redis://127.0.0.1:{closed_port()}/15"
    config = dict(
        app.config["AZX_TEST_CONFIG"],
        REDIS_URL=url,
        RATELIMIT_STORAGE_URI=url,
        RATELIMIT_ENABLED=True,
        TASK_QUEUE_URL=url,
        TASK_QUEUE_IMMEDIATE=False,
        REDIS_REQUIRED=True,
        AZX_SYNC_ROLES=False,
        FAB_UPDATE_PERMS=False,
    )
    down = create_app(config)

    @down.route("/ops-probe/enqueue")
    def enqueue_probe():
        ops_probe_job.enqueue()
        return "queued"

    yield down
    with down.app_context():
        db.session.remove()


def test_password_login_answers_503_when_redis_is_down(redis_down_app):
    response = redis_down_app.test_client().post("/login/", data={"username": "dept_harbin", "password": DEMO_PASSWORD})
    assert_unavailable(response, "POST /login/")
    assert "Redis" in response.get_data(as_text=True)


def test_nonce_answers_503_when_redis_is_down(redis_down_app):
    from app.models import LoginChallenge

    with redis_down_app.app_context():
        before = db.session.query(LoginChallenge).count()
    assert_unavailable(redis_down_app.test_client().get("/login/ca/nonce"), "/login/ca/nonce")
    assert_unavailable(redis_down_app.test_client().get("/login/ca/"), "/login/ca/")
    with redis_down_app.app_context():
        assert db.session.query(LoginChallenge).count() == before  # nothing issued without its limit


def test_queueing_a_job_answers_503_when_redis_is_down(redis_down_app):
    assert_unavailable(redis_down_app.test_client().get("/ops-probe/enqueue"), "/ops-probe/enqueue")


def test_health_sees_redis_down(redis_down_app):
    response = redis_down_app.test_client().get("/health")
    body = response.get_json()
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert body["status"] == "fail" and body["checks"]["redis"]["ok"] is False
    assert body["checks"]["redis"]["error"] == "ConnectionError"
    assert body["checks"]["database"]["ok"] is True


def test_health_in_production_without_redis_fails(app):
    saved = {k: app.config.get(k) for k in ("REDIS_REQUIRED", "RATELIMIT_STORAGE_URI", "TASK_QUEUE_URL", "REDIS_URL")}
    app.config.update(
        REDIS_REQUIRED=True, RATELIMIT_STORAGE_URI="memory://", TASK_QUEUE_URL="memory://", REDIS_URL=None
    )
    try:
        response = app.test_client().get("/health")
    finally:
        app.config.update(saved)
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"] == {
        "ok": False,
        "error": "RedisNotConfigured",
        "ms": response.get_json()["checks"]["redis"]["ms"],
    }


def test_health_pings_a_live_redis(app):
    if not redis_up():
        pytest.skip("no Redis on 127.0.0.1:6379")
    app.config["REDIS_URL"] = "redis://127.0.0.1:6379/15"
    try:
        body = app.test_client().get("/health").get_json()
    finally:
        app.config["REDIS_URL"] = None
    assert body["status"] == "ok" and body["checks"]["redis"]["ok"] is True


def test_security_check_fails_when_redis_is_down_or_missing(redis_down_app, monkeypatch):
    from tests.security.test_headers_audit_config import GOOD

    monkeypatch.setenv("FLASK_DEBUG", "0")
    for key, value in GOOD.items():
        if "REDIS" not in key and key not in ("RATELIMIT_STORAGE_URI", "TASK_QUEUE_URL"):
            monkeypatch.setitem(redis_down_app.config, key, value)
    result = redis_down_app.test_cli_runner().invoke(args=["security", "check"])
    assert result.exit_code == 1
    assert "无法连接：ConnectionError" in result.output and "RATELIMIT_STORAGE_URI" in result.output
    monkeypatch.setitem(redis_down_app.config, "RATELIMIT_STORAGE_URI", "memory://")
    monkeypatch.setitem(redis_down_app.config, "TASK_QUEUE_URL", "sqlite:////tmp/azx-tasks.db")
    monkeypatch.setitem(redis_down_app.config, "REDIS_URL", None)
    result = redis_down_app.test_cli_runner().invoke(args=["security", "check"])
    assert result.exit_code == 1
    assert "RATELIMIT_STORAGE_URI 不是 Redis" in result.output and "TASK_QUEUE_URL 不是 Redis" in result.output
