"""待办任务 / 已办任务 of the expert (manual 四.1–2) and of the enterprise (一.4–5).

待办 lists the orders in the states where the party has a transition to fire (the ORDER table's own
answer); 已办 those it has acted on."""

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.sqla.filters import FilterInFunction
from flask_babel import lazy_gettext as _
from sqlalchemy import select

from app.extensions import db
from app.models import DispatchOrder, Hazard, HazardCategory, MajorHazardStandard
from app.models.enums import OrderStatus as O
from app.models.enums import PartyKind as P
from app.security.scope import get_scoped_or_404
from app.services import orders as order_service
from app.services import visits
from app.services.base import ServiceError
from app.workflows import ORDER

from ..base import flash_service_error
from ..buttons import allowed
from .common import ORDER_LABELS, SERVICE_COLUMNS, TEMPLATE_HELPERS, OrderListView, statuses

EXPERT_COLUMNS = [*SERVICE_COLUMNS, "deadline", "insurer", "org", "status"]
EXPERT_LABELS = dict(ORDER_LABELS, org=_("派单机构"), insurer=_("保险机构"))
# 退回意见: why the order is back (the reviewer's 不通过, the expert's 验收不合格), read on the list
RETURN_RELATIONS = ["latest_review.reviewer", "hazards", "expert", "org", "insurer"]


class ExpertTodoView(OrderListView):
    """待办任务 of an expert (四.1): 同意 / 拒绝, 处理 (签到, hazards, record, 提交报告), 验收."""

    scope_model = {"hid": Hazard}  # hazard ids in URLs are scoped as hazards (tests/security)
    route_base = "/expert/todo"
    class_permission_name = "ExpertTask"
    method_permission_name = dict(
        OrderListView.method_permission_name,
        accept="handle",
        refuse="handle",
        handle="handle",
        signin="handle",
        save="handle",
        upload_report="handle",
        hazard="handle",
        hazard_delete="handle",
        submit="handle",
        verify="handle",
    )
    list_title = _("待办任务")
    list_columns = [*EXPERT_COLUMNS, "return_opinion"]
    label_columns = EXPERT_LABELS
    eager_relations = RETURN_RELATIONS
    base_filters = [["status", FilterInFunction, statuses(*ORDER.states_to_act(P.EXPERT))]]

    def _back(self, pk):
        return redirect(url_for("ExpertTodoView.handle", pk=pk))

    @expose("/accept/<pk>", methods=["POST"])
    @has_access
    def accept(self, pk):
        return self.run_accept(order_service.expert_accept, pk, _("已接受该事故预防服务单"))

    @expose("/refuse/<pk>", methods=["GET", "POST"])
    @has_access
    def refuse(self, pk):
        return self.run_refuse(order_service.expert_refuse, pk, _("已拒绝，服务单退回派单机构"))

    @expose("/handle/<pk>")
    @has_access
    def handle(self, pk):
        order = get_scoped_or_404(DispatchOrder, pk)
        categories = db.session.scalars(
            select(HazardCategory).where(HazardCategory.active.is_(True)).order_by(HazardCategory.code)
        ).all()
        standards = db.session.scalars(
            select(MajorHazardStandard).where(MajorHazardStandard.active.is_(True)).order_by(MajorHazardStandard.id)
        ).all()
        return self.render_template(
            "prevention/handle.html",
            order=order,
            visit=order.visit,
            hazards=order.hazards,
            categories=categories,
            standards=standards,
            title=_("处理"),
            editable=allowed(ORDER, "submit_report", order),
            verifying=allowed(ORDER, "verify", order),
            **TEMPLATE_HELPERS,
        )

    def _call(self, pk, func, message):
        try:
            func()
        except ServiceError as exc:
            flash_service_error(exc)
        else:
            flash(str(message), "success")
        return self._back(pk)

    @expose("/signin/<pk>", methods=["POST"])
    @has_access
    def signin(self, pk):
        f = request.form
        return self._call(
            pk,
            lambda: visits.sign_in(pk, g.user, request.files.get("photo"), lat=f.get("lat"), lon=f.get("lon")),
            _("签到成功"),
        )

    @expose("/save/<pk>", methods=["POST"])
    @has_access
    def save(self, pk):
        return self._call(pk, lambda: visits.save_report(pk, g.user, request.form), _("已保存"))

    @expose("/upload-report/<pk>", methods=["POST"])
    @has_access
    def upload_report(self, pk):
        return self._call(
            pk,
            lambda: visits.upload_signed_report(pk, g.user, request.files.getlist("signed_report")),
            _("签字报告已上传"),
        )

    @expose("/hazard/<pk>", methods=["POST"])
    @has_access
    def hazard(self, pk):
        return self._call(
            pk, lambda: visits.add_hazard(pk, g.user, request.form, request.files.getlist("photos")), _("隐患已记录")
        )

    @expose("/hazard-delete/<hid>", methods=["POST"])
    @has_access
    def hazard_delete(self, hid):
        hazard = get_scoped_or_404(Hazard, hid)
        return self._call(hazard.order_id, lambda: visits.remove_hazard(hazard.id, g.user), _("隐患已删除"))

    @expose("/submit/<pk>", methods=["POST"])
    @has_access
    def submit(self, pk):
        try:
            order = visits.submit_report(pk, g.user)
        except ServiceError as exc:
            flash_service_error(exc)
            return self._back(pk)
        return self.done(_("报告已提交：%(s)s", s=O.label(order.status)))

    @expose("/verify/<hid>", methods=["POST"])
    @has_access
    def verify(self, hid):
        hazard = get_scoped_or_404(Hazard, hid)
        passed = request.form.get("passed") == "1"
        return self._call(
            hazard.order_id, lambda: visits.verify(hazard.id, g.user, passed, request.form.get("note")), _("验收已记录")
        )


