"""Error pages: 400–429, 500, and 503 when a dependency fails, in the platform's language.

A dependency failure — the database unreachable, Redis (rate limits, task queue) unreachable, the file
store failing — answers **503 with Retry-After** on every path: pages of a signed-in user, exports, the
pages that queue jobs, the API. It is recognised wherever it surfaces: in a view, in a before_request
(the user loader), and in an after_request or error handler, where Flask turns it into a 500 whose
original exception is looked at here. Code that catches every exception and answers 500 itself (FAB's
REST API wraps each method so) is caught too: the engine's handle_error event marks the request whose
database failed, and a 500 answer to such a request becomes the 503. The answer never carries a
traceback.

The pages are self-contained (they do not extend the FAB layout): the layout reads the menu and the
user from the database, which is exactly what may be down when a 503 is shown, and the user is marked
anonymous before rendering so that no template helper tries to load it again. A database error rolls
the session back and drops it, so the next request starts clean; the engine's pool_pre_ping replaces
dead connections, so the application recovers by itself when the database is back. JSON clients
(/api/) get a JSON body with the same message.
"""

import logging
import sqlite3

from flask import current_app, g, has_request_context, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, OperationalError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30


def N_(text):
    """Marks a string for extraction; it is translated where it is shown."""
    return text


MESSAGES = {
    400: (N_("请求无效"), N_("请求的内容不完整或格式不正确。")),
    403: (N_("无权访问"), N_("您没有执行此操作的权限。")),
    404: (N_("页面不存在"), N_("您访问的页面或记录不存在，或您无权查看。")),
    405: (N_("请求方式不允许"), N_("此页面不接受这种请求方式。")),
    409: (N_("操作冲突"), N_("该记录已被他人处理或修改，请刷新后重试。")),
    429: (N_("请求过于频繁"), N_("请求过于频繁，请稍后再试。")),
    500: (N_("系统错误"), N_("系统处理请求时出错，已记录。请稍后重试。")),
    503: (N_("服务暂时不可用"), N_("数据库暂时无法连接，请稍后刷新重试。系统恢复后无需任何操作。")),
}
# What failed, as the 503 page says it (the database's message is MESSAGES[503]).
DEPENDENCY_MESSAGES = {
    "redis": N_("缓存服务（Redis）暂时无法连接，请稍后刷新重试。系统恢复后无需任何操作。"),
    "storage": N_("文件存储暂时不可用，请稍后刷新重试。系统恢复后无需任何操作。"),
    "service": N_("系统依赖的服务暂时无法连接，请稍后刷新重试。系统恢复后无需任何操作。"),
}


def _redis_errors():
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeout
    except ImportError:  # the embedded default may run without the redis package
        return ()
    return (RedisConnectionError, RedisTimeout)


def _limits_errors():
    try:
        from limits.errors import StorageError
    except ImportError:
        return ()
    return (StorageError,)


def dependency_of(exc):
    """'database', 'redis', 'storage' or 'service' when ``exc`` (or the exception it wraps) is a failing
    dependency; else None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (OperationalError, PoolTimeout, PendingRollbackError)):
            return "database"
        if isinstance(exc, DBAPIError) and getattr(exc, "connection_invalidated", False):
            return "database"
        if isinstance(exc, _redis_errors() + _limits_errors()):
            return "redis"
        if isinstance(exc, sqlite3.OperationalError):  # the embedded default's task-queue file, locked
            return "database"
        if isinstance(exc, (ConnectionError, TimeoutError)):  # another service over the network
            return "service"
        if isinstance(exc, OSError):  # the file store: disk full, I/O error, a volume not mounted
            return "storage"
        exc = getattr(exc, "original_exception", None) or exc.__cause__
    return None


def _page(code, message=None, exc=None):
    """The answer for ``code``: the API's problem (app/api/problems.py) under /api/, else the page."""
    if request.path.startswith("/api/"):
        from app.api.problems import http_error

        return http_error(exc if exc is not None and getattr(exc, "code", None) == code else _Status(code))
    title, default = MESSAGES.get(code, MESSAGES[500])
    title, message = _(title), _(message or default)
    described = getattr(exc, "description", None)
    if described and described != getattr(type(exc), "description", None):
        message = described  # the page said why (abort(400, description=…)): say it
    if request.accept_mimetypes.best == "application/json":
        return jsonify(message=message, status=code), code
    try:
        return render_template("errors/error.html", code=code, title=title, message=message), code
    except Exception:
        return f"<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1><p>{message}</p>", code


class _Status:
    def __init__(self, code):
        self.code = code


def _drop_session():
    from app.extensions import db

    try:
        db.session.rollback()
    except Exception:
        pass
    try:
        db.session.remove()
    except Exception:
        db.session.registry.clear()


def _anonymous():
    """Mark the request's user as anonymous, so that rendering the error page does not load it again."""
    manager = getattr(current_app, "login_manager", None)
    if manager is not None:
        g._login_user = manager.anonymous_user()
        g.user = g._login_user


def unavailable(dependency, exc):
    """The 503 answer for a failed dependency."""
    log.error(
        "%s unavailable on %s %s: %s: %s",
        dependency,
        request.method,
        request.path,
        exc.__class__.__name__,
        str(exc).splitlines()[0][:300] if str(exc) else "",
    )
    if dependency == "database":
        _drop_session()
    _anonymous()
    response = current_app.make_response(_page(503, DEPENDENCY_MESSAGES.get(dependency)))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def _mark_database_failure(context):
    """Engine event: remember that this request's database failed (a lost or refused connection)."""
    if not has_request_context():
        return
    exc = context.sqlalchemy_exception or context.original_exception
    if context.is_disconnect or dependency_of(exc) == "database":
        g.azx_dependency_failed = "database"


def register_error_handlers(app):
    from app.extensions import db

    event.listen(db.engine, "handle_error", _mark_database_failure)

    @app.after_request
    def failed_dependency_is_503(response):
        dependency = g.pop("azx_dependency_failed", None)
        if dependency and response.status_code == 500:
            return unavailable(dependency, RuntimeError("a 500 answered after the database failed"))
        return response

    def dependency_failed(exc):
        dependency = dependency_of(exc)
        if dependency is None:
            return server_error(exc)
        return unavailable(dependency, exc)

    for kind in (
        OperationalError,
        DBAPIError,
        PoolTimeout,
        PendingRollbackError,
        sqlite3.OperationalError,
        OSError,
        *_redis_errors(),
        *_limits_errors(),
    ):
        app.register_error_handler(kind, dependency_failed)

    @app.teardown_appcontext
    def release_session(exc):
        # Runs before Flask-SQLAlchemy's own teardown: closing a session whose connection died with the
        # database must not turn a finished response into an error.
        from app.extensions import db

        try:
            db.session.remove()
        except Exception:
            log.warning("session close failed after a database error; connection discarded")
            db.session.registry.clear()

    for code in (400, 403, 404, 405, 409):
        app.register_error_handler(code, lambda exc, code=code: _page(code, exc=exc))

    @app.errorhandler(429)
    def too_many_requests(exc):
        response = app.make_response(_page(429, exc=exc))
        response.headers["Retry-After"] = str(getattr(exc, "retry_after", None) or 60)
        return response

    @app.errorhandler(500)
    def server_error(exc):
        # An exception escaping an after_request hook or another handler arrives here wrapped.
        dependency = dependency_of(getattr(exc, "original_exception", None) or exc)
        if dependency is not None:
            return unavailable(dependency, exc)
        _drop_session()
        _anonymous()
        return _page(500)

    return app
