"""The base every REST resource stands on: the scope on every row path, a capped page size, and
writes that go through the services with mapped errors, idempotency and the audit log.

Reads are FAB's ModelRestApi ``get``, ``get_list`` and ``_info`` (rison filters, ordering, paging);
``related``/``distinct`` and the generic post/put/delete are not exposed. Writes are explicit
endpoints that validate the body with a marshmallow schema (422 with field messages) and then call a
service function, mapping its errors: NotFound 404, Forbidden 403, Invalid 422, Conflict 409; an
upload over its size cap 413, any other refused upload 422. Nothing is half-written: the service
commits once or rolls back.
"""

import importlib
import json

from flask import current_app, g, request
from flask_appbuilder.api import ModelRestApi
from flask_babel import lazy_gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import AuditEvent
from app.security.scope import ScopeFilter, is_visible, party_of
from app.services.base import Conflict, ServiceError
from app.storage import MB, UPLOAD_RULES, UploadError

from . import idempotency

READ = {"get": "read", "get_list": "read", "info": "read"}
NO_INFO_KEYS = ("add_columns", "edit_columns")


class ApiError(Exception):
    def __init__(self, status, message, errors=None):
        super().__init__(str(message))
        self.status = status
        self.message = message
        self.errors = errors or {}


def plain(value):
    """Lazy strings, nested dicts and lists → JSON-ready plain values."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def acting_user():
    """The user the request acts as: the password account (JWT) or an API key's service user."""
    return g.user


ERROR_RESPONSES = [
    "401: {$ref: '#/components/responses/401'}",
    "403: {$ref: '#/components/responses/403'}",
    "404: {$ref: '#/components/responses/404'}",
    "409: {description: The state of the row does not allow this, or it changed meanwhile}",
    "422: {$ref: '#/components/responses/422'}",
]


def openapi(summary, method="post", body=None, ok=200, pk=True, multipart_files=None):
    """Write the OpenAPI docstring FAB reads for a write endpoint (apply below @safe).

    ``body`` names an input schema component; ``multipart_files`` maps file fields to descriptions.
    """
    params = ["- {in: header, name: Idempotency-Key, required: false, schema: {type: string, maxLength: 128}}"]
    if pk:
        params.insert(0, "- {in: path, name: pk, required: true, schema: {type: integer}}")
    lines = [summary, "---", f"{method}:", f"  summary: {json.dumps(summary, ensure_ascii=False)}", "  parameters:"]
    lines += ["  " + p for p in params]
    if body and multipart_files:
        props = "".join(
            f"\n              {f}: {{type: string, format: binary, description: {d}}}"
            for f, d in multipart_files.items()
        )
        lines += [
            "  requestBody:",
            "    required: true",
            "    content:",
            "      multipart/form-data:",
            "        schema:",
            "          allOf:",
            f"          - {{$ref: '#/components/schemas/{body}'}}",
            "          - type: object",
            f"            required: [{', '.join(multipart_files)}]",
            "            properties:" + props,
        ]
    elif body:
        lines += [
            "  requestBody:",
            "    required: true",
            "    content:",
            "      application/json:",
            f"        schema: {{$ref: '#/components/schemas/{body}'}}",
        ]
    lines += [
        "  responses:",
        f"    {ok}: {{description: Done; id and the row as result, content: "
        "{application/json: {schema: {type: object}}}}",
    ]
    if multipart_files:
        lines.append("    413: {description: A file is larger than its limit}")
    lines += ["    " + line for line in ERROR_RESPONSES]

    def decorate(f):
        f.__doc__ = "\n".join(lines)
        return f

    return decorate


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


def service(name):
    """The service module app.services.<name>, imported when a write needs it."""
    return importlib.import_module(f"app.services.{name}")


# Input schemas: Chinese field messages (msgids are Chinese; English comes from the catalog).
def _messages():
    return {
        "required": _("必填"),
        "null": _("不能为空"),
        "invalid": _("格式不正确"),
        "too_large": _("数值过大"),
        "special": _("数值无效"),
    }


def Str(max_len, required=False, **kw):
    """A string of at most ``max_len`` characters; a required one must not be blank."""
    checks = [validate.Length(max=max_len, error=_("最多 {max} 个字符"))]
    if required:
        checks.append(validate.Regexp(r"\S", error=_("必填")))
    return fields.String(required=required, validate=checks, error_messages=_messages(), **kw)


def Text(required=False, **kw):
    return Str(4000, required=required, **kw)


