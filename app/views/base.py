"""The base every data view stands on: FAB's generated list, show and forms, with the scope applied to
every path FAB offers and one list page for every list of the platform.

A list is a declaration::

    class LedgerView(ScopedModelView):
        datamodel = SQLAInterface(Policy)
        list_columns = ["ledger_no", "created_at", "enterprise.name", …]
        search_bar = [Text("enterprise", _("单位名称"), "enterprise"), …]      # the manual's 查询 row
        export_columns = [("ledger_no", _("项目号")), ("premium", _("保费")), …] # 导出 Excel / CSV

and ``ScopedModelView`` gives it: the scope as first base filter, the 查询 bar, sort headers on the
columns that have SQL behind them, the 操作 column (``row_buttons``: the workflow table's buttons, see
``views/buttons.py``), one pager (共 N 项, page links, 10/20/50/100 条/页, the keyset "下一页"), the export
of exactly the listed rows, and FastSQLAInterface's fast counts and deep pages. Request arguments are
parsed here, strictly: a malformed filter answers 400, out-of-range pages and sizes fall back.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from flask import abort, current_app, flash, g, request, url_for
from flask_appbuilder import ModelView, expose, has_access
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.models.filters import Filters
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.widgets import ListWidget
from flask_babel import lazy_gettext as _
from markupsafe import Markup
from sqlalchemy import Column, func, select
from sqlalchemy.orm import aliased, selectinload
from sqlalchemy.orm.attributes import InstrumentedAttribute
from wtforms import HiddenField, StringField

from app import clock
from app.models.base import UtcDateTime
from app.models.enums import ChoiceSet
from app.security.scope import RULES, ScopeFilter, get_scoped, valid_pk
from app.services.base import NotFound, ServiceError

from . import formatters
from .buttons import Button, may
from .datamodel import PAGE_SIZES, SEARCH_TEXT, FastSQLAInterface, FilterRelatedTextContains, Pager


class ListPageWidget(ListWidget):
    """The list table with its 操作 column, row checkboxes and the one pager of the platform."""

    template = "azx/list_widget.html"


READ_ONLY = {"list": "read", "show": "read", "action": "read", "action_post": "read"}
READ_WRITE = dict(READ_ONLY, add="write", edit="write", delete="write")
EXPORT_FORMATS = ("xlsx", "csv")
MAX_SELECTED = 10_000  # rows a 批量导出 of checked rows may name


def flash_service_error(exc):
    """The one mapping of a service error onto a page: an unknown or out-of-scope row answers 404 (they
    are indistinguishable), anything else is shown as the service's message. Returns the field errors
    for the form to show beside its fields."""
    if isinstance(exc, NotFound):
        abort(404)
    flash(str(exc.message), "danger")
    return dict(exc.errors or {})


@dataclass
class ListState:
    """What one list request asks for, parsed once: the user's filters, order, page, size, keyset."""

    filters: Filters
    order: tuple = ("", "")
    page: int = 0
    size: int = 20
    after: int | None = None
    search: dict = field(default_factory=dict)  # the 查询 bar's values, for the form


