"""The isolation matrix: every endpoint of app.url_map, for every party kind, against the other party's rows.

Nothing here names a view. The rules are read from ``app.url_map`` at run time and classified by
their URL arguments and view class:

- static / account endpoints (FAB's login, logout, language, API login, OpenAPI): public by design;
- row endpoints: an argument that is a row id — ``<pk>`` (the view's ``datamodel``), ``<int:file_id>``
  (StoredFile), or another ``…id`` argument resolved through the view's ``scope_model`` declaration
  (a model, or ``{argument: model}``; ``None`` marks an argument that is not a row id) or, failing
  that, an argument named ``<table name>_id``;
- list / page / export endpoints: no argument;
- public endpoints: no argument and no permission (health check, certificate login, own password),
  requested anonymously;
- admin-only endpoints: no non-admin role holds the endpoint's permission.

For each signed-in party user the OTHER party's ids are substituted and the endpoint is called with
every HTTP method it accepts: a row endpoint must answer 404 (or 403) and the row must be unchanged;
a list, page or export must never contain the other party's unique marker. An endpoint that cannot
be classified fails ``test_every_endpoint_is_classified`` with its rule printed: a new endpoint is
covered without editing this file, or declares what its ids are.
"""

import io
import zipfile
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from conftest import KINDS, PASSWORD, SIDES
from sqlalchemy import select

from app.extensions import db

SKIP_METHODS = {"HEAD", "OPTIONS"}
# Endpoints that log the client out or switch its language would spoil the rest of the run.
SESSION_CHANGING = {"logout", "index"}
# FAB checks the action's own permission inside these methods.
INTERNALLY_CHECKED = {"action", "action_post"}


@dataclass
class Endpoint:
    rule: object
    endpoint: str
    view: object
    method_name: str
    kind: str  # static, account, row, list, admin, unclassified
    id_args: dict = field(default_factory=dict)  # argument -> model
    other_args: dict = field(default_factory=dict)  # argument -> sample values
    permission: str | None = None
    reason: str = ""

    @property
    def methods(self):
        return sorted(self.rule.methods - SKIP_METHODS)


def _account_classes():
    from flask_appbuilder.api.manager import OpenApi, SwaggerView
    from flask_appbuilder.babel.views import LocaleView
    from flask_appbuilder.menu import MenuApi
    from flask_appbuilder.security.api import SecurityApi
    from flask_appbuilder.security.views import AuthView, ResetMyPasswordView, UserInfoEditView
    from flask_appbuilder.views import UtilView

    return (
        AuthView,
        LocaleView,
        UtilView,
        SecurityApi,
        OpenApi,
        SwaggerView,
        MenuApi,
        ResetMyPasswordView,
        UserInfoEditView,
    )


def _models_by_table():
    from flask_appbuilder import Model

    out = {}
    for mapper in Model.registry.mappers:
        cls = mapper.class_
        table = getattr(cls, "__tablename__", None)
        if table and (table not in out or issubclass(cls, out[table])):
            out[table] = cls  # the most derived class (AppUser over FAB's User)
    return out


def _model_named(name):
    from flask_appbuilder import Model

    for mapper in Model.registry.mappers:
        if mapper.class_.__name__ == name:
            return mapper.class_
    raise LookupError(name)


def _non_admin_permissions(app):
    """(permission, view menu) pairs held by any role other than Admin."""
    from flask_appbuilder.security.sqla.models import Role

    held = set()
    for role in db.session.query(Role):
        if role.name == app.config.get("AUTH_ROLE_ADMIN", "Admin"):
            continue
        for pv in role.permissions:
            if pv.permission and pv.view_menu:
                held.add((pv.permission.name, pv.view_menu.name))
    return held


def _permission_of(view, method_name):
    method = getattr(view, method_name, None)
    if method is None:
        return None
    mapped = (getattr(view, "method_permission_name", None) or {}).get(method_name)
    if mapped:
        return "can_" + mapped
    name = getattr(method, "_permission_name", None)
    if name is None:
        return None
    return name if name.startswith("can_") else "can_" + name


def _resolve_id_arg(view, arg, datamodel_cls, by_table, converter):
    """The model a URL argument names a row of, or (None, reason)."""
    declared = getattr(view, "scope_model", None) if view is not None else None
    if isinstance(declared, dict):
        if arg in declared:
            return declared[arg], "declared"
    elif declared is not None and (arg == "pk" or arg.endswith("id")):
        return declared, "declared"
    if arg == "pk":
        if datamodel_cls is not None:
            return datamodel_cls, "datamodel"
        return None, "<pk> without a datamodel or scope_model"
    if arg == "file_id":
        from app.models import StoredFile

        return StoredFile, "file"
    if arg.endswith("_id") and arg[:-3] in by_table:
        return by_table[arg[:-3]], "table name"
    if arg == "id" and datamodel_cls is not None:
        return datamodel_cls, "datamodel"
    return None, f"argument <{converter}:{arg}> names no known model: declare scope_model on the view"


