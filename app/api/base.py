"""The base every REST resource stands on.

Reads (``GET /``, ``GET /<pk>``, ``GET /_info``, ``GET /changes``, a row's files) are written here,
not taken from FAB's ModelRestApi: every query goes through app/security/scope.py, filters are strict
(app/api/query.py), rows are serialized from one column description that also writes their OpenAPI
schema (app/api/rows.py), lists carry next/prev links, and ``changes`` walks (updated_at, id) with
a stable cursor for incremental sync.

Writes are explicit endpoints that validate the body with a marshmallow schema (422 with field
messages) and then call a service function, mapping its errors: NotFound 404, Forbidden 403, Invalid
422, Conflict 409; an upload over its size cap 413, any other refused upload 422. The service commits
once or rolls back. A write that committed is answered with its success whatever happens after the
commit (reading the row back, storing the idempotent response, the audit row): those errors are
logged, never answered. Every error is an RFC 9457 problem (app/api/problems.py).
"""

import functools
import importlib
import json
import logging
from datetime import timedelta
from urllib.parse import urlencode

import prison
from flask import current_app, g, request, send_file
from flask_appbuilder.api import BaseApi, expose, protect
from flask_babel import lazy_gettext as _
from marshmallow import ValidationError
from sqlalchemy import and_, event, func, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.models import AuditEvent
from app.models.base import utcnow
from app.security.scope import criterion, is_visible, party_of
from app.services.base import Conflict, ServiceError
from app.storage import MB, UPLOAD_RULES, UploadError
from app.validators import INT32_MAX

from . import files as api_files
from . import idempotency, problems, query
from .problems import Problem
from .rows import describe, serialize

log = logging.getLogger(__name__)

READ = {"get_list": "read", "get": "read", "info": "read", "changes": "read", "files": "read", "file": "read"}


class ApiError(Problem):
    """Kept for the resource modules: ApiError(status, message, errors)."""

    def __init__(self, status, message, errors=None):
        super().__init__(problems.CODE_OF_STATUS.get(status, "bad_request"), message, errors, status=status)


def acting_user():
    """The user the request acts as: the password account (JWT) or an API key's service user."""
    return g.user


def service(name):
    """The service module app.services.<name>, imported when a write needs it."""
    return importlib.import_module(f"app.services.{name}")


def max_page_size():
    """The largest page a list or changes call answers (_info tells the client)."""
    return current_app.config.get("FAB_API_MAX_PAGE_SIZE") or 100


def retry_after():
    return str(current_app.config.get("API_RETRY_AFTER_SECONDS", 30))


def guard(f):
    """Below @protect: every exception becomes a problem; a database that is down answers 503."""

    @functools.wraps(f)
    def wraps(self, *args, **kwargs):
        try:
            return f(self, *args, **kwargs)
        except Problem as exc:
            _rollback()
            return problems.from_problem(exc)
        except HTTPException as exc:
            _rollback()
            return problems.http_error(exc)
        except (OperationalError, DBAPIError) as exc:
            log.error("database error on %s %s: %s", request.method, request.path, exc.__class__.__name__)
            _rollback(remove=True)
            if isinstance(exc, OperationalError) or getattr(exc, "connection_invalidated", False):
                return problems.response("service_unavailable", headers={"Retry-After": retry_after()})
            return problems.response("internal_error")
        except Exception:
            log.exception("API error on %s %s", request.method, request.path)
            _rollback()
            return problems.response("internal_error")

    return wraps


def _rollback(remove=False):
    try:
        db.session.rollback()
        if remove:
            db.session.remove()
    except Exception:
        db.session.registry.clear()


def check_pk(pk):
    """Ids beyond the integer column's range cannot exist: 404 before the database sees them."""
    if not isinstance(pk, int) or not 1 <= pk <= INT32_MAX:
        raise Problem("not_found")
    return pk


def openapi(summary, method="post", body=None, ok=200, pk=True, multipart_files=None, creates=None, many=False):
    """The contract of a write endpoint, read by app/api/openapi.py (apply below @guard).

    ``body`` names an input schema class; ``multipart_files`` maps file fields to descriptions;
    ``creates`` names the resource class whose rows the write returns (default: its own);
    ``many``: the write returns several rows (``ids``)."""

    def decorate(f):
        f._api_write = dict(
            summary=summary,
            method=method,
            body=body,
            ok=ok,
            pk=pk,
            multipart_files=multipart_files or {},
            creates=creates,
            many=many,
        )
        return f

    return decorate


