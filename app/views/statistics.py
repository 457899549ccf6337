"""The departments' 统计报告 (manual 五.3) and 数据大屏 (五.4, 附件 2)."""

from flask import g, jsonify, request
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _

from app import clock
from app.extensions import db
from app.reports.export import spooled_xlsx
from app.reports.statistics_xlsx import summary_header, write_workbook
from app.services import registry_import, statistics

# ---------------------------------------------------------------------------------------------------
# 统计报告 (manual 五.3)
# ---------------------------------------------------------------------------------------------------


def _report_args(args):
    report = args.get("type") if args.get("type") in statistics.REPORT_TYPES else "insurance"
    month = statistics.parse_month(args.get("month"))
    return report, month


class StatisticsView(BaseView):
    """统计报告: 报告类型 and 报告日期 (a month) → the summary on the page, 导出 → the workbook."""

    route_base = "/statistics"
    class_permission_name = "Statistics"
    method_permission_name = {"index": "read", "export": "export"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        report_type, month = _report_args(request.args)
        periods = statistics.report_periods(month)
        report = statistics.company_report(report_type, g.user, periods["cumulative"])
        first, second = summary_header(report)
        return self.render_template(
            "department/statistics.html",
            title=_("统计报告"),
            report=report,
            report_type=report_type,
            month=month.strftime("%Y-%m"),
            types=statistics.REPORT_TYPES,
            header=(first, second),
            can_export=self.appbuilder.sm.has_access("can_export", self.class_permission_name),
        )

    @expose("/export/")
    @has_access
    def export(self):
        report_type, month = _report_args(request.args)
        periods = statistics.report_periods(month)
        cumulative = statistics.company_report(report_type, g.user, periods["cumulative"])
        monthly = statistics.company_report(report_type, g.user, periods["month"])
        headers, stmt, status_columns = statistics.detail_rows(report_type, g.user, periods["cumulative"])
        rows = db.session.execute(stmt.execution_options(yield_per=1000))
        name = f"{statistics.REPORT_TYPES[report_type]}统计_{month:%Y%m}.xlsx"
        return spooled_xlsx(lambda path: write_workbook(path, cumulative, monthly, headers, rows, status_columns), name)


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
    return value


class DashboardView(BaseView):
    """数据大屏: the 附件 2 figures, by city, hazards by category and the Heilongjiang map."""

    route_base = "/dashboard"
    class_permission_name = "Dashboard"
    method_permission_name = {"index": "read", "data": "read"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        return self.render_template(
            "department/dashboard.html",
            title=_("数据大屏"),
            figures=statistics.dashboard(g.user),
            can_import=registry_import.can_import(g.user),
            today=clock.today(),
        )

    @expose("/data")
    @has_access
    def data(self):
        return jsonify(_json_ready(statistics.dashboard(g.user)))