# URL arguments that name no row: /api/<version>/_openapi is public and answers the same to anyone
NAMES_NO_ROW = {"version"}


def classify(app, held):
    from flask_appbuilder.views import IndexView

    account_classes = _account_classes()
    by_table = _models_by_table()
    out = []
    for rule in app.url_map.iter_rules():
        vf = app.view_functions[rule.endpoint]
        view = getattr(vf, "__self__", None)
        method_name = vf.__name__
        ep = Endpoint(rule=rule, endpoint=rule.endpoint, view=view, method_name=method_name, kind="unclassified")
        out.append(ep)
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            ep.kind = "static"
            continue
        if view is not None and isinstance(view, account_classes):
            ep.kind = "account"
            continue
        if view is None:
            if set(rule.arguments) - NAMES_NO_ROW:
                ep.reason = "a plain function taking arguments: register it through a FAB view (scoped)"
            else:
                ep.kind = "public"  # /health and the like: checked anonymously for foreign markers
            continue
        if method_name == "download" and set(rule.arguments) == {"filename"}:
            ep.kind = "closed"  # FAB's UPLOAD_FOLDER route: 404 in ScopedModelView, 403/404 elsewhere
            continue
        if isinstance(view, IndexView):
            ep.kind = "list"  # the home page: no permission, must still show nothing foreign
            continue
        ep.permission = _permission_of(view, method_name)
        if ep.permission is None and method_name not in INTERNALLY_CHECKED:
            if rule.arguments:
                ep.reason = "takes arguments but is not protected by has_access / protect"
            else:
                ep.kind = "public"  # certificate login, own password: no id to substitute
            continue
        admin_only = view.class_permission_name not in {view_menu for _perm, view_menu in held}
        datamodel = getattr(getattr(view, "datamodel", None), "obj", None)
        converters = {name: conv for conv, name in _rule_args(rule)}
        unresolved = []
        for arg, conv in converters.items():
            if arg == "name" and "/action/" in rule.rule:
                names = list((getattr(view, "actions", None) or {}).keys()) or ["muldelete"]
                ep.other_args[arg] = names
                continue
            if arg == "filename" and "/download/" in rule.rule:
                ep.other_args[arg] = ["x.pdf", "..%2F..%2Fconfig.py"]
                continue
            declared = getattr(view, "scope_model", None)
            if isinstance(declared, dict) and arg in declared and declared[arg] is None:
                ep.other_args[arg] = [str(s) for s in (getattr(view, "sample_args", None) or {}).get(arg, ["1"])]
                continue
            model, why = _resolve_id_arg(view, arg, datamodel, by_table, conv)
            if model is None:
                unresolved.append(why)
            else:
                ep.id_args[arg] = model
        if unresolved and not admin_only:
            ep.reason = "; ".join(unresolved)
            continue
        if admin_only:
            ep.kind = "admin"
        elif ep.id_args:
            ep.kind = "row"
        elif converters and set(converters) - set(ep.other_args):
            ep.reason = "arguments not understood"
        else:
            ep.kind = "list"
    return out


def _rule_args(rule):
    """(converter name, argument) pairs of a werkzeug rule."""
    for name in sorted(rule.arguments):
        conv = rule._converters.get(name)
        yield (type(conv).__name__.replace("Converter", "").lower() if conv else "default"), name


# --- helpers ------------------------------------------------------------------------------------------


def _snapshot(model, pk):
    table = model.__table__
    db.session.remove()
    row = db.session.execute(select(table).where(table.c.id == pk)).mappings().first()
    db.session.remove()
    return dict(row) if row is not None else None


def _fingerprint(app, world, side):
    """Every row of one side, and how many rows anywhere point at them (a new foreign-keyed row shows)."""
    by_table = _models_by_table()
    with app.app_context():
        rows = {}
        for model_name, ids in world.ids[side].items():
            model = _model_named(model_name)
            for pk in ids:
                rows[(model_name, pk)] = _snapshot(model, pk)
        refs = {}
        for model in by_table.values():
            table = model.__table__
            for column in table.columns:
                for fk in column.foreign_keys:
                    target = fk.column.table.name
                    target_model = by_table.get(target)
                    if target_model is None:
                        continue
                    ids = world.ids[side].get(target_model.__name__)
                    if not ids:
                        continue
                    count = db.session.execute(
                        select(db.func.count()).select_from(table).where(column.in_(ids))
                    ).scalar()
                    refs[(table.name, column.name)] = count
        db.session.remove()
    return rows, refs