def Int(required=False, minimum=None, **kw):
    checks = [validate.Range(min=minimum, error=_("不能小于 {min}"))] if minimum is not None else []
    return fields.Integer(required=required, strict=False, validate=checks, error_messages=_messages(), **kw)


def Id(required=False, **kw):
    return Int(required=required, minimum=1, **kw)


def Money(required=False, **kw):
    return fields.Decimal(
        required=required,
        places=2,
        allow_nan=False,
        validate=validate.Range(min=0, max=999_999_999_999, error=_("金额须在 {min} 至 {max} 之间")),
        error_messages=_messages(),
        **kw,
    )


def Day(required=False, **kw):
    return fields.Date(required=required, error_messages=dict(_messages(), invalid=_("日期格式应为 YYYY-MM-DD")), **kw)


def IdList(required=False, max_items=200, **kw):
    return fields.List(
        Id(),
        required=required,
        validate=validate.Length(min=1, max=max_items, error=_("须有 {min} 至 {max} 项")),
        error_messages=_messages(),
        **kw,
    )


class InputSchema(Schema):
    """Unknown fields are refused (a typo must not pass silently)."""

    class Meta:
        ordered = True

    error_messages = {"unknown": _("未知字段"), "type": _("请求体应为 JSON 对象")}


def date_order(data, start, end, strict=False, message=None):
    """Cross-field check for @validates_schema: {end: [message]} unless end is after (or on) start."""
    a, b = data.get(start), data.get(end)
    if a and b and (b <= a if strict else b < a):
        return {end: [message or _("终止日期须晚于开始日期")]}
    return {}


def raise_if(errors):
    if errors:
        raise ValidationError(errors)


class ScopedModelRestApi(ModelRestApi):
    """A ModelRestApi scoped by app.security.scope, read-only through FAB's generic routes."""

    version = "v1"
    allow_browser_login = False  # APIs are CSRF-exempt: a cookie must never authorise a write
    include_route_methods = set(READ)
    method_permission_name = dict(READ)
    page_size = 20
    base_order = ("id", "desc")

    def __init__(self):
        filters = [list(f) for f in (self.base_filters or [])]
        if not any(f[1] is ScopeFilter for f in filters):
            filters.insert(0, ["id", ScopeFilter, None])
        self.base_filters = filters
        super().__init__()

    def _sanitize_page_args(self, page, page_size):
        """Page size capped at FAB_API_MAX_PAGE_SIZE; -1 (FAB's 'uncapped') is never honoured."""
        cap = current_app.config.get("FAB_API_MAX_PAGE_SIZE") or 100
        cap = cap if cap > 0 else 100
        size = page_size or self.page_size
        if size < 1 or size > cap:
            size = cap
        return max(page or 0, 0), size

    def info_headless(self, **kwargs):
        """FAB's _info, without add/edit field info: that lists every related row unscoped, and there
        is no generic add or edit here (writes are the explicit endpoints)."""
        rison_args = dict(kwargs.get("rison") or {})
        mapped = getattr(self.info, "_response_key_func_mappings", {})
        rison_args["keys"] = [k for k in (rison_args.get("keys") or mapped) if k not in NO_INFO_KEYS]
        payload = {k: [] for k in NO_INFO_KEYS}
        self.set_response_key_mappings(payload, self.info, rison_args, **rison_args)
        return self.response(200, **payload)

    # ---- writes ----
    def dump(self, obj, api_cls=None):
        """The show representation of ``obj`` by this API or by the registered ``api_cls``."""
        api = self
        if api_cls is not None and not isinstance(self, api_cls):
            api = next(v for v in current_app.appbuilder.baseviews if isinstance(v, api_cls))
        return api.show_model_schema.dump(obj)

    def write(self, run, schema=None, file_fields=(), status=200):
        """Run one API write: parse, idempotency, validate, service call, response, audit.

        ``run(data, files)`` calls the service and returns the response body (a dict).
        """
        user = g.user
        key = request_hash = record = None
        pk = (request.view_args or {}).get("pk")
        if pk is not None and not is_visible(self.datamodel.obj, pk):
            # Out of scope answers 404 before the body is even read: nothing is revealed by a 422.
            return self._fail(user, None, 404, _("记录不存在或无权访问"))
        try:
            key = idempotency.request_key()
            payload = _payload()
            files = _files(file_fields)
            if key:
                request_hash = idempotency.fingerprint(payload, files)
                kind, value = idempotency.begin(user.id, key, request_hash)
                if kind == "replay":
                    code, body = value
                    audit_api_write(user, code, key, replayed=True)
                    return self._json(code, body, replayed=True)
                record = value
            data = (schema() if isinstance(schema, type) else schema).load(payload) if schema else payload
            body = plain_body(run(data, files))
            if record is not None:
                idempotency.finish(record, status, body)
            audit_api_write(user, status, key)
            return self._json(status, body)
        except idempotency.IdempotencyError as exc:
            return self._fail(user, key, exc.status, exc.message)
        except ValidationError as exc:
            return self._fail(user, key, 422, _("输入有误"), exc.messages)
        except ApiError as exc:
            return self._fail(user, key, exc.status, exc.message, exc.errors)
        except UploadError as exc:
            return self._fail(user, key, 422, exc.message)
        except (Conflict, IntegrityError) as exc:
            if record is not None:
                try:
                    code, body = idempotency.after_conflict(user.id, key, request_hash) or (None, None)
                except idempotency.IdempotencyError as iexc:
                    return self._fail(user, key, iexc.status, iexc.message)
                if code is not None:
                    audit_api_write(user, code, key, replayed=True)
                    return self._json(code, body, replayed=True)
            if isinstance(exc, IntegrityError):
                return self._fail(user, key, 409, _("数据冲突：记录重复或已被他人修改"))
            return self._fail(user, key, 409, exc.message, exc.errors)
        except ServiceError as exc:
            return self._fail(user, key, exc.status, exc.message, exc.errors)

    def _json(self, status, body, replayed=False):
        response = self.response(status, **body)
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response

    def _fail(self, user, key, status, message, errors=None):
        db.session.rollback()
        audit_api_write(user, status, key, message=message)
        body = {"message": str(message)}
        if errors:
            body["errors"] = field_errors(errors)
        return self.response(status, **body)


