"""The one error shape of the REST API: RFC 9457 ``application/problem+json``.

Every error the API answers — from a write, a read, the token layer, a route that does not exist, a
method that is not allowed, a database that is down — is built here::

    {"type": "https://anzexian.invalid/problems/validation_failed", "title": "输入有误",
     "status": 422, "code": "validation_failed", "detail": "…", "instance": "/api/v1/…",
     "errors": {"field": ["…"]}}

``code`` is stable (clients branch on it); ``title`` and ``detail`` are in the request's language:
Chinese by default, English with ``Accept-Language: en`` (flask-babel's locale selector, see
``app.web`` — the API asks it the same way the pages do).
"""

from flask import current_app, json, make_response, request
from flask_babel import force_locale
from flask_babel import lazy_gettext as _

PROBLEM_TYPE_BASE = "https://anzexian.invalid/problems/"
MEDIA_TYPE = "application/problem+json"

# code -> (status, title). The status is the default; a caller may pass another.
CODES = {
    "bad_request": (400, _("请求无效")),
    "invalid_query": (400, _("查询参数无效")),
    "invalid_json": (400, _("请求体不是有效的 JSON")),
    "invalid_idempotency_key": (400, _("Idempotency-Key 无效")),
    "unauthorized": (401, _("未认证或令牌无效")),
    "password_change_required": (403, _("须先修改一次性密码")),
    "forbidden": (403, _("无权执行此操作")),
    "not_found": (404, _("记录不存在或无权访问")),
    "method_not_allowed": (405, _("请求方式不允许")),
    "not_acceptable": (406, _("无法提供所要求的格式")),
    "conflict": (409, _("操作冲突")),
    "idempotency_in_progress": (409, _("同一 Idempotency-Key 的请求仍在处理中")),
    "payload_too_large": (413, _("文件过大")),
    "unsupported_media_type": (415, _("请求体格式不支持")),
    "validation_failed": (422, _("输入有误")),
    "invalid_filter": (422, _("筛选条件无效")),
    "idempotency_key_reused": (422, _("Idempotency-Key 已用于另一个请求")),
    "rate_limited": (429, _("请求过于频繁")),
    "internal_error": (500, _("系统错误")),
    "service_unavailable": (503, _("服务暂时不可用")),
}
CODE_OF_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}
DEFAULT_DETAIL = {
    401: _("请提供有效的 API 密钥或访问令牌（Authorization: Bearer …）"),
    404: _("记录不存在或无权访问"),
    405: _("此地址不接受这种请求方式"),
    500: _("系统处理请求时出错，已记录。请稍后重试。"),
    503: _("数据库暂时无法连接，请稍后重试。"),
}


class Problem(Exception):
    """Raise anywhere below an API endpoint; the endpoint's guard answers with it."""

    def __init__(self, code, detail=None, errors=None, status=None, headers=None, title=None):
        super().__init__(str(detail or code))
        self.code = code
        self.status = status or CODES.get(code, (500,))[0]
        self.detail = detail
        self.errors = errors or {}
        self.headers = headers or {}
        self.title = title


def _text(value):
    return None if value is None else str(value)


def _locale():
    """'en' when the request prefers English (Accept-Language), else the platform default 'zh'."""
    try:
        best = request.accept_languages.best_match(["zh", "en"], default="zh")
    except RuntimeError:
        return "zh"
    return best or "zh"


def body(code, status=None, detail=None, errors=None, title=None):
    status = status or CODES.get(code, (500,))[0]
    with force_locale(_locale()):
        default_title = CODES.get(code, (status, _("请求无效")))[1]
        doc = {
            "type": PROBLEM_TYPE_BASE + code,
            "title": _text(title or default_title),
            "status": status,
            "code": code,
            "detail": _text(detail if detail is not None else DEFAULT_DETAIL.get(status, title or default_title)),
            "instance": request.path,
        }
        if errors:
            doc["errors"] = field_errors(errors)
    return doc


def response(code, status=None, detail=None, errors=None, headers=None, title=None):
    """The problem response (JSON with the problem media type)."""
    doc = body(code, status, detail, errors, title)
    resp = make_response(json.dumps(doc, ensure_ascii=False), doc["status"])
    resp.headers["Content-Type"] = MEDIA_TYPE + "; charset=utf-8"
    resp.headers["Content-Language"] = _locale()
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


def from_problem(exc: Problem):
    return response(exc.code, exc.status, exc.detail, exc.errors, exc.headers, exc.title)


def for_status(status, detail=None, headers=None, errors=None):
    return response(CODE_OF_STATUS.get(status, "internal_error"), status, detail, errors, headers)


def field_errors(messages):
    """marshmallow/service messages → {field: [text, …]} (nested for lists and nested objects)."""
    if isinstance(messages, dict):
        return {
            str(k): field_errors(v) if isinstance(v, dict) else [str(m) for m in _as_list(v)]
            for k, v in messages.items()
        }
    return {"_schema": [str(m) for m in _as_list(messages)]}


def _as_list(value):
    return value if isinstance(value, (list, tuple)) else [value]


def http_error(exc):
    """A werkzeug HTTPException (unknown route, method not allowed, …) on an /api/ path, as a problem.
    405 keeps its ``Allow`` header."""
    status = getattr(exc, "code", None) or 500
    headers = {}
    if status == 405:
        allowed = getattr(exc, "valid_methods", None) or []
        if allowed:
            headers["Allow"] = ", ".join(sorted(set(allowed)))
    if status == 503:
        headers["Retry-After"] = str(current_app.config.get("API_RETRY_AFTER_SECONDS", 30))
    return for_status(status, headers=headers)


def from_legacy(response):
    """A JSON error built by FAB's own API code ({"message": "Not authorized"}, English only) → the
    problem of its status in the request's language, keeping its headers."""
    new = for_status(response.status_code)
    for name, value in response.headers.items():
        if name.lower() not in ("content-type", "content-length"):
            new.headers[name] = value
    return new
