"""The named list exports (``reports.export.EXPORTS``): every list view that declares ``export_columns``
is an export named after the view. The builder rebuilds the list's own query from its query-string
values, so the same export runs in the request or, above ``EXPORT_JOB_ROWS`` rows, as a job.

The builder takes ``(filters, user)`` — the list's query-string values as ``{name: [values]}`` — and
returns ``(stmt, columns, title)``. The scope reads the acting user from the request, so outside one
(in the job) the builder runs inside a request made of exactly those values and that user.
"""

from flask import current_app, g, has_request_context
from flask_babel import lazy_gettext as _
from werkzeug.datastructures import MultiDict

from app.reports.export import EXPORTS, ExportSpec


def _view(name):
    return next(v for v in current_app.appbuilder.baseviews if type(v).__name__ == name)


def _build(name):
    def build(filters, user):
        def statement():
            view = _view(name)
            args = MultiDict([(k, v) for k, values in (filters or {}).items() for v in values])
            selected = [int(i) for i in args.getlist("id") if i.isdigit()]
            stmt, columns = view.export_statement(view.list_state(args), selected=selected or None)
            return stmt, columns, view.export_title or view.list_title

        if has_request_context() and getattr(g, "user", None) is not None and g.user.id == user.id:
            return statement()
        with current_app.test_request_context():
            g.user = user
            return statement()

    return build


def register_list_exports(views):
    """Declare the export of every list view with ``export_columns`` (called once views are registered)."""
    for view in views:
        if not getattr(view, "export_columns", None):
            continue
        name = type(view).__name__
        labels = {f.param: f.label for f in getattr(view, "search_bar", [])}
        labels["id"] = _("选中的行")
        EXPORTS[name] = ExportSpec(
            name, view.export_title or view.list_title, _build(name), ("can_export", view.class_permission_name), labels
        )
