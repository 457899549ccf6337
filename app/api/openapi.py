"""The OpenAPI 3 contract of /api/v1, built from the resources themselves and served without login.

Row schemas come from the same column descriptions the rows are serialized with (app/api/rows.py);
request bodies from the marshmallow input schemas (apispec); every error is the one problem shape
(app/api/problems.py). Each operation has a unique ``operationId`` (``<resource>_<action>``), so a
code generator names its functions after them. ``/api/v1/_openapi`` describes; it reveals no row, so
it needs no token (a generator must be able to fetch it).
"""

import copy
from decimal import Decimal

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app, json

from . import problems
from .base import ScopedModelRestApi
from .query import OPERATORS
from .rows import row_schema

TITLE = "安责险信息管理系统 REST API"
DESCRIPTION = (
    "The API of the platform for insurers' and brokers' core systems. Every row is scoped to the "
    "caller's company exactly as on the web. See docs/api.md for the quick start."
)
ERROR_STATUSES = {
    "400": "The request is malformed (q, cursor, since, JSON body, Idempotency-Key)",
    "401": "No valid API key or access token",
    "403": "The caller's role may not do this",
    "404": "The row does not exist or is outside the caller's scope",
    "409": "The state of the row does not allow this, or it changed meanwhile",
    "413": "An uploaded file is larger than its limit",
    "415": "The body is neither JSON nor multipart/form-data",
    "422": "Invalid input or filter; errors names the fields",
    "429": "Too many requests; Retry-After says when to try again",
    "500": "An unexpected error (logged)",
    "503": "A dependency (the database) is unavailable; Retry-After says when to try again",
}
READ_ERRORS = ("400", "401", "403", "404", "422", "429", "500", "503")
WRITE_ERRORS = ("400", "401", "403", "404", "409", "415", "422", "429", "500", "503")
RATE_HEADERS = {
    "RateLimit-Limit": "Requests allowed in the current window",
    "RateLimit-Remaining": "Requests left in the current window",
    "RateLimit-Reset": "Seconds until the window ends",
}


def _ref(kind, name):
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema, media="application/json"):
    return {media: {"schema": schema}}


def _ok(description, schema, headers=True):
    out = {"description": description, "content": _json(schema)}
    if headers:
        out["headers"] = {h: _ref("headers", h) for h in RATE_HEADERS}
    return out


def _errors(statuses):
    return {s: _ref("responses", s) for s in statuses}


def _components(spec):
    problem = {
        "type": "object",
        "description": "RFC 9457 problem details; title and detail follow Accept-Language (zh, en)",
        "required": ["type", "title", "status", "code", "detail", "instance"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "code": {"type": "string", "enum": sorted(problems.CODES)},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {"type": "object", "additionalProperties": True},
        },
        "additionalProperties": False,
    }
    spec.components.schema("Problem", problem)
    for status, description in ERROR_STATUSES.items():
        response = {"description": description, "content": _json(_ref("schemas", "Problem"), problems.MEDIA_TYPE)}
        if status in ("429", "503"):
            response["headers"] = {"Retry-After": _ref("headers", "Retry-After")}
        spec.components.response(status, response)
    for name, description in RATE_HEADERS.items():
        spec.components.header(name, {"description": description, "schema": {"type": "integer"}})
    spec.components.header("Retry-After", {"description": "Seconds to wait", "schema": {"type": "integer"}})
    spec.components.security_scheme(
        "bearer",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (azx_…) or an access token from /api/v1/security/login",
        },
    )
    spec.components.security_scheme("apiKey", {"type": "apiKey", "in": "header", "name": "X-API-Key"})


def _params(*items):
    return [dict(p) for p in items]


PK = {"in": "path", "name": "pk", "required": True, "schema": {"type": "integer"}}
FILE_ID = {"in": "path", "name": "file_id", "required": True, "schema": {"type": "integer"}}
Q = {
    "in": "query",
    "name": "q",
    "required": False,
    "description": "Rison: (filters:!((col:…,opr:…,value:…)),order_column:…,order_direction:asc|desc,"
    "page:0,page_size:20,columns:!(…)). Operators per column: GET …/_info.",
    "schema": {"type": "string"},
}
IDEMPOTENCY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "1–128 printable characters; a retry with the same key returns the first answer",
    "schema": {"type": "string", "maxLength": 128},
}


