"""GET /health for load balancers and monitoring: no login, JSON, 200 when the process can serve.

Four checks, each timed in milliseconds:
- database: ``SELECT 1`` through the app's engine;
- storage: a small file written, read back and deleted at FILE_STORAGE_ROOT (a missing shared volume
  fails here);
- migrations: the database's Alembic revision equals the head of migrations/versions (a release whose
  ``flask db upgrade`` has not run yet is not ready to serve);
- redis: ``PING`` to every Redis the configuration names (REDIS_URL, the rate limits'
  RATELIMIT_STORAGE_URI, the task queue's TASK_QUEUE_URL). Production requires Redis for both the rate
  limits and the task queue (REDIS_REQUIRED): a production app without it fails this check. The
  embedded default names none and skips it.

Any failing check gives 503 (with Retry-After), so the load balancer takes the worker out of rotation.
Everyone gets the verdict, ``{"status": "ok"}`` or ``{"status": "fail"}``; only a caller presenting
HEALTH_MONITORING_KEY (header HEALTH_MONITORING_HEADER) or calling from the machine itself (a loopback
client address, after the trusted-proxy rule) also gets the checks and the migration revision. Error
texts name the exception class only: they must not reveal hosts, paths or credentials.
"""

import hmac
import ipaddress
import time
from urllib.parse import urlparse

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import text

from app.extensions import csrf, db

bp = Blueprint("health", __name__)


def _timed(check):
    started = time.perf_counter()
    try:
        detail = check()
        result = {"ok": True}
        if detail:
            result.update(detail)
    except Exception as exc:
        current_app.logger.warning("health check %s failed: %s", check.__name__.strip("_"), exc)
        try:
            db.session.rollback()
        except Exception:
            db.session.registry.clear()
        result = {"ok": False, "error": type(exc).__name__}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _database():
    db.session.execute(text("SELECT 1")).scalar()


def _storage():
    from app.storage import get_storage

    get_storage().probe()


def script_heads(app):
    """The head revision(s) of the migration scripts, read once per app (they change only on deploy)."""
    heads = app.extensions.get("azx_migration_heads")
    if heads is None:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        directory = app.extensions["migrate"].directory
        config = Config()
        config.set_main_option("script_location", directory)
        heads = app.extensions["azx_migration_heads"] = set(ScriptDirectory.from_config(config).get_heads())
    return heads


def database_revisions(session):
    """The revision(s) stamped in alembic_version (read directly: MigrationContext logs per call)."""
    try:
        return set(session.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except Exception as exc:
        session.rollback()
        raise RuntimeError("no alembic_version table") from exc


def _migrations():
    expected = script_heads(current_app)
    current = database_revisions(db.session)
    if current != expected:
        raise RuntimeError(f"database at {sorted(current)}, code at {sorted(expected)}")
    return {"revision": ",".join(sorted(current))}


REDIS_SCHEMES = {"redis": "redis", "rediss": "rediss", "unix": "unix", "redis+unix": "unix"}
# The settings that may name a Redis, and whether production needs that one to be Redis.
REDIS_SETTINGS = (("RATELIMIT_STORAGE_URI", True), ("TASK_QUEUE_URL", True), ("REDIS_URL", False))


def redis_url(url):
    """``url`` as redis-py's from_url takes it, when it names a Redis; else None."""
    if not url:
        return None
    scheme = urlparse(str(url)).scheme
    if scheme not in REDIS_SCHEMES:
        return None
    return REDIS_SCHEMES[scheme] + str(url)[len(scheme) :]


def redis_problems(config, required=None):
    """The settings production needs on Redis but that name something else (memory://, a SQLite file)."""
    if not (config.get("REDIS_REQUIRED") if required is None else required):
        return []
    return [name for name, required in REDIS_SETTINGS if required and not redis_url(config.get(name))]


def redis_targets(config):
    """{redis url: [settings naming it]} for every Redis the configuration uses."""
    targets = {}
    for name, _required in REDIS_SETTINGS:
        url = redis_url(config.get(name))
        if url:
            targets.setdefault(url, []).append(name)
    return targets


def ping_redis(url, timeout=1.0):
    import redis

    clients = current_app.extensions.setdefault("azx_health_redis", {})
    client = clients.get(url)
    if client is None:
        client = clients[url] = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    client.ping()


class RedisNotConfigured(RuntimeError):
    pass


def _redis():
    missing = redis_problems(current_app.config)
    if missing:
        raise RedisNotConfigured("not on Redis: " + ", ".join(missing))
    for url in redis_targets(current_app.config):
        ping_redis(url)


def may_see_details():
    key = current_app.config.get("HEALTH_MONITORING_KEY")
    if key:
        given = request.headers.get(current_app.config.get("HEALTH_MONITORING_HEADER") or "X-Monitoring-Key", "")
        if hmac.compare_digest(given.encode(), str(key).encode()):
            return True
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def run_checks():
    checks = {"database": _timed(_database), "storage": _timed(_storage)}
    if checks["database"]["ok"]:
        checks["migrations"] = _timed(_migrations)
    else:
        checks["migrations"] = {"ok": False, "error": "DatabaseUnavailable", "ms": 0.0}
    if redis_targets(current_app.config) or current_app.config.get("REDIS_REQUIRED"):
        checks["redis"] = _timed(_redis)
    return checks


@bp.route("/health")
@csrf.exempt
def health():
    checks = run_checks()
    ok = all(c["ok"] for c in checks.values())
    body = {"status": "ok" if ok else "fail"}
    if may_see_details():
        body["checks"] = checks
    response = jsonify(body)
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    if not ok:
        response.headers["Retry-After"] = "10"
    return response


def register_health(app):
    app.register_blueprint(bp)
