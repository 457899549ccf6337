"""What every prevention list shares: the order columns and labels, the 操作 buttons from the ORDER table,
the detail page, the 流程 timeline of an order and the orders it re-dispatched, and the 同意 / 拒绝 steps."""

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from sqlalchemy import false

from app.daos.flow import events_of, ids_of
from app.models import DispatchOrder, Hazard
from app.models.enums import HazardLevel, HazardStatus, ReviewStage, Verdict
from app.models.enums import OrderStatus as O
from app.security.scope import get_scoped, get_scoped_or_404
from app.services.base import ServiceError
from app.workflows import HAZARD, ORDER

from ..base import READ_ONLY, ScopedModelView, flash_service_error
from ..buttons import Button, may, workflow_buttons
from ..formatters import choice, money

ORDER_LABELS = {
    "order_no": _("派单号"),
    "project": _("项目名称"),
    "project.name": _("项目名称"),
    "project.project_code": _("项目代码"),
    "org": _("承接单位"),
    "expert": _("事故预防专家"),
    "insurer": _("派单机构"),
    "service_place": _("服务地点"),
    "service_items_text": _("服务项目"),
    "service_items": _("服务内容"),
    "start_date": _("开始日期"),
    "end_date": _("结束日期"),
    "deadline": _("截止日期"),
    "required_title": _("职称要求"),
    "fee": _("事故预防费(元)"),
    "status": _("状态"),
    "created_at": _("派单时间"),
    "enterprise": _("施工企业"),
    "dispatcher": _("派单机构"),
    "return_opinion": _("退回意见"),
    "rectification_result": _("整改是否合格"),
}

# The lists of the service itself (the expert's and the enterprise's tasks, the reports) lead with what and where
SERVICE_COLUMNS = ["order_no", "project.name", "service_place", "service_items_text"]

ACTION_LABELS = {
    **{t.name: t.label for t in HAZARD.transitions.values()},
    **{t.name: t.label for t in ORDER.transitions.values()},
    "dispatch": _("派单"),
    "sign_in": _("签到"),
    "upload_report": _("上传签字报告"),
}
TEMPLATE_HELPERS = dict(
    O=O,
    OrderStatus=O,
    HazardLevel=HazardLevel,
    HazardStatus=HazardStatus,
    ReviewStage=ReviewStage,
    Verdict=Verdict,
    action_labels=ACTION_LABELS,
)


def statuses(*values):
    return lambda: list(values)


class ChoiceLabelFilter(BaseFilter):
    """Search a status column by its Chinese label (被拒回, 超时 …)."""

    name = _("包含")
    arg_name = "stl"
    choice_set = O

    def apply(self, query, value):
        if isinstance(value, (list, tuple)):
            value = value[0] if value else ""
        text = (value or "").strip()
        if not text:
            return query
        codes = [v for v, label, _c in self.choice_set.CHOICES if text in str(label) or text == v]
        return query.filter(getattr(self.model, self.column_name).in_(codes)) if codes else query.filter(false())


def timeline(orders):
    """FlowEvents of the orders and their hazards, through the scope, oldest first."""
    order_ids = [o.id for o in orders]
    return events_of([(ORDER.entity_type, order_ids), (HAZARD.entity_type, ids_of(Hazard, "order_id", order_ids))])


def chain(order):
    """The order and the orders it re-dispatched, newest first (those the user may see)."""
    found, seen, node = [order], {order.id}, order
    while node.parent_id and node.parent_id not in seen:
        node = get_scoped(DispatchOrder, node.parent_id)
        if node is None:
            break
        found.append(node)
        seen.add(node.id)
    return found


class OrderListView(ScopedModelView):
    """The base of every list of dispatch orders: columns, 详情 / 流程 and the ORDER table's buttons."""

    datamodel = SQLAInterface(DispatchOrder)
    method_permission_name = dict(READ_ONLY, flow="read")
    base_permissions = None
    list_columns = ["order_no", "project.name", "project.project_code", "deadline", "service_items_text", "status"]
    search_columns = ["order_no", "project", "org", "status"]
    label_columns = ORDER_LABELS
    formatters_columns = {"status": choice(O), "fee": money}
    base_order = ("id", "desc")
    detail_template = "prevention/order_detail.html"

    def __init__(self, **kwargs):
        # the numbers are links: 派单号 opens the order's 详情 in this same view, 保单号 the policy
        self.link_columns = {
            "order_no": (f"{type(self).__name__}.show", "id"),
            "policy.policy_no": ("PolicyView.show", "policy_id"),
        }
        super().__init__(**kwargs)
        if "status" in self.search_columns:
            label_filter = [ChoiceLabelFilter("status", self.datamodel)]
            self._filters.get_search_filters()["status"] = label_filter
            self._filters._all_filters["status"] = label_filter  # FAB resolves _flt_<i>_status here

    def row_links(self, item):
        links = super().row_links(item)
        if not may("read", "Policy"):
            links.pop("policy.policy_no", None)  # 保单号 opens the policy for those who read policies
        return links

    def row_buttons(self, order, party):
        """详情, then the buttons of the order's own page."""
        return [*super().row_buttons(order, party), *self.order_buttons(order, party)]

    def order_buttons(self, order, party):
        """流程, whatever the ORDER table lets this party do now, and 查看报告 once completed."""
        name = type(self).__name__
        buttons = [Button(_("流程"), url_for(f"{name}.flow", pk=order.id)), *workflow_buttons(ORDER, order, party)]
        if order.status == O.COMPLETED and may("read", "Report") and name != "ReportView":
            buttons.append(Button(_("查看报告"), url_for("ReportView.show", pk=order.id)))
        return buttons

    def render_detail(self, order, template=None, **extra):
        from app.security.scope import party_of
        from app.services import reviews as review_service

        party = party_of()
        report = may("download", "Report") and review_service.report_available(order, party)
        return self.render_template(
            template or self.detail_template,
            order=order,
            visit=order.visit,
            hazards=order.hazards,
            reviews=order.reviews,
            buttons=self.order_buttons(order, party),
            title=self.list_title,
            report_download=report,
            report_draft=report and review_service.is_draft(order),
            **TEMPLATE_HELPERS,
            **extra,
        )

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        return self.render_detail(get_scoped_or_404(DispatchOrder, pk))

    @expose("/flow/<pk>")
    @has_access
    def flow(self, pk):
        orders = chain(get_scoped_or_404(DispatchOrder, pk))
        return self.render_template(
            "prevention/flow.html",
            orders=orders,
            events=timeline(orders),
            title=_("流程"),
            back=url_for(f"{type(self).__name__}.list"),
            **TEMPLATE_HELPERS,
        )

    def done(self, message):
        flash(str(message), "success")
        return redirect(url_for(f"{type(self).__name__}.list"))

    def run_accept(self, service, pk, message):
        """同意 (POST): the service, then back to the list with its message."""
        try:
            service(pk, g.user)
        except ServiceError as exc:
            flash_service_error(exc)
            return redirect(url_for(f"{type(self).__name__}.list"))
        return self.done(message)

    def run_refuse(self, service, pk, message):
        """拒绝: a form asking the reason (GET), the service (POST)."""
        errors = {}
        if request.method == "POST":
            try:
                service(pk, g.user, request.form.get("reason"))
            except ServiceError as exc:
                errors = flash_service_error(exc)
            else:
                return self.done(message)
        order = get_scoped_or_404(DispatchOrder, pk)
        return self.render_template(
            "prevention/reason_form.html",
            order=order,
            title=_("拒绝派单"),
            action_label=_("拒绝"),
            errors=errors,
            **TEMPLATE_HELPERS,
        )