def _list_schema(row_ref):
    nullable_url = {"type": "string", "nullable": True}
    return {
        "type": "object",
        "required": ["count", "ids", "result", "page", "page_size", "page_size_capped", "next", "prev"],
        "properties": {
            "count": {"type": "integer"},
            "ids": {"type": "array", "items": {"type": "integer"}},
            "result": {"type": "array", "items": row_ref},
            "page": {"type": "integer"},
            "page_size": {"type": "integer"},
            "page_size_capped": {"type": "boolean", "description": "page_size was above the maximum"},
            "requested_page_size": {"type": "integer"},
            "next": nullable_url,
            "prev": nullable_url,
        },
        "additionalProperties": False,
    }


def _changes_schema(row_ref):
    return {
        "type": "object",
        "required": ["ids", "result", "has_more", "next_cursor", "next", "page_size", "page_size_capped"],
        "properties": {
            "ids": {"type": "array", "items": {"type": "integer"}},
            "result": {"type": "array", "items": row_ref},
            "has_more": {"type": "boolean"},
            "next_cursor": {"type": "string", "nullable": True},
            "next": {"type": "string"},
            "page_size": {"type": "integer"},
            "page_size_capped": {"type": "boolean"},
        },
        "additionalProperties": False,
    }


FILE_META = {
    "type": "object",
    "required": ["id", "slot", "name", "content_type", "size", "sha256", "created_at", "url"],
    "properties": {
        "id": {"type": "integer"},
        "slot": {"type": "string"},
        "name": {"type": "string"},
        "content_type": {"type": "string"},
        "size": {"type": "integer"},
        "sha256": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "url": {"type": "string"},
    },
    "additionalProperties": False,
}
INFO_SCHEMA = {
    "type": "object",
    "required": ["add_columns", "edit_columns", "list_columns", "show_columns", "order_columns", "filters"],
    "properties": {
        "add_columns": {"type": "array", "items": {}},
        "edit_columns": {"type": "array", "items": {}},
        "list_columns": {"type": "array", "items": {"type": "string"}},
        "show_columns": {"type": "array", "items": {"type": "string"}},
        "order_columns": {"type": "array", "items": {"type": "string"}},
        "max_page_size": {"type": "integer"},
        "filters": {
            "type": "object",
            "additionalProperties": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "operator"],
                    "properties": {
                        "name": {"type": "string"},
                        "operator": {"type": "string", "enum": sorted({o for ops in OPERATORS.values() for o in ops})},
                    },
                },
            },
        },
    },
    "additionalProperties": False,
}