# ---------------------------------------------------------------- the resource
class ScopedModelRestApi(BaseApi):
    """A read-only, scoped resource over ``model`` plus explicit write endpoints."""

    version = "v1"
    allow_browser_login = False  # APIs are CSRF-exempt: a cookie must never authorise a write
    model = None
    include_route_methods = set(READ)
    method_permission_name = dict(READ)
    page_size = 20
    base_order = ("id", "desc")
    list_columns: list = []
    show_columns: list = []
    search_columns: list = []
    order_columns: list = []
    file_relations: tuple = ()  # relationships of the row that hold its files
    big_columns: tuple = ()  # integer filters allowed past 32 bits (none so far)
    summary_name = ""  # English name of the resource in the contract
    scope_model: dict | None = None

    def __init__(self):
        if self.model is None and getattr(self, "datamodel", None) is not None:
            self.model = self.datamodel.obj
        if self.scope_model is None:
            from app.models import StoredFile

            # what the ids in this resource's URLs name (the isolation matrix substitutes foreign ones)
            self.scope_model = {"pk": self.model, "file_id": StoredFile}
        cols = list(dict.fromkeys(list(self.list_columns) + ["id", "updated_at"]))
        self.list_columns = cols
        self.show_columns = list(dict.fromkeys(list(self.show_columns or cols) + ["id", "updated_at"]))
        self.order_columns = list(dict.fromkeys(list(self.order_columns) + ["id", "updated_at"]))
        self.list_cols = [describe(self.model, c) for c in self.list_columns]
        self.show_cols = [describe(self.model, c) for c in self.show_columns]
        self.filter_specs = self._filter_specs()
        super().__init__()

    # ---- description
    def _filter_specs(self):
        mapper = sa_inspect(self.model)
        specs = {}
        for name in list(dict.fromkeys(["id", *self.search_columns, "updated_at"])):
            rel = mapper.relationships.get(name)
            if rel is not None:
                (local,) = list(rel.local_columns)
                specs[name] = query.FilterSpec(name, "relation", getattr(self.model, local.key))
                continue
            col = describe(self.model, name)
            if col.relation is not None:
                raise ValueError(f"{type(self).__name__}: filter on {name} is not supported")
            specs[name] = query.FilterSpec(
                name, col.kind, getattr(self.model, name), col.max_length, big=name in self.big_columns
            )
        return specs

    def cols_for(self, names, default):
        if not names:
            return default
        allowed = {c.name: c for c in default}
        out = []
        for name in names:
            if name in allowed:
                out.append(allowed[name])
            else:  # a relation named whole: all its columns
                out += [c for c in default if c.relation == name]
        return out

    # ---- queries
    def base_criteria(self):
        """Extra SQL criteria every row of the resource meets (beyond the scope)."""
        return []

    def _where(self):
        crits = list(self.base_criteria())
        scope = criterion(self.model)
        if scope is not None:
            crits.insert(0, scope)
        return crits

    def _options(self, cols):
        rels = sorted({c.relation for c in cols if c.relation})
        return [joinedload(getattr(self.model, r)) for r in rels]

    def row(self, pk):
        """The row in scope, or None."""
        stmt = select(self.model).where(self.model.id == pk, *self._where())
        return db.session.execute(stmt.options(*self._options(self.show_cols))).unique().scalars().first()

    def present(self, obj, cols=None):
        return serialize(obj, cols or self.show_cols)

    # ---- reads
    @expose("/", methods=["GET"])
    @protect()
    @guard
    def get_list(self, **kwargs):
        q = query.parse_q()
        cap = max_page_size()
        page, size, requested = query.page_args(q, self.page_size, cap)
        column, direction = query.order_args(q, self.order_columns, self.base_order)
        cols = self.cols_for(query.column_args(q, self.list_columns), self.list_cols)
        where = self._where() + query.criteria(q.get("filters"), self.filter_specs)
        count = db.session.execute(select(func.count(self.model.id)).where(*where)).scalar_one()
        order = getattr(self.model, column)
        tiebreak = self.model.id
        ordering = [order.desc(), tiebreak.desc()] if direction == "desc" else [order.asc(), tiebreak.asc()]
        if column == "id":
            ordering = ordering[:1]
        stmt = (
            select(self.model)
            .where(*where)
            .order_by(*ordering)
            .offset(page * size)
            .limit(size)
            .options(*self._options(cols))
        )
        rows = db.session.execute(stmt).unique().scalars().all()
        body = {
            "count": count,
            "ids": [r.id for r in rows],
            "result": [serialize(r, cols) for r in rows],
            "page": page,
            "page_size": size,
            "page_size_capped": requested is not None,
            "next": None,
            "prev": None,
        }
        if requested is not None:
            body["requested_page_size"] = requested
        if (page + 1) * size < count and (page + 1) * size <= query.MAX_OFFSET:
            body["next"] = self._page_url(q, page + 1, size)
        if page > 0:
            body["prev"] = self._page_url(q, min(page - 1, max((count - 1) // size, 0)), size)
        response = self.response(200, **body)
        links = [f'<{body[rel]}>; rel="{rel}"' for rel in ("next", "prev") if body[rel]]
        if links:
            response.headers["Link"] = ", ".join(links)
        if requested is not None:
            response.headers["X-Page-Size-Capped"] = f"{requested}->{size}"
        return response

    def _page_url(self, q, page, size):
        q = dict(q, page=page, page_size=size)
        return request.base_url + "?" + urlencode({"q": prison.dumps(q)})

    @expose("/<int:pk>", methods=["GET"])
    @protect()
    @guard
    def get(self, pk, **kwargs):
        check_pk(pk)
        q = query.parse_q()
        unknown = set(q) - {"columns", "keys"}
        if unknown:
            raise Problem(
                "invalid_query", _("单条记录只接受 columns"), errors={f"q.{k}": [_("未知的键")] for k in unknown}
            )
        cols = self.cols_for(query.column_args(q, self.show_columns), self.show_cols)
        obj = self.row(pk)
        if obj is None:
            raise Problem("not_found")
        return self.response(200, id=pk, result=serialize(obj, cols))

    @expose("/_info", methods=["GET"])
    @protect()
    @guard
    def info(self, **kwargs):
        return self.response(
            200,
            add_columns=[],
            edit_columns=[],
            list_columns=self.list_columns,
            show_columns=self.show_columns,
            order_columns=self.order_columns,
            filters={
                name: [{"name": o, "operator": o} for o in spec.operators] for name, spec in self.filter_specs.items()
            },
            max_page_size=max_page_size(),
        )

    @expose("/changes", methods=["GET"])
    @protect()
    @guard
    def changes(self, **kwargs):
        """Rows changed since ``since`` (or from the beginning), oldest change first, by (updated_at,
        id). ``next_cursor`` continues exactly after the last row; rows newer than the settle time
        (API_SYNC_SETTLE_SECONDS, so that a transaction still committing cannot be overtaken) wait
        for the next call."""
        cap = max_page_size()
        raw_size = request.args.get("page_size", "")
        try:
            size = int(raw_size) if raw_size != "" else 100
        except ValueError:
            raise Problem("invalid_query", _("page_size 应为整数"), errors={"page_size": [_("应为整数")]}) from None
        if size < 1:
            raise Problem(
                "invalid_query", _("page_size 应为不小于 1 的整数"), errors={"page_size": [_("应为不小于 1 的整数")]}
            )
        capped = size > cap
        size = min(size, cap)
        since = query.since_arg()
        cursor = request.args.get("cursor")
        extra = set(request.args) - {"since", "cursor", "page_size"}
        if extra:
            raise Problem(
                "invalid_query",
                _("未知的参数：%(keys)s", keys=", ".join(sorted(extra))),
                errors={k: [_("未知的参数")] for k in sorted(extra)},
            )
        m = self.model
        where = self._where()
        settle = current_app.config.get("API_SYNC_SETTLE_SECONDS", 2)
        if settle:
            where.append(m.updated_at <= utcnow() - timedelta(seconds=settle))
        if since is not None:
            where.append(m.updated_at >= since)
        if cursor:
            at, after_id = query.decode_cursor(cursor)
            where.append(or_(m.updated_at > at, and_(m.updated_at == at, m.id > after_id)))
        stmt = (
            select(m)
            .where(*where)
            .order_by(m.updated_at.asc(), m.id.asc())
            .limit(size + 1)
            .options(*self._options(self.list_cols))
        )
        rows = db.session.execute(stmt).unique().scalars().all()
        more = len(rows) > size
        rows = rows[:size]
        if rows:
            next_cursor = query.encode_cursor(rows[-1].updated_at, rows[-1].id)
        else:
            next_cursor = cursor or None
        args = {"cursor": next_cursor} if next_cursor else ({"since": request.args["since"]} if since else {})
        args["page_size"] = size
        body = {
            "ids": [r.id for r in rows],
            "result": [serialize(r, self.list_cols) for r in rows],
            "has_more": more,
            "next_cursor": next_cursor,
            "next": request.base_url + "?" + urlencode(args),
            "page_size": size,
            "page_size_capped": capped,
        }
        response = self.response(200, **body)
        response.headers["Link"] = f'<{body["next"]}>; rel="next"'
        return response

    # ---- files of a row
    @expose("/<int:pk>/files", methods=["GET"])
    @protect()
    @guard
    def files(self, pk, **kwargs):
        check_pk(pk)
        obj = self.row(pk)
        if obj is None or not self.file_relations:
            raise Problem("not_found")
        items = api_files.files_of(self, obj)
        return self.response(200, id=pk, result=[api_files.describe_file(self, pk, slot, f) for slot, f in items])

    @expose("/<int:pk>/files/<int:file_id>", methods=["GET"])
    @protect()
    @guard
    def file(self, pk, file_id, **kwargs):
        check_pk(pk)
        check_pk(file_id)
        obj = self.row(pk)
        if obj is None or not self.file_relations:
            raise Problem("not_found")
        for slot, stored in api_files.files_of(self, obj):
            if stored.id == file_id:
                return api_files.send(stored, slot, send_file)
        raise Problem("not_found")

    # ---- writes
    def write(self, act, schema=None, file_fields=(), status=200, creates=None, many=False):
        """Run one API write: parse, idempotency, validate, service call, respond, audit.

        ``act(data, files)`` calls the service (which commits) and returns the id (or, with
        ``many``, the ids) of the rows to answer with, presented by ``creates`` (a resource class;
        default this one). A new row's id is also captured at flush, so that a response stored for
        ``Idempotency-Key`` in the write's own transaction names it even if nothing after the commit
        can run."""
        user = g.user
        key = request_hash = record = None
        pk = (request.view_args or {}).get("pk")
        presenter = self if creates is None else _api_instance(creates)
        if pk is not None:
            check_pk(pk)
            if not is_visible(self.model, pk):
                # Out of scope answers 404 before the body is even read: nothing is revealed by a 422.
                return self._fail(user, None, Problem("not_found"))
        try:
            key = idempotency.request_key()
            payload = _payload()
            files = _files(file_fields)
            if key:
                request_hash = idempotency.fingerprint(payload, files)
                kind, value = idempotency.begin(user.id, key, request_hash)
                if kind == "replay":
                    code, body = value
                    body = self._rebuild(presenter, body, many)
                    audit_api_write(user, code, key, replayed=True)
                    return self._json(code, body, replayed=True)
                record = value
            data = (schema() if isinstance(schema, type) else schema).load(payload) if schema else payload
            with _pending_response(record, status, presenter.model if creates else None, pk, many):
                ids = act(data, files)
        except idempotency.IdempotencyError as exc:
            return self._fail(user, key, exc.problem())
        except ValidationError as exc:
            return self._fail(user, key, Problem("validation_failed", _("输入有误"), exc.messages))
        except UploadError as exc:
            return self._fail(
                user, key, Problem("validation_failed", exc.message, {f: [exc.message] for f in file_fields})
            )
        except (Conflict, IntegrityError) as exc:
            if record is not None:
                try:
                    found = idempotency.after_conflict(user.id, key, request_hash)
                except idempotency.IdempotencyError as iexc:
                    return self._fail(user, key, iexc.problem())
                if found is not None:
                    code, body = found
                    audit_api_write(user, code, key, replayed=True)
                    return self._json(code, self._rebuild(presenter, body, many), replayed=True)
            if isinstance(exc, IntegrityError):
                return self._fail(user, key, Problem("conflict", _("数据冲突：记录重复或已被他人修改")))
            return self._fail(user, key, Problem("conflict", exc.message, exc.errors))
        except ServiceError as exc:
            code = problems.CODE_OF_STATUS.get(exc.status, "bad_request")
            return self._fail(user, key, Problem(code, exc.message, exc.errors, status=exc.status))
        # committed: from here on nothing may turn the success into an error
        body = _minimal(ids, many)
        try:
            body = self._body(presenter, ids, many)
        except Exception:
            log.exception("API write %s %s committed; its row could not be read back", request.method, request.path)
            _rollback(remove=True)
        if record is not None:
            try:
                idempotency.finish(record, status, body)
            except Exception:
                log.exception("API write committed; its idempotent response was not stored (the replay rebuilds it)")
                _rollback(remove=True)
        try:
            audit_api_write(user, status, key)
        except Exception:
            log.exception("API write committed; its audit row was not written")
            _rollback(remove=True)
        return self._json(status, body)

    def transition(self, pk, schema, module, action, *fields):
        """A write that moves row ``pk`` on (approve, refuse …) and answers with it: the service call
        ``app.services.<module>.<action>(pk, user, *(data.get(f) for f in fields))``."""

        def act(data, files):
            getattr(service(module), action)(pk, acting_user(), *(data.get(f) for f in fields))
            return pk

        return self.write(act, schema)

    @staticmethod
    def _body(presenter, ids, many):
        if many:
            rows = [presenter.row(i) for i in ids]
            return {"ids": list(ids), "result": [presenter.present(r) if r is not None else {} for r in rows]}
        obj = presenter.row(ids)
        return {"id": ids, "result": presenter.present(obj) if obj is not None else {}}

    def _rebuild(self, presenter, body, many):
        """A response stored as the write committed names only the id(s): read the row(s) again."""
        if isinstance(body, dict) and body.get("_committed"):
            ids = body.get("ids") if many else body.get("id")
            try:
                return self._body(presenter, ids, many)
            except Exception:
                log.exception("replay of a committed write could not read its rows")
                return _minimal(ids, many)
        return body

    def _json(self, status, body, replayed=False):
        response = self.response(status, **body)
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response

    def _fail(self, user, key, problem):
        _rollback()
        audit_api_write(user, problem.status, key, message=problem.detail)
        return problems.from_problem(problem)

    @staticmethod
    def response(code, **kwargs):
        response = current_app.response_class(
            json.dumps(kwargs, ensure_ascii=False, default=_default), status=code, mimetype="application/json"
        )
        response.headers["Content-Type"] = "application/json; charset=utf-8"
        return response

    # FAB's protect() answers with these
    def response_400(self, message=None):
        return problems.response("bad_request", detail=message)

    def response_401(self):
        return problems.response("unauthorized")

    def response_403(self):
        return problems.response("forbidden", detail=_("您的角色没有此操作的权限"))

    def response_404(self):
        return problems.response("not_found")

    def response_422(self, message=None):
        return problems.response("validation_failed", detail=message)

    def response_500(self, message=None):
        return problems.response("internal_error")


def _default(value):
    from .rows import plain_value

    converted = plain_value(value)
    if converted is value:
        return str(value)
    return converted


def _minimal(ids, many):
    return {"ids": list(ids or []), "result": [{} for _ in ids or []]} if many else {"id": ids, "result": {}}


def _api_instance(api_cls):
    return next(v for v in current_app.appbuilder.baseviews if isinstance(v, api_cls))


class _pending_response:
    """While a write runs: the idempotency record (added uncommitted) is given the success status and
    the id(s) at the commit, so that the row and the stored answer are one transaction."""

    def __init__(self, record, status, created_model, pk, many):
        self.record, self.status, self.model, self.pk, self.many = record, status, created_model, pk, many
        self.created = []

    def __enter__(self):
        if self.record is not None:
            session = db.session()
            event.listen(session, "after_flush", self._after_flush)
            event.listen(session, "before_commit", self._before_commit)
            self.session = session
        return self

    def __exit__(self, *exc):
        if self.record is not None:
            event.remove(self.session, "after_flush", self._after_flush)
            event.remove(self.session, "before_commit", self._before_commit)
        return False

    def _after_flush(self, session, context):
        if self.model is not None:
            self.created += [o.id for o in session.new if isinstance(o, self.model)]

    def _before_commit(self, session):
        record = self.record
        if record not in session or record.status_code is not None:
            return
        if self.model is None:
            ids = self.pk
        else:
            ids = sorted(set(self.created)) if self.many else (self.created[0] if self.created else None)
        body = dict(_minimal(ids, self.many), _committed=True)
        record.status_code = self.status
        record.response_body = json.dumps(body)


def _payload():
    """The request's fields: a JSON object, or the form fields of a multipart/urlencoded body."""
    if request.mimetype == "application/json":
        data = request.get_json(silent=True)
        if data is None:
            if not request.get_data(cache=True):
                return {}
            raise Problem("invalid_json", _("请求体不是有效的 JSON"))
        if not isinstance(data, dict):
            raise Problem("validation_failed", _("请求体应为 JSON 对象"), {"_schema": [_("请求体应为 JSON 对象")]})
        return data
    if request.form:
        return {k: request.form.get(k) for k in request.form}
    if request.get_data(cache=True):
        raise Problem("unsupported_media_type", _("请求体须为 application/json 或 multipart/form-data"))
    return {}


def _files(file_fields):
    """The uploaded files named in ``file_fields``; one over its cap answers 413 before any write."""
    files = {}
    unknown = [f for f in request.files if f not in file_fields]
    if unknown:
        raise Problem("validation_failed", _("输入有误"), {f: [_("未知字段")] for f in unknown})
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
            raise Problem("payload_too_large", msg, {field: [msg]})
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
    "ApiError",
    "READ",
    "acting_user",
    "service",
    "openapi",
    "guard",
]