def _text(response):
    data = response.get_data()
    if data[:2] == b"PK":  # xlsx / docx: read every member
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                return "".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())
        except zipfile.BadZipFile:
            pass
    return data.decode("utf-8", "replace")


def _login(app, username):
    client = app.test_client()
    r = client.post("/login/", data={"username": username, "password": PASSWORD})
    assert r.status_code in (302, 303) and "/login" not in r.headers.get("Location", ""), f"login of {username} failed"
    token = None
    r = client.post("/api/v1/security/login", json={"username": username, "password": PASSWORD, "provider": "db"})
    if r.status_code == 200 and r.is_json:
        token = r.get_json().get("access_token")
    return client, token


def _is_api(ep):
    from flask_appbuilder.api import BaseApi

    return isinstance(ep.view, BaseApi)


class _Crash:
    """What a server would have answered: an exception propagated by the test client is a 500."""

    def __init__(self, exc):
        self.status_code = 500
        self.exc = exc
        self.is_json = False

    def get_data(self):
        return repr(self.exc).encode()


def _call(client, token, ep, method, url, form=None):
    try:
        return _call_unchecked(client, token, ep, method, url, form)
    except Exception as exc:
        return _Crash(exc)


def _call_unchecked(client, token, ep, method, url, form=None):
    headers = {"Authorization": f"Bearer {token}"} if token and _is_api(ep) else {}
    if method == "GET":
        return client.get(url, headers=headers)
    if _is_api(ep):
        return client.open(url, method=method, json=form or {}, headers=headers)
    return client.open(url, method=method, data=form or {}, headers=headers)


def _url(rule, values):
    from werkzeug.routing import BuildError

    if "version" in rule.arguments:
        values = {"version": "v1", **values}

    try:
        url = rule.build(values, append_unknown=False)[1]
    except (BuildError, TypeError, ValueError):
        return None
    try:
        return url.decode() if isinstance(url, bytes) else url
    except (BuildError, TypeError, ValueError):
        return None


# --- tests --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def endpoints(app):
    with app.app_context():
        held = _non_admin_permissions(app)
        eps = classify(app, held)
        db.session.remove()
    return eps


def test_every_endpoint_is_classified(endpoints):
    bad = [
        f"{ep.rule.rule} [{ep.endpoint}] {sorted(ep.rule.methods - SKIP_METHODS)}: {ep.reason}"
        for ep in endpoints
        if ep.kind == "unclassified"
    ]
    assert not bad, "endpoints the isolation matrix cannot classify:\n" + "\n".join(bad)
    kinds = {ep.kind for ep in endpoints}
    assert {"row", "list", "admin", "static", "account", "closed"} <= kinds


USERS = [(k, s) for k in KINDS for s in SIDES if not (k == "broker" and s == "B")]