def _resource_paths(spec, api):
    name = type(api).__name__
    res = api.resource_name
    base = f"/api/{api.version}/{res}"
    tag = api.openapi_spec_tag or res
    what = api.summary_name or res
    spec.components.schema(f"{name}.row", row_schema(api.show_cols))
    spec.components.schema(f"{name}.list_row", row_schema(api.list_cols))
    show_ref, list_ref = _ref("schemas", f"{name}.row"), _ref("schemas", f"{name}.list_row")
    spec.path(
        path=base + "/",
        operations={
            "get": {
                "operationId": f"{res}_list",
                "summary": f"List {res} in the caller's scope (filters, ordering, paging)",
                "tags": [tag],
                "parameters": _params(Q),
                "responses": dict(
                    {"200": _ok(f"A page of {res}", _list_schema(list_ref))},
                    **_errors(READ_ERRORS),
                ),
            }
        },
    )
    spec.path(
        path=base + "/{pk}",
        operations={
            "get": {
                "operationId": f"{res}_get",
                "summary": f"One {what}",
                "tags": [tag],
                "parameters": _params(PK, Q),
                "responses": dict(
                    {
                        "200": _ok(
                            f"The {what}",
                            {
                                "type": "object",
                                "required": ["id", "result"],
                                "properties": {"id": {"type": "integer"}, "result": show_ref},
                                "additionalProperties": False,
                            },
                        )
                    },
                    **_errors(READ_ERRORS),
                ),
            }
        },
    )
    spec.path(
        path=base + "/_info",
        operations={
            "get": {
                "operationId": f"{res}_info",
                "summary": f"The columns, orderings and filter operators of {res}",
                "tags": [tag],
                "responses": dict({"200": _ok("The description", INFO_SCHEMA)}, **_errors(READ_ERRORS)),
            }
        },
    )
    spec.path(
        path=base + "/changes",
        operations={
            "get": {
                "operationId": f"{res}_changes",
                "summary": f"Incremental sync: {res} changed since a time, by (updated_at, id), with a cursor",
                "tags": [tag],
                "parameters": [
                    {
                        "in": "query",
                        "name": "since",
                        "required": False,
                        "description": "ISO 8601; rows with updated_at ≥ since (first call only)",
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    {
                        "in": "query",
                        "name": "cursor",
                        "required": False,
                        "description": "next_cursor of the previous page",
                        "schema": {"type": "string"},
                    },
                    {
                        "in": "query",
                        "name": "page_size",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "default": 100},
                    },
                ],
                "responses": dict({"200": _ok("Changed rows", _changes_schema(list_ref))}, **_errors(READ_ERRORS)),
            }
        },
    )
    if api.file_relations:
        spec.path(
            path=base + "/{pk}/files",
            operations={
                "get": {
                    "operationId": f"{res}_files",
                    "summary": f"The files of one {what}",
                    "tags": [tag],
                    "parameters": _params(PK),
                    "responses": dict(
                        {
                            "200": _ok(
                                "The files",
                                {
                                    "type": "object",
                                    "required": ["id", "result"],
                                    "properties": {
                                        "id": {"type": "integer"},
                                        "result": {"type": "array", "items": _ref("schemas", "FileMeta")},
                                    },
                                    "additionalProperties": False,
                                },
                            )
                        },
                        **_errors(READ_ERRORS),
                    ),
                }
            },
        )
        binary = {"type": "string", "format": "binary"}
        spec.path(
            path=base + "/{pk}/files/{file_id}",
            operations={
                "get": {
                    "operationId": f"{res}_file_download",
                    "summary": f"Download one file of a {what} (ETag = its SHA-256)",
                    "tags": [tag],
                    "parameters": _params(
                        PK,
                        FILE_ID,
                        {"in": "header", "name": "If-None-Match", "required": False, "schema": {"type": "string"}},
                    ),
                    "responses": dict(
                        {
                            "200": {
                                "description": "The file",
                                "headers": {
                                    "ETag": {"schema": {"type": "string"}},
                                    "Content-Disposition": {"schema": {"type": "string"}},
                                },
                                "content": {
                                    t: {"schema": binary} for t in ("application/pdf", "image/jpeg", "image/png")
                                },
                            },
                            "304": {"description": "Not modified (If-None-Match)"},
                        },
                        **_errors(READ_ERRORS),
                    ),
                }
            },
        )
    for attr in dir(type(api)):
        meta = getattr(getattr(type(api), attr, None), "_api_write", None)
        if meta is None:
            continue
        _write_path(spec, api, attr, meta)


def _write_path(spec, api, attr, meta):
    res = api.resource_name
    urls = getattr(getattr(type(api), attr), "_urls", [])
    url = urls[0][0] if urls else "/"
    path = f"/api/{api.version}/{res}" + url.replace("<int:pk>", "{pk}")
    params = [dict(IDEMPOTENCY)]
    if meta["pk"]:
        params.insert(0, dict(PK))
    creates = meta["creates"]
    row_ref = _ref("schemas", f"{creates or type(api).__name__}.row")
    if meta["many"]:
        ok_schema = {
            "type": "object",
            "required": ["ids", "result"],
            "properties": {
                "ids": {"type": "array", "items": {"type": "integer"}},
                "result": {"type": "array", "items": dict(row_ref)},
            },
            "additionalProperties": False,
        }
    else:
        ok_schema = {
            "type": "object",
            "required": ["id", "result"],
            "properties": {"id": {"type": "integer", "nullable": True}, "result": row_ref},
            "additionalProperties": False,
        }
    operation = {
        "operationId": f"{res}_{attr}",
        "summary": meta["summary"],
        "tags": [api.openapi_spec_tag or res],
        "parameters": params,
        "responses": dict({str(meta["ok"]): _ok("Done; the row as result", ok_schema)}, **_errors(WRITE_ERRORS)),
    }
    body = meta["body"]
    if body and meta["multipart_files"]:
        files = meta["multipart_files"]
        form = copy.deepcopy(_PLUGIN.converter.schema2jsonschema(_input_schemas()[body]))
        form["properties"].update(
            {f: {"type": "string", "format": "binary", "description": d} for f, d in files.items()}
        )
        form["required"] = list(dict.fromkeys(form.get("required", []) + list(files)))
        form_name = body.removesuffix("Schema") + "Form"
        spec.components.schema(form_name, form)
        operation["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": _ref("schemas", form_name)}},
        }
        operation["responses"]["413"] = _ref("responses", "413")
    elif body:
        operation["requestBody"] = {"required": body != "EmptySchema", "content": _json(_ref("schemas", body))}
    spec.path(path=path, operations={meta["method"]: operation})


