from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _


class StatisticsView(BaseView):
    """统计报告 (manual 五.3)."""

    route_base = "/statistics"
    class_permission_name = "Statistics"
    method_permission_name = {"index": "read"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        return self.render_template("department/statistics.html", title=_("统计报告"))


class DashboardView(BaseView):
    """数据大屏 (manual 五.4, 附件 2)."""

    route_base = "/dashboard"
    class_permission_name = "Dashboard"
    method_permission_name = {"index": "read"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        return self.render_template("department/dashboard.html", title=_("数据大屏"))
