"""GET /health for load balancers and monitoring: no login, JSON, 200 when the process can serve.

Three checks, each timed in milliseconds:
- database: ``SELECT 1`` through the app's engine;
- storage: a small file written, read back and deleted at FILE_STORAGE_ROOT (a missing shared volume
  fails here);
- migrations: the database's Alembic revision equals the head of migrations/versions (a release whose
  ``flask db upgrade`` has not run yet is not ready to serve).

Any failing check gives 503, so the load balancer takes the worker out of rotation. Error texts name the
exception class only: the endpoint is public and must not reveal hosts, paths or credentials.
"""

import time

from flask import Blueprint, current_app, jsonify
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
        current_app.logger.warning("health check %s failed: %s", check.__name__, exc)
        db.session.rollback()
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


@bp.route("/health")
@csrf.exempt
def health():
    checks = {"database": _timed(_database), "storage": _timed(_storage)}
    if checks["database"]["ok"]:
        checks["migrations"] = _timed(_migrations)
    else:
        checks["migrations"] = {"ok": False, "error": "DatabaseUnavailable", "ms": 0.0}
    ok = all(c["ok"] for c in checks.values())
    response = jsonify(status="ok" if ok else "fail", checks=checks)
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def register_health(app):
    app.register_blueprint(bp)
