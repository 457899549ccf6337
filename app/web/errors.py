"""Error pages: 403, 404, 500 and 503 (database unreachable) in the platform's language.

The pages are self-contained (they do not extend the FAB layout): the layout reads the menu and the
user from the database, which is exactly what may be down when a 503 is shown. A database error
rolls the session back and drops it, so the next request starts clean; the engine's pool_pre_ping
replaces dead connections, so the application recovers by itself when the database is back.
JSON clients (/api/) get a JSON body with the same message.
"""

import logging

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("请求无效", "请求的内容不完整或格式不正确。"),
    403: ("无权访问", "您没有执行此操作的权限。"),
    404: ("页面不存在", "您访问的页面或记录不存在，或您无权查看。"),
    405: ("请求方式不允许", "此页面不接受这种请求方式。"),
    409: ("操作冲突", "该记录已被他人处理或修改，请刷新后重试。"),
    500: ("系统错误", "系统处理请求时出错，已记录。请稍后重试。"),
    503: ("服务暂时不可用", "数据库暂时无法连接，请稍后刷新重试。系统恢复后无需任何操作。"),
}


def _page(code, exc=None):
    if request.path.startswith("/api/"):  # the API answers in its one problem shape (app/api/problems.py)
        from app.api.problems import http_error

        return http_error(exc if exc is not None and getattr(exc, "code", None) == code else _Status(code))
    title, message = MESSAGES.get(code, MESSAGES[500])
    title, message = _(title), _(message)
    described = getattr(exc, "description", None)
    if described and described != getattr(type(exc), "description", None):
        message = described  # the page said why (abort(400, description=…)): say it
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
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
        pass


def register_error_handlers(app):
    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_unavailable(exc):
        log.error("database error on %s %s: %s", request.method, request.path, exc.__class__.__name__)
        _drop_session()
        if isinstance(exc, OperationalError) or getattr(exc, "connection_invalidated", False):
            if request.path.startswith("/api/"):
                return _page(503)  # a problem with Retry-After
            body, code = _page(503)
            response = app.make_response((body, code))
            response.headers["Retry-After"] = "30"
            return response
        return _page(500)

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
        app.register_error_handler(code, lambda exc, code=code: _page(code, exc))

    @app.errorhandler(500)
    def server_error(exc):
        _drop_session()
        return _page(500)

    return app
