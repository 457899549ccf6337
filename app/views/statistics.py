"""The departments' 统计报告 (manual 五.3) and 数据大屏 (五.4, 附件 2)."""

from datetime import datetime

from flask import current_app, g, jsonify, request
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _

from app import clock
from app.jobs import outputs
from app.reports.export import XLSX, stream_file
from app.reports.statistics_xlsx import footnote, summary_header
from app.services import registry_import, statistics, statistics_store
from app.storage import get_storage

from .jobs import to_job_page

# ---------------------------------------------------------------------------------------------------
# 统计报告 (manual 五.3)
# ---------------------------------------------------------------------------------------------------


def _report_args(args):
    report = args.get("type") if args.get("type") in statistics.REPORT_TYPES else "insurance"
    month = statistics.parse_month(args.get("month"))
    return report, month


class StatisticsView(BaseView):
    """统计报告: 报告类型 and 报告日期 (a month) → the summary on the page, 导出 → the workbook: a
    closed month's from the store at once, otherwise made by a job (its progress page, then the file)."""

    route_base = "/statistics"
    class_permission_name = "Statistics"
    method_permission_name = {"index": "read", "export": "export"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        report_type, month = _report_args(request.args)
        wait = current_app.config["FIGURES_FRESH_WAIT_SECONDS"]
        report, _month_report, as_of = statistics_store.figures(report_type, month, g.user, wait=wait)
        first, second = summary_header(report)
        return self.render_template(
            "department/statistics.html",
            title=_("统计报告"),
            report=report,
            report_type=report_type,
            month=month.strftime("%Y-%m"),
            types=statistics.REPORT_TYPES,
            header=(first, second),
            footnote=footnote(),
            closed=statistics.is_closed(month),
            as_of=as_of,
            can_export=self.appbuilder.sm.has_access("can_export", self.class_permission_name),
        )

    @expose("/export/")
    @has_access
    def export(self):
        report_type, month = _report_args(request.args)
        stored = statistics_store.stored_workbook(report_type, month, g.user)
        if stored is not None:
            from app.security.audit import audit_event

            name = statistics_store.workbook_name(report_type, month)
            audit_event("export", name)
            return stream_file(get_storage().path(stored.file_key), name, XLSX)
        title = f"{statistics.REPORT_TYPES[report_type]}统计 {month:%Y-%m}"
        run = outputs.submit(g.user, "statistics", title, {"report": report_type, "month": month.isoformat()})
        return to_job_page(run)


# ---------------------------------------------------------------------------------------------------
# 数据大屏 (manual 五.4, 附件 2)
# ---------------------------------------------------------------------------------------------------


def _json_ready(value):
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if hasattr(value, "as_tuple"):  # Decimal
        return float(value)
    if isinstance(value, datetime):  # as_of: an instant with its offset
        return clock.isoformat(value)
    return value


class DashboardView(BaseView):
    """数据大屏: the 附件 2 figures, by city, hazards by category and the Heilongjiang map — as a page
    of the platform (``/dashboard/``) and full screen for a wall display (``/dashboard/wall``)."""

    route_base = "/dashboard"
    class_permission_name = "Dashboard"
    method_permission_name = {"index": "read", "data": "read", "wall": "read"}
    default_view = "index"

    def _page(self, template, **extra):
        """The figures in the page's frame or on the wall: the same content, titled alike. A page waits
        briefly for figures a change has made out of date (the wall's data refreshes do not)."""
        wait = current_app.config["FIGURES_FRESH_WAIT_SECONDS"]
        figures = statistics.dashboard(g.user, wait=wait)
        return self.render_template(template, title=_("数据大屏"), figures=figures, today=clock.today(), **extra)

    @expose("/")
    @has_access
    def index(self):
        return self._page("department/dashboard.html", can_import=registry_import.can_import(g.user))

    @expose("/wall")
    @has_access
    def wall(self):
        """Full screen (1920×1080 and down to 1366×768 without scrolling; stacked on a phone)."""
        refresh = max(int(current_app.config.get("DASHBOARD_REFRESH_SECONDS", 60)), 5)
        return self._page("department/dashboard_wall.html", refresh=refresh)

    @expose("/data")
    @has_access
    def data(self):
        response = jsonify(_json_ready(statistics.dashboard(g.user)))
        response.headers["Cache-Control"] = "no-store"
        return response
