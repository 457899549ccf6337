"""/health for load balancers, and the request id / JSON log lines (issue 10, item 5)."""

import io
import json
import logging
import os

import pytest

from app.storage import LocalStorage
from app.web.log import JsonFormatter, RequestIdFilter


def _health(client):
    response = client.get("/health")
    assert response.headers["Content-Type"].startswith("application/json")
    return response.status_code, response.get_json()


def _other_app(app, **overrides):
    from app import create_app

    config = dict(app.config["AZX_TEST_CONFIG"], **overrides)
    return create_app(config)


def test_health_is_200_without_login(client):
    status, body = _health(client)
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "storage", "migrations"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["migrations"]["revision"]
    assert client.get("/health").headers["Cache-Control"] == "no-store"


def test_health_is_503_when_storage_is_not_writable(app, client, tmp_path):
    # A shared volume that is not mounted / a root that is no directory: writes fail.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    storage = app.extensions["azx_storage"]
    for root in (str(blocker), str(tmp_path / "missing")):
        app.extensions["azx_storage"] = LocalStorage(root)
        try:
            status, body = _health(client)
        finally:
            app.extensions["azx_storage"] = storage
        assert status == 503
        assert body["status"] == "fail"
        assert body["checks"]["storage"]["ok"] is False
        assert body["checks"]["database"]["ok"] is True
    assert not os.path.exists(tmp_path / "missing")  # the probe never creates the root
    assert _health(client)[0] == 200


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-azx-dir/sub/app.db",
        "postgresql://postgres@127.0.0.1:1/nothing_listens_here",
    ],
)
def test_health_is_503_when_the_database_is_unreachable(app, url, tmp_path):
    broken = _other_app(app, SQLALCHEMY_DATABASE_URI=url, FILE_STORAGE_ROOT=str(tmp_path / "files"))
    status, body = _health(broken.test_client())
    assert status == 503
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["migrations"]["ok"] is False
    assert body["checks"]["storage"]["ok"] is True
    # The public answer names no host, path or credential.
    text = json.dumps(body)
    assert "127.0.0.1" not in text and "nonexistent" not in text and "postgres@" not in text


def test_health_is_503_when_migrations_have_not_run(app, tmp_path):
    fresh = _other_app(
        app,
        SQLALCHEMY_DATABASE_URI="sqlite:///" + str(tmp_path / "empty.db"),
        FILE_STORAGE_ROOT=str(tmp_path / "files"),
    )
    status, body = _health(fresh.test_client())
    assert status == 503
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["migrations"]["ok"] is False


def test_request_id_is_taken_from_the_header_or_generated(client):
    given = client.get("/health", headers={"X-Request-ID": "lb-7f3a.42"})
    assert given.headers["X-Request-ID"] == "lb-7f3a.42"
    generated = client.get("/health")
    again = client.get("/health")
    assert len(generated.headers["X-Request-ID"]) == 32
    assert generated.headers["X-Request-ID"] != again.headers["X-Request-ID"]
    # A header that could forge log lines is replaced, not echoed.
    forged = client.get("/health", headers={"X-Request-ID": 'x" injected {'})
    assert forged.headers["X-Request-ID"] != 'x" injected {'
    assert len(forged.headers["X-Request-ID"]) == 32


def test_json_log_lines_carry_the_request_id(app, client):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("app.access")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    app.config["LOG_REQUESTS"] = "1"
    try:
        client.get("/health", headers={"X-Request-ID": "req-42"})
        with app.test_request_context("/x"):
            logging.getLogger("app.access").info("outside hooks")
    finally:
        app.config.pop("LOG_REQUESTS")
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = lines[0]
    assert access["request_id"] == "req-42"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/health", 200)
    assert access["level"] == "INFO" and access["logger"] == "app.access" and access["ms"] >= 0
    assert lines[1]["message"] == "outside hooks" and lines[1]["request_id"] == "-"


def test_json_formatter_keeps_exceptions_on_one_line():
    record = logging.makeLogRecord({"msg": "失败 %s", "args": ("x",), "levelname": "ERROR", "name": "t"})
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "失败 x" and "ValueError" in entry["exc"]


@pytest.mark.parametrize(
    "env,expected",
    [
        ({}, "memory://"),
        ({"REDIS_URL": "redis://10.0.0.5:6379/0"}, "redis://10.0.0.5:6379/0"),
        (
            {"REDIS_URL": "redis://10.0.0.5:6379/0", "RATELIMIT_STORAGE_URI": "memcached://m:11211"},
            "memcached://m:11211",
        ),
    ],
)
def test_redis_url_becomes_the_rate_limit_storage(env, expected):
    """The limiter's storage follows REDIS_URL (an explicit RATELIMIT_STORAGE_URI wins); read at import."""
    import subprocess
    import sys

    from factories.ops import REPO

    environment = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RATELIMIT_STORAGE_URI")}
    environment.update(env)
    out = subprocess.run(
        [sys.executable, "-c", "from config import Config; print(Config.RATELIMIT_STORAGE_URI)"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == expected


def test_health_tells_others_only_ok_or_not(app, monkeypatch):
    """Anonymous callers from elsewhere get the verdict only; the checks and the migration revision go to
    the machine itself and to a caller presenting the monitoring key."""
    outsider = {"REMOTE_ADDR": "203.0.113.9"}
    response = app.test_client().get("/health", environ_base=outsider)
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    monkeypatch.setitem(app.config, "HEALTH_MONITORING_KEY", "mon-key-4f9a2c7e1b")
    wrong = app.test_client().get("/health", environ_base=outsider, headers={"X-Monitoring-Key": "guess"})
    assert wrong.get_json() == {"status": "ok"}
    keyed = app.test_client().get("/health", environ_base=outsider, headers={"X-Monitoring-Key": "mon-key-4f9a2c7e1b"})
    assert keyed.get_json()["checks"]["migrations"]["revision"]
    # through the proxy the client's own address counts, not nginx's loopback connection
    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", ["127.0.0.1"])
    relayed = app.test_client().get("/health", headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.get_json() == {"status": "ok"}
    assert "checks" in app.test_client().get("/health", headers={"X-Forwarded-For": "127.0.0.1"}).get_json()
    broken = _other_app(app, SQLALCHEMY_DATABASE_URI="sqlite:////nonexistent-azx-dir/app.db")
    down = broken.test_client().get("/health", environ_base=outsider)
    assert down.status_code == 503 and down.get_json() == {"status": "fail"} and down.headers["Retry-After"]
