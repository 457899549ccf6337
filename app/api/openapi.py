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


def _responses(description, schema, errors=READ_ERRORS, status="200"):
    """The success (with the rate-limit headers) and the problems an operation may answer instead."""
    return {status: _ok(description, schema), **_errors(errors)}


def _object(properties, required=None):
    """A closed object schema; every property is required unless ``required`` names fewer."""
    return {
        "type": "object",
        "required": list(properties) if required is None else required,
        "properties": properties,
        "additionalProperties": False,
    }


def _operation(resource, action, tag, summary, responses, **more):
    """One operation, named ``<resource>_<action>``; ``more``: its parameters, requestBody, security."""
    return {"operationId": f"{resource}_{action}", "summary": summary, "tags": [tag], "responses": responses, **more}


def _components(spec):
    problem = _object(
        {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "code": {"type": "string", "enum": sorted(problems.CODES)},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {"type": "object", "additionalProperties": True},
        },
        ["type", "title", "status", "code", "detail", "instance"],
    )
    problem["description"] = "RFC 9457 problem details; title and detail follow Accept-Language (zh, en)"
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


def _param(location, name, schema, description=None):
    """A parameter of an operation; only a path's is required."""
    param = {"in": location, "name": name, "required": location == "path", "schema": schema}
    if description:
        param["description"] = description
    return param


PK = _param("path", "pk", {"type": "integer"})
FILE_ID = _param("path", "file_id", {"type": "integer"})
Q = _param(
    "query",
    "q",
    {"type": "string"},
    "Rison: (filters:!((col:…,opr:…,value:…)),order_column:…,order_direction:asc|desc,"
    "page:0,page_size:20,columns:!(…)). Operators per column: GET …/_info.",
)
IDEMPOTENCY = _param(
    "header",
    "Idempotency-Key",
    {"type": "string", "maxLength": 128},
    "1–128 printable characters; a retry with the same key returns the first answer",
)


