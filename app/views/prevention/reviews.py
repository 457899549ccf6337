"""报告审核 (insurer 二.8, org 三.4) and 查看报告 (insurer 二.9) / 报告列表 (department 五.6)."""

import io

from flask import abort, flash, g, request
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterInFunction
from flask_babel import lazy_gettext as _

from app.models import DispatchOrder
from app.models.enums import OrderStatus as O
from app.models.enums import Verdict
from app.reports.download import send_download
from app.security.scope import get_scoped_or_404, party_of
from app.services import reviews as review_service
from app.services.base import ServiceError

from ..base import flash_service_error
from .common import SERVICE_COLUMNS, OrderListView, statuses

REPORT_COLUMNS = [*SERVICE_COLUMNS, "start_date", "end_date", "expert", "status"]


class AwaitingReviewFilter(BaseFilter):
    """报告审核 lists what awaits the user's own stage (services/reviews.awaiting)."""

    name = "review stage"

    def apply(self, query, value):
        return query.filter(DispatchOrder.status.in_(review_service.awaiting(party_of())))


class ReportReviewView(OrderListView):
    """报告审核 (insurer 二.8, org 三.4): reports awaiting the user's own review."""

    route_base = "/report-review"
    class_permission_name = "ReportReview"
    method_permission_name = dict(OrderListView.method_permission_name, review="review")
    list_title = _("报告审核")
    list_columns = REPORT_COLUMNS
    base_filters = [["status", AwaitingReviewFilter, None]]

    @expose("/review/<pk>", methods=["GET", "POST"])
    @has_access
    def review(self, pk):
        order = get_scoped_or_404(DispatchOrder, pk)
        errors = {}
        if request.method == "POST":
            verdict = request.form.get("verdict")
            if verdict not in (Verdict.PASS, Verdict.FAIL):
                flash(str(_("请选择审核结果：通过或不通过")), "danger")
                errors = {"verdict": [_("请选择审核结果")]}
            else:
                try:
                    review_service.review(order.id, g.user, verdict == Verdict.PASS, request.form.get("opinion"))
                except ServiceError as exc:
                    errors = flash_service_error(exc)
                else:
                    return self.done(_("审核完成"))
        return self.render_detail(order, review_form=True, errors=errors, form=request.form)


class ReportView(OrderListView):
    """查看报告 (insurer 二.9) and 报告列表 (department 五.6): finished service records and their PDF."""

    route_base = "/reports"
    class_permission_name = "Report"
    method_permission_name = dict(OrderListView.method_permission_name, pdf="download")
    list_title = _("查看报告")
    list_columns = REPORT_COLUMNS
    base_filters = [["status", FilterInFunction, statuses(O.COMPLETED)]]

    @expose("/pdf/<pk>")
    @has_access
    def pdf(self, pk):
        """The report PDF: archived once the insurer passed it (rendered now for an order finished before
        archiving existed); during the reviews rendered now and marked 草稿."""
        from app.reports.service_report_pdf import render_service_report
        from app.storage import get_storage

        order = get_scoped_or_404(DispatchOrder, pk)
        if not review_service.report_available(order, party_of()):
            abort(404)
        draft = review_service.is_draft(order)
        stored = None if draft or order.visit is None else order.visit.report_file
        if stored is not None:
            fh = get_storage().open(stored.key)
        else:
            fh = io.BytesIO(render_service_report(order, draft=draft))
        name = f"事故预防服务报告_{'草稿_' if draft else ''}{order.order_no}.pdf"
        return send_download(fh, name, "application/pdf")
