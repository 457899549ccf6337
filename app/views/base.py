"""The base every data view stands on: the scope applied to every path FAB offers."""
from flask import abort, request
from flask_appbuilder import ModelView, expose
from flask_appbuilder.models.sqla.interface import SQLAInterface

from app.security.scope import ScopeFilter, get_scoped

READ_ONLY = {"list": "read", "show": "read", "action": "read", "action_post": "read"}
READ_WRITE = dict(READ_ONLY, add="write", edit="write", delete="write")


class ScopedModelView(ModelView):
    """A ModelView whose every row path goes through app.security.scope.

    - list, show, edit, delete: the scope is the first base filter (FAB applies base_filters there);
    - action and action_post: FAB fetches rows without base_filters, so rows are re-fetched here
      through the scope and a foreign id answers 404;
    - related-field dropdowns in add, edit and search forms list only rows in scope;
    - the page size is capped (FAB's MVC page size is otherwise unbounded).
    """

    page_size = 20
    max_page_size = 100
    method_permission_name = READ_ONLY

    def __init__(self, **kwargs):
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
        super().__init__(**kwargs)

    def _get_list_widget(self, filters, actions=None, order_column="", order_direction="", page=None,
                         page_size=None, widgets=None, **kwargs):
        page_size = min(page_size or self.page_size, self.max_page_size)
        if page and page_size and page * page_size > 1_000_000:
            page = 0
        return super()._get_list_widget(filters, actions=actions, order_column=order_column,
                                        order_direction=order_direction, page=page, page_size=page_size,
                                        widgets=widgets, **kwargs)

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