def plain_body(body):
    return plain(body) if not isinstance(body, dict) else {k: plain(v) for k, v in body.items()}


def _payload():
    """The request's fields: a JSON object, or the form fields of a multipart/urlencoded body."""
    if request.mimetype == "application/json":
        data = request.get_json(silent=True)
        if data is None:
            raise ApiError(400, _("请求体不是有效的 JSON"))
        if not isinstance(data, dict):
            raise ApiError(422, _("请求体应为 JSON 对象"))
        return data
    if request.form:
        return {k: request.form.get(k) for k in request.form}
    if request.get_data(cache=True):
        raise ApiError(415, _("请求体须为 application/json 或 multipart/form-data"))
    return {}


def _files(file_fields):
    """The uploaded files named in ``file_fields``; one over its cap answers 413 before any write."""
    files = {}
    unknown = [f for f in request.files if f not in file_fields]
    if unknown:
        raise ApiError(422, _("输入有误"), {f: [_("未知字段")] for f in unknown})
    for field in file_fields:
        fs = request.files.get(field)
        if fs is None or not fs.filename:
            continue
        cap = UPLOAD_RULES[field][1]
        stream = fs.stream
        stream.seek(0, 2)
        size = stream.tell()
        stream.seek(0)
        if size > cap:
            msg = _("文件过大，最大 %(mb)s MB", mb=cap // MB)
            raise ApiError(413, msg, {field: [msg]})
        files[field] = fs
    return files


def audit_api_write(user, status, key=None, message=None, replayed=False):
    """One AuditEvent per API write: who, for which party, from where, which endpoint, what result."""
    party = party_of(user)
    detail = f"{request.method} {request.path} {status}"
    if getattr(g, "api_key_id", None):
        detail += f" api_key={g.api_key_id}"
    if key:
        detail += f" idempotency_key={key[:64]}"
    if replayed:
        detail += " replayed"
    if message is not None:
        detail += f" {message}"
    db.session.add(
        AuditEvent(
            action="api_write",
            result="ok" if status < 400 else str(status),
            user_id=user.id,
            username=user.username,
            party_kind=party.kind,
            party_name=user.party_name,
            ip=(request.remote_addr or "")[:45],
            detail=detail[:2000],
        )
    )
    db.session.commit()


__all__ = [
    "ScopedModelRestApi",
    "InputSchema",
    "ApiError",
    "READ",
    "acting_user",
    "service",
    "validates_schema",
    "date_order",
    "raise_if",
    "openapi",
    "Str",
    "Text",
    "Int",
    "Id",
    "Money",
    "Day",
    "IdList",
    "fields",
]