def _list_schema(row_ref):
    nullable_url = {"type": "string", "nullable": True}
    return _object(
        {
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
        ["count", "ids", "result", "page", "page_size", "page_size_capped", "next", "prev"],
    )


def _changes_schema(row_ref):
    return _object(
        {
            "ids": {"type": "array", "items": {"type": "integer"}},
            "result": {"type": "array", "items": row_ref},
            "has_more": {"type": "boolean"},
            "next_cursor": {"type": "string", "nullable": True},
            "next": {"type": "string"},
            "page_size": {"type": "integer"},
            "page_size_capped": {"type": "boolean"},
        }
    )


FILE_META = _object(
    {
        "id": {"type": "integer"},
        "slot": {"type": "string"},
        "name": {"type": "string"},
        "content_type": {"type": "string"},
        "size": {"type": "integer"},
        "sha256": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "url": {"type": "string"},
    }
)
INFO_SCHEMA = _object(
    {
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
    ["add_columns", "edit_columns", "list_columns", "show_columns", "order_columns", "filters"],
)


def _resource_paths(spec, api):
    name = type(api).__name__
    res = api.resource_name
    base = f"/api/{api.version}/{res}"
    tag = api.openapi_spec_tag or res
    what = api.summary_name or res
    spec.components.schema(f"{name}.row", row_schema(api.show_cols))
    spec.components.schema(f"{name}.list_row", row_schema(api.list_cols))
    show_ref, list_ref = _ref("schemas", f"{name}.row"), _ref("schemas", f"{name}.list_row")

    def get(path, action, summary, responses, **more):
        spec.path(path=base + path, operations={"get": _operation(res, action, tag, summary, responses, **more)})

    get(
        "/",
        "list",
        f"List {res} in the caller's scope (filters, ordering, paging)",
        _responses(f"A page of {res}", _list_schema(list_ref)),
        parameters=_params(Q),
    )
    get(
        "/{pk}",
        "get",
        f"One {what}",
        _responses(f"The {what}", _object({"id": {"type": "integer"}, "result": show_ref})),
        parameters=_params(PK, Q),
    )
    get(
        "/_info",
        "info",
        f"The columns, orderings and filter operators of {res}",
        _responses("The description", INFO_SCHEMA),
    )
    get(
        "/changes",
        "changes",
        f"Incremental sync: {res} changed since a time, by (updated_at, id), with a cursor",
        _responses("Changed rows", _changes_schema(list_ref)),
        parameters=[
            _param(
                "query",
                "since",
                {"type": "string", "format": "date-time"},
                "ISO 8601; rows with updated_at ≥ since (first call only)",
            ),
            _param("query", "cursor", {"type": "string"}, "next_cursor of the previous page"),
            _param("query", "page_size", {"type": "integer", "minimum": 1, "default": 100}),
        ],
    )
    if api.file_relations:
        files = _object({"id": {"type": "integer"}, "result": {"type": "array", "items": _ref("schemas", "FileMeta")}})
        get("/{pk}/files", "files", f"The files of one {what}", _responses("The files", files), parameters=_params(PK))
        binary = {"type": "string", "format": "binary"}
        download = {
            "description": "The file",
            "headers": {
                "ETag": {"schema": {"type": "string"}},
                "Content-Disposition": {"schema": {"type": "string"}},
            },
            "content": {t: {"schema": binary} for t in ("application/pdf", "image/jpeg", "image/png")},
        }
        get(
            "/{pk}/files/{file_id}",
            "file_download",
            f"Download one file of a {what} (ETag = its SHA-256)",
            {"200": download, "304": {"description": "Not modified (If-None-Match)"}, **_errors(READ_ERRORS)},
            parameters=_params(PK, FILE_ID, _param("header", "If-None-Match", {"type": "string"})),
        )
    for attr in dir(type(api)):
        meta = getattr(getattr(type(api), attr, None), "_api_write", None)
        if meta is not None:
            _write_path(spec, api, attr, meta)


def _write_path(spec, api, attr, meta):
    res = api.resource_name
    urls = getattr(getattr(type(api), attr), "_urls", [])
    url = urls[0][0] if urls else "/"
    path = f"/api/{api.version}/{res}" + url.replace("<int:pk>", "{pk}")
    row_ref = _ref("schemas", f"{meta['creates'] or type(api).__name__}.row")
    if meta["many"]:
        ok_schema = _object(
            {"ids": {"type": "array", "items": {"type": "integer"}}, "result": {"type": "array", "items": row_ref}}
        )
    else:
        ok_schema = _object({"id": {"type": "integer", "nullable": True}, "result": row_ref})
    operation = _operation(
        res,
        attr,
        api.openapi_spec_tag or res,
        meta["summary"],
        _responses("Done; the row as result", ok_schema, WRITE_ERRORS, str(meta["ok"])),
        parameters=_params(PK, IDEMPOTENCY) if meta["pk"] else _params(IDEMPOTENCY),
    )
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
    token_ok = _object({"access_token": {"type": "string"}, "refresh_token": {"type": "string"}}, ["access_token"])
    login_body = _object(
        {
            "username": {"type": "string", "minLength": 1, "maxLength": 64},
            "password": {"type": "string", "minLength": 1, "maxLength": 256},
            "provider": {"type": "string", "enum": ["db"], "default": "db"},
            "refresh": {"type": "boolean", "default": False},
        },
        ["username", "password"],
    )

    def post(action, summary, responses, **more):
        operation = _operation("security", action, "Security", summary, responses, **more)
        spec.path(path=f"/api/v1/security/{action}", operations={"post": operation})

    post(
        "login",
        "Log a password account in: an access token (15 minutes), optionally a refresh token",
        _responses("Tokens", token_ok, ("400", "401", "403", "422", "429", "500", "503")),
        security=[],
        requestBody={"required": True, "content": _json(login_body)},
    )
    post(
        "refresh",
        "A new access token for a refresh token",
        _responses("A new access token", token_ok, ("401", "429", "500", "503")),
    )
    post(
        "logout",
        "Revoke every token of the account",
        _responses("Revoked", _object({"revoked": {"type": "boolean"}}), ("401", "429", "500", "503")),
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
