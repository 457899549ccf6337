"""Logs: a request id on every request, and JSON lines when LOG_FORMAT=json.

The request id is taken from the X-Request-ID request header (nginx sets it to $request_id, so one id
joins the nginx log, the app log and the response) or generated, and echoed in the X-Request-ID
response header. With LOG_FORMAT=json every log record is one JSON object per line on stderr
(journald / a log shipper reads it) carrying the request id, and each request adds one access line
(method, path, status, milliseconds, user id); LOG_REQUESTS=0 turns the access line off. The access
line never loads anything from the database (the user id is the one already loaded, if any).
"""

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}
access_log = logging.getLogger("app.access")


def current_request_id():
    if has_request_context():
        return g.get("request_id") or "-"
    return "-"


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (``-`` outside a request) so any formatter may print it."""

    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message, request_id, extra fields, exception."""

    def format(self, record):
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _configure_root(json_lines, level):
    root = logging.getLogger()
    root.setLevel(level)
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
        if json_lines and not isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter())


def init_logging(app):
    json_lines = str(app.config.get("LOG_FORMAT", "text")).lower() == "json"
    _configure_root(json_lines, app.config.get("LOG_LEVEL", "INFO"))

    def log_requests():
        return str(app.config.get("LOG_REQUESTS", "1" if json_lines else "0")).lower() in ("1", "true")

    def assign_request_id():
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    # First of all before_request functions, so that everything logged later carries the id.
    app.before_request_funcs.setdefault(None, []).insert(0, assign_request_id)

    @app.after_request
    def echo_request_id(response):
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        if request_id and log_requests():
            # The user Flask-Login has already loaded, if any: reading g.user here would load it, and
            # with the database down that turns the 503 into a 500.
            user = g.get("_login_user")
            access_log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "ms": round((time.perf_counter() - g.request_started) * 1000, 1),
                    "user_id": getattr(user, "id", None),
                    "remote_addr": request.remote_addr,
                },
            )
        return response