def _input_schemas():
    """Every marshmallow input schema a write names, by class name."""
    import importlib

    from app.services.commands import EmptySchema, InputSchema

    seen = {}
    for module in (
        "applications",
        "claims",
        "orders",
        "policies",
        "webhooks",
    ):
        mod = importlib.import_module(f"app.api.{module}")
        for value in vars(mod).values():
            if isinstance(value, type) and issubclass(value, InputSchema):
                seen[value.__name__] = value
    seen["EmptySchema"] = EmptySchema
    return seen


def _security_paths(spec):
    token_ok = {
        "type": "object",
        "required": ["access_token"],
        "properties": {"access_token": {"type": "string"}, "refresh_token": {"type": "string"}},
        "additionalProperties": False,
    }
    login_body = {
        "type": "object",
        "required": ["username", "password"],
        "properties": {
            "username": {"type": "string", "minLength": 1, "maxLength": 64},
            "password": {"type": "string", "minLength": 1, "maxLength": 256},
            "provider": {"type": "string", "enum": ["db"], "default": "db"},
            "refresh": {"type": "boolean", "default": False},
        },
        "additionalProperties": False,
    }
    spec.path(
        path="/api/v1/security/login",
        operations={
            "post": {
                "operationId": "security_login",
                "summary": "Log a password account in: an access token (15 minutes), optionally a refresh token",
                "tags": ["Security"],
                "security": [],
                "requestBody": {"required": True, "content": _json(login_body)},
                "responses": dict(
                    {"200": _ok("Tokens", token_ok)}, **_errors(("400", "401", "403", "422", "429", "500", "503"))
                ),
            }
        },
    )
    spec.path(
        path="/api/v1/security/refresh",
        operations={
            "post": {
                "operationId": "security_refresh",
                "summary": "A new access token for a refresh token",
                "tags": ["Security"],
                "responses": dict(
                    {"200": _ok("A new access token", token_ok)}, **_errors(("401", "429", "500", "503"))
                ),
            }
        },
    )
    spec.path(
        path="/api/v1/security/logout",
        operations={
            "post": {
                "operationId": "security_logout",
                "summary": "Revoke every token of the account",
                "tags": ["Security"],
                "responses": dict(
                    {
                        "200": _ok(
                            "Revoked",
                            {
                                "type": "object",
                                "required": ["revoked"],
                                "properties": {"revoked": {"type": "boolean"}},
                                "additionalProperties": False,
                            },
                        )
                    },
                    **_errors(("401", "429", "500", "503")),
                ),
            }
        },
    )


_PLUGIN = None


def build():
    """The contract as a dict (cached per app: it depends only on the code)."""
    cached = current_app.extensions.get("azx_openapi")
    if cached is not None:
        return copy.deepcopy(cached)
    global _PLUGIN
    _PLUGIN = MarshmallowPlugin()
    spec = APISpec(
        title=TITLE,
        version="1.0.0",
        openapi_version="3.0.3",
        info={"description": DESCRIPTION},
        plugins=[_PLUGIN],
        servers=[{"url": "/"}],
        security=[{"bearer": []}, {"apiKey": []}],
    )
    _components(spec)
    spec.components.schema("FileMeta", FILE_META)
    for name, schema in _input_schemas().items():
        spec.components.schema(name, schema=schema)
    _security_paths(spec)
    apis = sorted(
        (v for v in current_app.appbuilder.baseviews if isinstance(v, ScopedModelRestApi)),
        key=lambda v: v.resource_name,
    )
    for api in apis:
        _resource_paths(spec, api)
    from . import webhooks

    webhooks.add_paths(spec)
    doc = _numbers(spec.to_dict())
    current_app.extensions["azx_openapi"] = doc
    return copy.deepcopy(doc)


def _numbers(node):
    """minimum/maximum/default of number and integer schemas as JSON numbers (apispec keeps a Decimal
    field's bounds as strings)."""
    if isinstance(node, dict):
        out = {k: _numbers(v) for k, v in node.items()}
        if out.get("type") in ("number", "integer"):
            for key in ("minimum", "maximum", "default"):
                value = out.get(key)
                if isinstance(value, Decimal):
                    value = str(value)
                if isinstance(value, str):
                    try:
                        number = float(value)
                        out[key] = int(number) if number.is_integer() else number
                    except ValueError:
                        out.pop(key)
        return out
    if isinstance(node, list):
        return [_numbers(v) for v in node]
    return node


def serve(version):
    """The view of /api/<version>/_openapi (FAB's route, our document, no login)."""
    if version != "v1":
        return problems.response("not_found")
    response = current_app.response_class(
        json.dumps(build(), ensure_ascii=False), status=200, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