@pytest.mark.parametrize("kind,side", USERS, ids=[f"{k}-{s}" for k, s in USERS])
def test_foreign_rows_are_unreachable(app, world, endpoints, kind, side):
    from app.security.scope import RULES

    username = world.users[(kind, side)]
    other = world.foreign(side)
    marker = world.marker[other]
    foreign = world.ids[other]
    client, token = _login(app, username)
    anonymous = app.test_client()
    before = _fingerprint(app, world, other)
    failures = []
    checked = 0

    def fail(ep, method, url, msg):
        failures.append(f"{method} {url} [{ep.endpoint}]: {msg}")

    for ep in endpoints:
        if ep.kind in ("static", "unclassified"):
            continue
        if ep.kind == "closed":
            for filename in ("x.pdf", "..%2F..%2Fconfig.py", "../../config.py"):
                url = _url(ep.rule, {"filename": filename})
                r = client.get(url)
                checked += 1
                if r.status_code not in (403, 404):
                    fail(ep, "GET", url, f"FAB's upload folder route answered {r.status_code}")
            continue
        if ep.kind == "account":
            continue  # own-session pages; exercised by the login and header tests
        if ep.kind == "public":
            if "GET" in ep.methods:  # anonymously (a login page may end the session it is given)
                query = {_table_of(m) + "_id": ids[0] for m, ids in foreign.items()}
                url = _url(ep.rule, {}) + "?" + urlencode(query)
                r = _call(anonymous, None, ep, "GET", url)
                checked += 1
                if r.status_code >= 500 or marker in _text(r):
                    fail(ep, "GET", url, f"public endpoint answered {r.status_code} or showed {marker}")
            continue
        if ep.method_name in SESSION_CHANGING and ep.kind != "row":
            continue
        if ep.kind == "admin":
            values = {arg: vals[0] for arg, vals in ep.other_args.items()}
            for arg, model in ep.id_args.items():
                values[arg] = (foreign.get(model.__name__) or [1])[0]
            for arg in ep.rule.arguments:
                values.setdefault(arg, 1)
            url = _url(ep.rule, values)
            if url is None:
                continue
            for method in ep.methods:
                r = _call(client, token, ep, method, url)
                checked += 1
                if r.status_code not in (401, 403, 404):
                    fail(ep, method, url, f"admin-only endpoint answered {r.status_code} to a {kind} user")
            continue
        if ep.kind == "list":
            query = {"psize_" + type(ep.view).__name__: 100}
            for model_name, ids in foreign.items():
                query[_table_of(model_name) + "_id"] = ids[0]
            query.update(id=foreign.get(_datamodel_name(ep), [0])[0], pk=foreign.get(_datamodel_name(ep), [0])[0])
            url = _url(ep.rule, {arg: vals[0] for arg, vals in ep.other_args.items()})
            for method in ep.methods:
                if method == "GET":
                    r = _call(client, token, ep, method, url + "?" + urlencode(query))
                else:
                    form = dict(query)
                    form["rowid"] = [str(i) for i in foreign.get(_datamodel_name(ep), [])]
                    actions = list((getattr(ep.view, "actions", None) or {}).keys())
                    form["action"] = actions[0] if actions else "muldelete"
                    r = _call(client, token, ep, method, url, form)
                    if ep.method_name == "action_post" and form["rowid"] and r.status_code not in (403, 404):
                        fail(ep, method, url, f"foreign rowid answered {r.status_code}")
                checked += 1
                if r.status_code >= 500:
                    fail(ep, method, url, f"server error {r.status_code}")
                if marker in _text(r):
                    fail(ep, method, url, f"the other party's marker {marker} is in the page")
            continue
        # row endpoints: every combination of the other party's ids
        combos = [{}]
        for arg, model in ep.id_args.items():
            ids = foreign.get(model.__name__)
            if not ids:
                combos = []
                break
            combos = [dict(c, **{arg: pk}) for c in combos for pk in ids]
        for combo in combos:
            for arg, vals in ep.other_args.items():
                combo[arg] = vals[0]
            url = _url(ep.rule, combo)
            if url is None:
                continue
            public = all(model not in RULES for model in ep.id_args.values())
            snaps = {(m, combo[a]): None for a, m in ep.id_args.items()}
            with app.app_context():
                snaps = {(m, pk): _snapshot(m, pk) for (m, pk) in snaps}
            names = ep.other_args.get("name", [None]) if "name" in ep.other_args else [None]
            for name in names:
                if name is not None:
                    combo["name"] = name
                    url = _url(ep.rule, combo)
                for method in ep.methods:
                    r = _call(client, token, ep, method, url)
                    checked += 1
                    ok = r.status_code in (403, 404) or (_is_api(ep) and r.status_code == 401)
                    if not ok and public and method == "GET" and r.status_code == 200:
                        ok = True  # a directory row (not in scope.RULES) is readable by every signed-in user
                    if not ok:
                        fail(
                            ep,
                            method,
                            url,
                            f"answered {r.status_code} for the other party's row"
                            + (f" ({r.exc!r})" if isinstance(r, _Crash) else ""),
                        )
                    with app.app_context():
                        for (m, pk), snap in snaps.items():
                            if _snapshot(m, pk) != snap:
                                fail(ep, method, url, f"{m.__name__} {pk} changed")
    after = _fingerprint(app, world, other)
    if before[0] != after[0]:
        changed = [k for k in before[0] if before[0][k] != after[0].get(k)]
        failures.append(f"the other party's rows changed during the run: {changed}")
    if before[1] != after[1]:
        changed = {k: (before[1][k], after[1].get(k)) for k in before[1] if before[1][k] != after[1].get(k)}
        failures.append(f"rows pointing at the other party's rows appeared or vanished: {changed}")
    assert checked > 50
    assert not failures, f"{username} ({kind}, side {side}):\n" + "\n".join(failures)


def _table_of(model_name):
    for table, model in _models_by_table().items():
        if model.__name__ == model_name:
            return table
    return model_name.lower()


def _datamodel_name(ep):
    model = getattr(getattr(ep.view, "datamodel", None), "obj", None)
    return model.__name__ if model is not None else ""


def test_own_rows_are_reachable(app, world, endpoints):
    """The matrix is not vacuous: the same pages do show a party its own marker."""
    client, _token = _login(app, world.users[("insurer", "A")])
    shown = 0
    for ep in endpoints:
        if ep.kind == "list" and "GET" in ep.methods and ep.method_name == "list":
            r = client.get(_url(ep.rule, {}), query_string={"psize_" + type(ep.view).__name__: 100})
            shown += world.marker["A"] in _text(r)
    assert shown >= 2
    r = client.get(f"/files/{world.files['A'][1]}")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
