"""The base every data view stands on: the scope applied to every path FAB offers."""

from flask import abort, current_app, flash, g, request, url_for
from flask_appbuilder import ModelView, expose, has_access
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from sqlalchemy.orm.attributes import InstrumentedAttribute
from wtforms import HiddenField, StringField

from app import clock
from app.models.base import UtcDateTime
from app.security.scope import RULES, ScopeFilter, get_scoped

from .datamodel import SEARCH_TEXT, FastSQLAInterface, FilterRelatedTextContains

READ_ONLY = {"list": "read", "show": "read", "action": "read", "action_post": "read"}
READ_WRITE = dict(READ_ONLY, add="write", edit="write", delete="write")


class ScopedModelView(ModelView):
    """A ModelView whose every row path goes through app.security.scope.

    - list, show, edit, delete: the scope is the first base filter (FAB applies base_filters there);
    - action and action_post: FAB fetches rows without base_filters, so rows are re-fetched here
      through the scope and a foreign id answers 404;
    - related-field dropdowns in add, edit and search forms list only rows in scope;
    - the page size is capped (FAB's MVC page size is otherwise unbounded) and so is the offset;
    - the list query is FastSQLAInterface's (views declare ``datamodel = SQLAInterface(Model)`` and
      get it transparently): listed relationships eager-loaded, cheap counts, index-only deep pages
      and a keyset path (``?after_<View>=<id>``) for the default order.
    """

    page_size = 20
    max_page_size = 100
    max_offset = 200_000  # deeper than this, narrow the search (or follow the keyset links)
    list_template = "azx_list.html"  # FAB's list plus the keyset "下一页" link
    method_permission_name = READ_ONLY

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
        # Every list page renders the search form, and FAB renders a relation filter as a select of
        # every related row: relations to large tables are searched by the related row's text instead.
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
        for column in {*(self.list_columns or []), *(self.show_columns or [])}:
            if isinstance(getattr(self.datamodel.obj, column, None), InstrumentedAttribute) and isinstance(
                getattr(getattr(self.datamodel.obj.__table__.c, column, None), "type", None), UtcDateTime
            ):
                self.formatters_columns.setdefault(column, clock.fmt)  # instants in the platform's zone
        custom_edit_form = self.edit_form is not None
        super().__init__(**kwargs)
        if not custom_edit_form:
            self._add_version_field()
        for column in text_searched:
            text_filter = [FilterRelatedTextContains(column, self.datamodel)]
            self._filters.get_search_filters()[column] = text_filter  # what the search form offers
            self._filters._all_filters[column] = text_filter  # what request args are parsed with
        if isinstance(self.datamodel, FastSQLAInterface):
            self.datamodel.eager_columns = list(self.list_columns)

    def _get_list_widget(
        self,
        filters,
        actions=None,
        order_column="",
        order_direction="",
        page=None,
        page_size=None,
        widgets=None,
        **kwargs,
    ):
        page_size = min(page_size or self.page_size, self.max_page_size)
        if page and page * page_size > self.max_offset:
            page = self.max_offset // page_size
        name = self.__class__.__name__
        after = request.args.get(f"after_{name}", "")
        g._list_after = int(after) if after.isdigit() else None
        widgets = super()._get_list_widget(
            filters,
            actions=actions,
            order_column=order_column,
            order_direction=order_direction,
            page=page,
            page_size=page_size,
            widgets=widgets,
            **kwargs,
        )
        pks = widgets["list"].template_args.get("pks") or []
        column, direction = (order_column, order_direction) if order_column else (self.base_order or ("id", "desc"))
        default_order = column == "id" and (direction or "desc") == "desc"
        g.azx_list_next = None
        if default_order and len(pks) == page_size and isinstance(pks[-1], int):
            args = {k: v for k, v in request.args.items() if k != f"page_{name}"}
            args[f"after_{name}"] = pks[-1]
            g.azx_list_next = url_for(request.endpoint, **(request.view_args or {}), **args)
        return widgets

    def _scoped_or_404(self, pk):
        """The row through the scope AND this view's own base filters (an own-party filter, say)."""
        model = self.datamodel.obj
        if model in RULES and get_scoped(model, pk) is None:
            abort(404)
        obj = self.datamodel.get(self._deserialize_pk_if_composite(pk), self._base_filters)
        if obj is None:
            abort(404)
        return obj

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
        field = getattr(form, self.VERSION_FIELD, None) if form is not None else None
        if field is not None and not field.data:
            item = self.datamodel.get(pk, self._base_filters)
            field.data = item.version if item is not None else None
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


def interface(model, session):
    return SQLAInterface(model, session)


def install_action_guard(app):
    """FAB's action and action_post on EVERY model view (its own security views included) go through here
    first: an unknown action name answers 404 (FAB would crash with a 500), a missing permission 403 (FAB
    would redirect), and a row id outside the user's scope 404 (FAB's own views fetch rows unscoped)."""

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