class ExpertDoneView(OrderListView):
    """已办任务 of an expert (四.2)."""

    route_base = "/expert/done"
    class_permission_name = "ExpertTask"
    list_title = _("已办任务")
    list_columns = [*EXPERT_COLUMNS, "rectification_result"]
    label_columns = EXPERT_LABELS
    eager_relations = ["hazards"]
    base_filters = [
        [
            "status",
            FilterInFunction,
            statuses(O.RECTIFYING, O.ORG_REVIEW, O.INSURER_REVIEW, O.COMPLETED, O.EXPERT_REFUSED),
        ]
    ]


ENTERPRISE_COLUMNS = [*SERVICE_COLUMNS, "start_date", "end_date", "insurer", "org", "expert", "expert.mobile", "status"]
ENTERPRISE_LABELS = dict(ORDER_LABELS, expert=_("专家负责人"), **{"expert.mobile": _("联系方式")})


class EnterpriseTodoView(OrderListView):
    """待办任务 of an enterprise (一.4): the 安全隐患 table; 整改情况 per hazard; 提交整改."""

    scope_model = {"hid": Hazard}  # hazard ids in URLs are scoped as hazards (tests/security)
    route_base = "/enterprise/todo"
    class_permission_name = "EnterpriseTask"
    method_permission_name = dict(OrderListView.method_permission_name, rectify="rectify", submit="rectify")
    list_title = _("待办任务")
    list_columns = [*ENTERPRISE_COLUMNS, "return_opinion"]
    label_columns = ENTERPRISE_LABELS
    eager_relations = RETURN_RELATIONS
    detail_template = "prevention/rectify.html"
    base_filters = [["status", FilterInFunction, statuses(*ORDER.states_to_act(P.ENTERPRISE))]]

    def render_detail(self, order, template=None, **extra):
        editable = allowed(ORDER, "submit_rectification", order)
        return super().render_detail(order, template, editable=editable, **extra)

    @expose("/rectify/<hid>", methods=["POST"])
    @has_access
    def rectify(self, hid):
        hazard = get_scoped_or_404(Hazard, hid)
        try:
            visits.rectify(hazard.id, g.user, request.form.get("text"), request.files.getlist("photos"))
        except ServiceError as exc:
            flash_service_error(exc)
        else:
            flash(str(_("第 %(seq)s 项整改情况已保存", seq=hazard.seq)), "success")
        return redirect(url_for("EnterpriseTodoView.show", pk=hazard.order_id))

    @expose("/submit/<pk>", methods=["POST"])
    @has_access
    def submit(self, pk):
        try:
            visits.submit_rectification(pk, g.user)
        except ServiceError as exc:
            flash_service_error(exc)
            return redirect(url_for("EnterpriseTodoView.show", pk=pk))
        return self.done(_("整改已提交，等待专家验收"))


class EnterpriseDoneView(OrderListView):
    """已办任务 of an enterprise (一.5)."""

    route_base = "/enterprise/done"
    class_permission_name = "EnterpriseTask"
    list_title = _("已办任务")
    list_columns = [*ENTERPRISE_COLUMNS, "rectification_result"]
    label_columns = ENTERPRISE_LABELS
    eager_relations = ["hazards"]
    detail_template = "prevention/rectify.html"
    base_filters = [["status", FilterInFunction, statuses(O.VERIFYING, O.ORG_REVIEW, O.INSURER_REVIEW, O.COMPLETED)]]


__all__ = ["EnterpriseDoneView", "EnterpriseTodoView", "ExpertDoneView", "ExpertTodoView"]