class ScopedModelView(ModelView):
    """A ModelView whose every row path goes through app.security.scope (see the module docstring).

    - list, show, edit, delete: the scope is the first base filter (FAB applies base_filters there);
    - action and action_post: FAB fetches rows without base_filters, so rows are re-fetched here
      through the scope and a foreign id answers 404;
    - related-field dropdowns in add, edit and search forms list only rows in scope;
    - the page size is one of PAGE_SIZES and the offset is capped;
    - the list query is FastSQLAInterface's (views declare ``datamodel = SQLAInterface(Model)`` and
      get it transparently).
    """

    page_size = 20
    max_offset = 200_000  # deeper than this, narrow the search (or follow the keyset links)
    list_template = "azx/list.html"
    list_widget = ListPageWidget
    list_table_id = None  # the table's id attribute (default: the view's name)
    method_permission_name = READ_ONLY
    search_bar: list = []  # app/views/search.py fields; without one, FAB's own search form
    export_columns: list = []  # (column path, label[, ChoiceSet or formatter]); with one, 导出 Excel / CSV
    export_title = None  # the export's file name (default: list_title)
    row_select_hint = None  # what select_buttons() does with the checked rows
    # column -> endpoint (or (endpoint, attribute giving its pk)): the cell links to that page (派单号 → 详情)
    link_columns: dict = {}
    ops_column = True  # the 操作 column (row_buttons)
    eager_relations: list = []  # relations a listed property reads that its code does not name
    empty_text = _("暂无数据")
    # What the 操作 column shows: 详情 by default; views add their workflow's buttons.
    show_button = True

    def __init__(self, **kwargs):
        if self.base_permissions is None:
            # Only the permissions this view's methods are mapped to: FAB's default would also create
            # can_add / can_edit / can_delete (held by Admin) and open its generic forms on workflow
            # rows, which change only through the services.
            self.base_permissions = sorted({"can_" + name for name in (self.method_permission_name or {}).values()})
        if type(self.datamodel) is SQLAInterface:
            self.datamodel = FastSQLAInterface.from_interface(self.datamodel, self.list_columns)
        filters = [list(f) for f in (self.base_filters or [])]
        if not any(f[1] is ScopeFilter for f in filters):
            filters.insert(0, ["id", ScopeFilter, None])
        self.base_filters = filters
        relations = [c for c in self.datamodel.get_columns_list() if self.datamodel.is_relation(c)]
        for attr in ("add_form_query_rel_fields", "edit_form_query_rel_fields", "search_form_query_rel_fields"):
            rel_fields = dict(getattr(self, attr) or {})
            for rel in relations:
                rel_fields.setdefault(rel, [["id", ScopeFilter, None]])
            setattr(self, attr, rel_fields)
        # FAB renders a relation filter as a select of every related row: relations to large tables are
        # searched by the related row's text instead.
        text_searched = [
            c
            for c in (self.search_columns or [])
            if c in relations and SEARCH_TEXT.get(self.datamodel.get_related_model(c).__name__)
        ]
        extra = dict(self.search_form_extra_fields or {})
        for column in text_searched:
            label = (self.label_columns or {}).get(column, column)
            extra.setdefault(column, StringField(label, widget=BS3TextFieldWidget()))
        self.search_form_extra_fields = extra
        self.formatters_columns = dict(self.formatters_columns or {})
        shown = {*(self.list_columns or []), *(self.show_columns or [])}
        for _title, spec in self.show_fieldsets or []:
            shown.update(spec.get("fields", []))
        for column in shown:
            if self._instant_column(column):
                self.formatters_columns.setdefault(column, clock.fmt)  # instants in the platform's zone
            self.formatters_columns.setdefault(column, formatters.plain)  # "—", never "None"
        custom_edit_form = self.edit_form is not None
        super().__init__(**kwargs)
        if not custom_edit_form:
            self._add_version_field()
        for column in text_searched:
            text_filter = [FilterRelatedTextContains(column, self.datamodel)]
            self._filters.get_search_filters()[column] = text_filter  # what the search form offers
            self._filters._all_filters[column] = text_filter  # what request args are parsed with
        # Sort headers only where there is SQL to sort by (a Python property would fail in the query).
        self.order_columns = [c for c in self.list_columns if self._sql_column(c) is not None]
        self._search_filters_by_param = {f.param: f.make_filter(self.datamodel) for f in self.search_bar}
        if isinstance(self.datamodel, FastSQLAInterface):
            self.datamodel.eager_columns = [*self.list_columns, *self.eager_relations]

    # ------------------------------------------------------------------ columns
    def _instant_column(self, name):
        model = self.datamodel.obj
        column = getattr(getattr(model.__table__, "c", None), name, None)
        return isinstance(getattr(model, name, None), InstrumentedAttribute) and isinstance(
            getattr(column, "type", None), UtcDateTime
        )

    def _model_at(self, relations):
        """The model the view's rows reach through ``relations``, each many-to-one, or None (a collection,
        a name that is no relation)."""
        model = self.datamodel.obj
        for name in relations:
            prop = model.__mapper__.relationships.get(name)
            if prop is None or prop.uselist:
                return None
            model = prop.mapper.class_
        return model

    def _sql_column(self, path):
        """The column attribute behind ``path`` ("name", "project.name"), or None (a property, a
        collection, a path deeper than one many-to-one relation)."""
        *relations, last = path.split(".")
        model = self._model_at(relations) if len(relations) <= 1 else None
        attr = model.__mapper__.column_attrs.get(last) if model is not None else None
        if attr is None or not isinstance(attr.columns[0], Column):  # a subquery property is not sorted by
            return None
        return getattr(model, last)

    # ------------------------------------------------------------------ request arguments
    def list_state(self, args=None):
        """The list request's filters, order, page, size and keyset cursor, parsed strictly."""
        args = request.args if args is None else args
        name = type(self).__name__
        filters = self._request_filters()
        search = {}
        for param, flt in self._search_filters_by_param.items():
            value = (args.get(param) or "").strip()
            if value:
                search[param] = value
                filters._add_filter(flt, value)
        for arg in args:
            match = re.fullmatch(r"_flt_(\d+)_(.+)", arg)
            if not match:
                continue
            index, column = int(match.group(1)), match.group(2)
            candidates = self._filters.get_search_filters().get(column)
            if not candidates or index >= len(candidates):
                abort(400, description=str(_("未知的查询条件：%(name)s", name=arg)))
            filters._add_filter(candidates[index], args.getlist(arg))
        order = ("", "")
        column, direction = args.get(f"_oc_{name}", ""), args.get(f"_od_{name}", "")
        if column in self.order_columns and direction in ("asc", "desc"):
            order = (column, direction)
        size = _int(args.get(f"psize_{name}"))
        size = size if size in PAGE_SIZES else self.page_size
        page = max(_int(args.get(f"page_{name}")) or 0, 0)
        page = min(page, self.max_offset // size)
        after = _int(args.get(f"after_{name}"))
        return ListState(filters, order, page, size, after if after and after > 0 else None, search)

    def _request_filters(self, active=()):
        """A Filters object of this request (FAB's view keeps one shared by every request and thread),
        sharing the view's filter catalogue instead of rebuilding it."""
        filters = Filters.__new__(Filters)
        filters.filter_converter, filters.datamodel = self._filters.filter_converter, self.datamodel
        filters.search_columns = self._filters.search_columns
        filters._search_filters, filters._all_filters = self._filters._search_filters, self._filters._all_filters
        filters.filters = [f for f, _v in active]
        filters.values = [v for _f, v in active]
        return filters

    def joined_filters(self, state):
        """The view's base filters (the scope first) and the request's own."""
        return self._request_filters([*self._base_filters.get_filters_values(), *state.filters.get_filters_values()])

    # ------------------------------------------------------------------ the list page
    @expose("/list/")
    @has_access
    def list(self):
        state = self.list_state()
        context = self.list_context(state)
        widgets = {"list": self.list_widget_for(state, known_count=context.pop("count", None))}
        if not self.search_bar and self.search_columns:
            widgets = self._get_search_widget(form=self.search_form.refresh(), widgets=widgets, filters=state.filters)
        self.update_redirect()
        return self.render_template(
            self.list_template,
            title=self.list_title,
            widgets=widgets,
            view=self,
            state=state,
            tools=self.list_tools(state),
            **context,
        )

    def list_context(self, state) -> dict:
        """Extra template values of the list page (a statistics panel …). A ``count`` in it is the
        exact number of listed rows, which the pager then shows instead of counting again."""
        return {}

    def list_tools(self, state):
        """The buttons above the list: 导出 Excel / CSV when the list exports and the user may."""
        if not self.export_columns or not may("export", self.class_permission_name) or self.select_buttons():
            return []
        query = dict(state.search)
        return [
            Button(_("导出 Excel"), url_for(f"{type(self).__name__}.export", fmt="xlsx", **query), style="success",
                   id="export-xlsx"),
            Button(_("导出 CSV"), url_for(f"{type(self).__name__}.export", fmt="csv", **query), id="export-csv"),
        ]  # fmt: skip

    def row_buttons(self, item, party) -> list:
        """The 操作 cell of one row."""
        if self.show_button and "show" in (self.method_permission_name or {}):
            return [Button(_("详情"), url_for(f"{type(self).__name__}.show", pk=self.datamodel.get_pk_value(item)))]
        return []

    def select_buttons(self):
        """Buttons submitting the checked rows' ids (批量导出, 派单 …); with any, the rows get checkboxes."""
        return []

    def row_selectable(self, item) -> bool:
        """Whether the row gets a checkbox when the list has select_buttons()."""
        return True

    def row_links(self, item):
        """{column: url} of the row's linked cells (``link_columns``)."""
        links = {}
        for column, target in self.link_columns.items():
            endpoint, attr = target if isinstance(target, tuple) else (target, "id")
            pk = getattr(item, attr, None)
            if pk is not None:
                links[column] = url_for(endpoint, pk=pk)
        return links

    def list_widget_for(self, state, known_count=None):
        from app.security.scope import party_of

        order_column, order_direction = state.order
        if not order_column and self.base_order:
            order_column, order_direction = self.base_order
        g._list_after = state.after

        def fetch():
            return self.datamodel.query(
                self.joined_filters(state), order_column, order_direction, page=state.page, page_size=state.size,
                known_count=known_count,
            )  # fmt: skip

        count, items = fetch()
        if not items and state.page and not state.after and int(count) > 0:  # past the end: the last page
            state.page = min((int(count) - 1) // state.size, self.max_offset // state.size)
            count, items = fetch()
        party = party_of()
        pks = self.datamodel.get_keys(items)
        name = type(self).__name__
        default_order = order_column == "id" and (order_direction or "desc") == "desc"
        next_url = None
        if default_order and len(pks) == state.size:
            next_url = list_url(**{f"page_{name}": None, f"after_{name}": pks[-1]})
        pager = Pager(count, 0 if state.after else state.page, state.size, self.max_offset, keyset_next=next_url,
                      page_arg=f"page_{name}", size_arg=f"psize_{name}")  # fmt: skip
        sm = current_app.appbuilder.sm
        actions = {
            k: a
            for k, a in self.actions.items()
            if a.multiple and sm.has_access(self.get_action_permission_name(a.name), self.class_permission_name)
        }
        return self.list_widget(
            label_columns=self.label_columns,
            include_columns=self.list_columns,
            value_columns=list(self.datamodel.get_values(items, self.list_columns)),
            order_columns=self.order_columns,
            formatters_columns=self.formatters_columns,
            count=count,
            pks=pks,
            pager=pager,
            actions=actions,
            buttons={pk: self.row_buttons(item, party) for pk, item in zip(pks, items)} if self.ops_column else None,
            links={pk: self.row_links(item) for pk, item in zip(pks, items)} if self.link_columns else {},
            row_select=self.select_buttons(),
            selectable_pks={pk for pk, item in zip(pks, items) if self.row_selectable(item)},
            row_select_hint=self.row_select_hint,
            table_id=self.list_table_id or f"list-{name}",
            empty_text=self.empty_text,
            modelview_name=name,
            state=state,
        )

    def _get_search_widget(self, form=None, exclude_cols=None, widgets=None, filters=None):
        widgets = widgets or {}
        widgets["search"] = self.search_widget(
            route_base=self.route_base,
            form=form,
            include_cols=self.search_columns,
            exclude_cols=exclude_cols or [],
            filters=filters if filters is not None else self._filters,
        )
        return widgets

    # ------------------------------------------------------------------ export
    @expose("/export/")
    @has_access
    def export(self):
        """导出: exactly the listed rows (the list's filters, the scope) as xlsx or csv — streamed, or, above
        EXPORT_JOB_ROWS rows, a job the user follows under 我的导出/导入."""
        if not self.export_columns:
            abort(404)
        if request.args.get("fmt", "xlsx") not in EXPORT_FORMATS:
            abort(400, description=str(_("导出格式应为 xlsx 或 csv")))
        from .jobs import export_or_job

        return export_or_job(type(self).__name__)

    def export_statement(self, state, selected=None):
        """(statement, columns) of the export: the list's own query — the scope and the user's filters, its
        order — narrowed to ``export_columns``. Columns with SQL behind them stream as plain tuples
        (relations joined); when one is a Python property (服务内容), rows are read as objects with their
        relations loaded in batches and each column is read from the object."""
        model = self.datamodel.obj
        stmt = self.datamodel.apply_filters(select(model), self.joined_filters(state))
        selected = [i for i in (selected or []) if valid_pk(i)][:MAX_SELECTED]
        if selected:
            stmt = stmt.where(model.id.in_(selected))
        order_column, order_direction = state.order if state.order[0] else (self.base_order or ("id", "desc"))
        order_by = self._sql_column(order_column)
        if order_by is not None and "." not in order_column:
            stmt = stmt.order_by(order_by.asc() if order_direction == "asc" else order_by.desc())
        stmt = stmt.order_by(model.id.desc())
        specs = [(spec[0], spec[1], _formatter(spec[2] if len(spec) > 2 else None)) for spec in self.export_columns]
        paths = [p for path, _l, _f in specs for p in (path if isinstance(path, tuple) else (path,))]
        if all(self._export_column(p) for p in paths):
            return self._export_sql(stmt, specs)
        return self._export_objects(stmt, specs)

    def _export_column(self, path):
        """Whether ``path`` ends in a mapped column (through any number of many-to-one relations)."""
        *relations, last = path.split(".")
        model = self._model_at(relations)
        return model is not None and last in model.__mapper__.column_attrs

    def _export_sql(self, stmt, specs):
        joined, columns = {}, []

        def column_of(path):
            nonlocal stmt
            entity, parts = self.datamodel.obj, path.split(".")
            for depth, part in enumerate(parts[:-1]):
                key = tuple(parts[: depth + 1])
                if key not in joined:
                    relation = getattr(entity, part)
                    target = aliased(relation.property.mapper.class_)
                    stmt = stmt.outerjoin(target, relation.of_type(target))
                    joined[key] = target
                entity = joined[key]
            return getattr(entity, parts[-1])

        for path, label, fmt in specs:
            # a tuple of paths: the first that is not empty (联系方式: the application's, else the enterprise's)
            expr = func.coalesce(*map(column_of, path)) if isinstance(path, tuple) else column_of(path)
            columns.append((label, expr, fmt))
        return stmt, columns

    def _export_objects(self, stmt, specs):
        model, options, seen = self.datamodel.obj, [], set()
        for path, _label, _fmt in specs:
            for single in path if isinstance(path, tuple) else (path,):
                entity, option = model, None
                for part in single.split(".")[:-1]:
                    attr = getattr(entity, part)
                    option = selectinload(attr) if option is None else option.selectinload(attr)
                    entity = attr.property.mapper.class_
                    if option is not None and str(option.path) not in seen:
                        seen.add(str(option.path))
                        options.append(option)
        columns = []
        for path, label, fmt in specs:
            getters = [_attribute_path(p) for p in (path if isinstance(path, tuple) else (path,))]
            columns.append((label, _first_of(getters, fmt)))
        return stmt.options(*options), columns

    # ------------------------------------------------------------------ rows
    def _scoped_or_404(self, pk):
        """The row through the scope AND this view's own base filters (an own-party filter, say)."""
        model = self.datamodel.obj
        integer_key = self.datamodel.is_integer(self.datamodel.get_pk_name())
        if (integer_key and not valid_pk(pk)) or (model in RULES and get_scoped(model, pk) is None):
            abort(404)
        obj = self.datamodel.get(int(pk) if integer_key else pk, self._base_filters)
        if obj is None:
            abort(404)
        return obj

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        self._scoped_or_404(pk)
        return super().show(pk)

    @expose("/download/<string:filename>")
    def download(self, filename):
        # FAB serves any file of UPLOAD_FOLDER here; files are served only by views/files.py.
        abort(404)

    # --- optimistic locking in edit forms: the version read is carried and compared on save -------------

    VERSION_FIELD = "row_version"

    def _versioned(self):
        return "version" in self.datamodel.obj.__table__.columns

    def _add_version_field(self):
        """Versioned rows get a hidden ``row_version`` in the edit form (a generated form only)."""
        if not self._versioned() or not self.edit_columns or self.VERSION_FIELD in self.edit_columns:
            return
        self.edit_columns = list(self.edit_columns) + [self.VERSION_FIELD]
        self.edit_form_extra_fields = dict(self.edit_form_extra_fields or {}, **{self.VERSION_FIELD: HiddenField()})
        self.edit_form = None
        self._init_forms()

    def _edit(self, pk):
        if request.method == "POST" and self._stale_edit(pk):
            flash(_("该记录已被他人修改，请刷新后重试"), "danger")
            return None
        widgets = super()._edit(pk)
        form = ((widgets or {}).get("edit") and widgets["edit"].template_args.get("form")) if widgets else None
        version = getattr(form, self.VERSION_FIELD, None) if form is not None else None
        if version is not None and not version.data:
            item = self.datamodel.get(pk, self._base_filters)
            version.data = item.version if item is not None else None
        return widgets

    def _stale_edit(self, pk):
        submitted = request.form.get(self.VERSION_FIELD)
        if not self._versioned() or submitted is None:
            return False
        item = self.datamodel.get(self._deserialize_pk_if_composite(pk), self._base_filters)
        return item is not None and str(item.version) != submitted.strip()

    def _generic_form_allowed(self, method):
        """FAB's add / edit / delete forms serve a view only when it maps them to a permission
        (``READ_WRITE``); on read-only and workflow views they answer 404 whatever the role holds."""
        if method not in (self.method_permission_name or {}):
            abort(404)

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        self._generic_form_allowed("add")
        return super().add()

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        self._generic_form_allowed("edit")
        self._scoped_or_404(pk)
        return super().edit(pk)

    @expose("/delete/<pk>", methods=["GET", "POST"])
    @has_access
    def delete(self, pk):
        self._generic_form_allowed("delete")
        # Scope first: a foreign id answers 404 whatever the method (FAB refuses a GET by redirecting).
        self._scoped_or_404(pk)
        return super().delete(pk)

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        self._scoped_or_404(pk)
        return super().action(name, pk)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        for pk in request.form.getlist("rowid"):
            self._scoped_or_404(pk)
        return super().action_post()


@dataclass(frozen=True)
class Label:
    """An export column's formatter for a reference row's id: the row's ``attr``, the rows read once per
    export. It keeps a label that is a Python property (a plan's "C:1000,6") from turning the whole
    export into ORM objects read row by row."""

    model: type
    attr: str


def _formatter(fmt):
    """An export column's formatter: a ChoiceSet shows its labels, a Label its rows' labels."""
    if isinstance(fmt, type) and issubclass(fmt, ChoiceSet):
        return {value: str(text) for value, text in fmt.choices()}.get
    if isinstance(fmt, Label):
        from app.extensions import db

        return {row.id: getattr(row, fmt.attr) for row in db.session.scalars(select(fmt.model))}.get
    return fmt


def _attribute_path(path):
    def get(obj):
        for part in path.split("."):
            obj = getattr(obj, part, None) if obj is not None else None
        return obj

    return get


def _first_of(getters, fmt):
    def get(obj):
        value = next((v for v in (g(obj) for g in getters) if v not in (None, "")), None)
        return fmt(value) if fmt is not None and value is not None else value

    return get


def _int(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


# Query-string names a link of a list page carries over: the 查询 bar's fields and FAB's list arguments.
# Anything else (``endpoint``, ``fmt``, a crawler's junk) is dropped: url_for must never receive it.
_CARRIED = re.compile(r"^(_flt_\d+_.+|_oc_\w+|_od_\w+|page_\w+|psize_\w+|after_\w+)$")


def list_url(**changes: Any) -> str:
    """The current list's URL with some arguments replaced (None removes one)."""
    view = getattr(current_app.view_functions.get(request.endpoint), "__self__", None)
    params = {p.param for p in getattr(view, "search_bar", [])}
    args = {k: v for k, v in request.args.items(multi=False) if k in params or _CARRIED.match(k)}
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    base = url_for(request.endpoint, **(request.view_args or {}))
    from urllib.parse import urlencode

    return base + ("?" + urlencode(args) if args else "")


def install_list_links(app):
    """FAB's own sort / page / page-size link filters rebuilt on ``list_url``: they passed every request
    argument to url_for, so ``?endpoint=x`` answered 500."""

    def link_order(column, modelview_name):
        direction = "desc" if request.args.get("_od_" + modelview_name) == "asc" else "asc"
        if request.args.get("_oc_" + modelview_name) != column:
            direction = "asc"
        return list_url(**{"_oc_" + modelview_name: column, "_od_" + modelview_name: direction})

    app.jinja_env.filters["link_order"] = link_order
    app.jinja_env.filters["link_page"] = lambda page, name: list_url(**{"page_" + name: page})
    app.jinja_env.filters["link_page_size"] = lambda size, name: list_url(**{"psize_" + name: size})
    app.jinja_env.globals["list_url"] = list_url


def install_action_guard(app):
    """FAB's action and action_post on EVERY model view (its own security views included) go through here
    first: an unknown action name answers 404 (FAB would crash with a 500), a missing permission 403 (FAB
    would redirect), and a row id outside the user's scope 404 (FAB's own views fetch rows unscoped)."""

    @app.before_request
    def _guard_row_ids():
        # Every model view, FAB's own included: an integer key that cannot be a row (0, 2**31, 10**20,
        # "abc") answers 404 before any SQL (PostgreSQL would refuse it as out of range: a 500).
        pk = (request.view_args or {}).get("pk")
        if pk is None:
            return None
        view = getattr(current_app.view_functions.get(request.endpoint), "__self__", None)
        datamodel = getattr(view, "datamodel", None)
        integer_key = hasattr(datamodel, "get_pk_name") and datamodel.is_integer(datamodel.get_pk_name())
        if integer_key and not valid_pk(pk):
            abort(404)
        return None

    @app.before_request
    def _guard_actions():
        endpoint = request.endpoint or ""
        if not (endpoint.endswith(".action") or endpoint.endswith(".action_post")):
            return None
        view = getattr(current_app.view_functions.get(endpoint), "__self__", None)
        actions = getattr(view, "actions", None)
        if view is None or actions is None:
            return None
        post = endpoint.endswith(".action_post")
        name = request.form.get("action") if post else (request.view_args or {}).get("name")
        if name not in actions:
            abort(404)
        if not current_app.appbuilder.sm.has_access(view.get_action_permission_name(name), view.class_permission_name):
            abort(403)
        model = getattr(getattr(view, "datamodel", None), "obj", None)
        if model in RULES:
            pks = request.form.getlist("rowid") if post else [(request.view_args or {}).get("pk")]
            for pk in pks:
                if get_scoped(model, pk) is None:
                    abort(404)
        return None


def yes_no(value):
    return _("是") if value else _("否")


__all__ = ["READ_ONLY", "READ_WRITE", "ScopedModelView", "flash_service_error", "Markup", "ServiceError"]
