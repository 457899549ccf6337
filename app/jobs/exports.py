"""The named list exports (``reports.export.EXPORTS``): each list's own export query, rebuilt from its
filter values so that the same export runs in the request or, above ``EXPORT_JOB_ROWS`` rows, as a job.

Each builder takes ``(filters, user)`` — the list's query-string values as ``{name: [values]}`` —
and returns ``(stmt, columns, title)``. The lists still read their filters from ``request.args``;
the builders therefore run their list's export function inside a request whose arguments are exactly
those filters (the job runner pushes one; in a page request they are the request's own).
"""

from flask import current_app, g, has_request_context, request
from flask_babel import lazy_gettext as _

from app.reports.export import register_export


def _in_request(filters, user, build):
    """Run ``build()`` where ``request.args`` are ``filters`` and the acting user is ``user``."""
    if has_request_context() and request.args.to_dict(flat=False) == _without_fmt(filters, request.args):
        return build()
    with current_app.test_request_context(query_string=filters):
        g.user = user
        return build()


def _without_fmt(filters, args):
    same = {k: list(v) for k, v in (filters or {}).items()}
    if "fmt" in args:
        same["fmt"] = args.getlist("fmt")
    return same


@register_export(
    "applications",
    _("投保信息"),
    ("can_export", "Application"),
    {"enterprise": _("施工企业名称"), "project": _("项目名称"), "status": _("投保状态")},
)
def applications(filters, user):
    from app.views.insurance import application_export

    stmt, columns = _in_request(filters, user, application_export)
    return stmt, columns, _("投保信息")


@register_export(
    "ledger",
    _("保单台帐"),
    ("can_export", "Ledger"),
    {"enterprise": _("单位名称"), "project": _("项目名称"), "id": _("选中的保单")},
)
def ledger(filters, user):
    from app.views.insurance import ledger_export

    stmt, columns = _in_request(filters, user, ledger_export)
    return stmt, columns, _("保单台帐")


@register_export(
    "dept_projects",
    _("项目信息"),
    ("can_export", "DeptProject"),
    {"region": _("行政区划代码"), "name": _("项目名称"), "enterprise": _("单位名称"), "status": _("投保状态")},
)
def dept_projects(filters, user):
    from app.extensions import db
    from app.views.department import EXPORT_COLUMNS, dept_project_query, project_filters

    def build():
        return db.session.query(dept_project_query(project_filters(request.args)).subquery())

    return _in_request(filters, user, build), EXPORT_COLUMNS, _("项目信息")


@register_export(
    "orders",
    _("派单管理"),
    ("can_export", "DispatchOrder"),
    {"order_no": _("派单号"), "project": _("项目名称"), "org": _("承接单位"), "status": _("状态")},
)
def orders(filters, user):
    from app.views.prevention import DispatchOrderView

    view = next(v for v in current_app.appbuilder.baseviews if isinstance(v, DispatchOrderView))
    return _in_request(filters, user, view.export_query), view.export_columns, _("派单管理")
