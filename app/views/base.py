"""The base every data view stands on: the scope applied to every path FAB offers."""
from flask import abort, g, request, url_for
from flask_appbuilder import ModelView, expose
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from wtforms import StringField

from app.security.scope import ScopeFilter, get_scoped

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
        text_searched = [c for c in (self.search_columns or []) if c in relations
                         and SEARCH_TEXT.get(self.datamodel.get_related_model(c).__name__)]
        extra = dict(self.search_form_extra_fields or {})
        for column in text_searched:
            label = (self.label_columns or {}).get(column, column)
            extra.setdefault(column, StringField(label, widget=BS3TextFieldWidget()))
        self.search_form_extra_fields = extra
        super().__init__(**kwargs)
        for column in text_searched:
            text_filter = [FilterRelatedTextContains(column, self.datamodel)]
            self._filters.get_search_filters()[column] = text_filter  # what the search form offers
            self._filters._all_filters[column] = text_filter  # what request args are parsed with
        if isinstance(self.datamodel, FastSQLAInterface):
            self.datamodel.eager_columns = list(self.list_columns)

    def _get_list_widget(self, filters, actions=None, order_column="", order_direction="", page=None,
                         page_size=None, widgets=None, **kwargs):
        page_size = min(page_size or self.page_size, self.max_page_size)
        if page and page * page_size > self.max_offset:
            page = self.max_offset // page_size
        name = self.__class__.__name__
        after = request.args.get(f"after_{name}", "")
        g._list_after = int(after) if after.isdigit() else None
        widgets = super()._get_list_widget(filters, actions=actions, order_column=order_column,
                                           order_direction=order_direction, page=page, page_size=page_size,
                                           widgets=widgets, **kwargs)
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
        obj = get_scoped(self.datamodel.obj, pk)
        if obj is None:
            abort(404)
        return obj

    @expose("/download/<string:filename>")
    def download(self, filename):
        # FAB serves any file of UPLOAD_FOLDER here; files are served only by views/files.py.
        abort(404)

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
