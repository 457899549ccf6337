"""投保项目 and 派单 (insurer 二.5), 派单管理 (insurer 二.6, org 三.2) and 承接项目 (org 三.1)."""

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from werkzeug.datastructures import MultiDict

from app.models import DispatchOrder, Policy
from app.models.enums import OrderStatus as O
from app.models.enums import PolicyStatus
from app.security.scope import get_scoped, get_scoped_or_404, scoped
from app.services import orders as order_service
from app.services.base import ServiceError

from ..base import READ_ONLY, ScopedModelView, flash_service_error
from ..buttons import Button, may
from ..formatters import choice
from .common import TEMPLATE_HELPERS, OrderListView, timeline


def _form_list(name):
    return [v for v in request.form.getlist(name) if v]


def dispatch_data():
    """The 派单 form's fields, as the service reads them (the target is "org:<id>" or "expert:<id>")."""
    f = request.form
    kind, _sep, target_id = f.get("target", "").partition(":")
    return dict(
        org_id=target_id if kind == "org" else None,
        expert_id=target_id if kind == "expert" else None,
        service_item_ids=_form_list("service_item_ids"),
        service_place=f.get("service_place"),
        start_date=f.get("start_date"),
        end_date=f.get("end_date"),
        deadline=f.get("deadline"),
        required_title_id=f.get("required_title_id"),
        fee=f.get("fee"),
        comment=f.get("comment"),
    )


class InsuredProjectView(ScopedModelView):
    """投保项目: insured projects with their prevention status; select one or many and 派单."""

    route_base = "/insured-projects"
    datamodel = SQLAInterface(Policy)
    class_permission_name = "InsuredProject"
    method_permission_name = dict(READ_ONLY, flow="read", dispatch="dispatch")
    base_permissions = None
    list_title = _("投保项目")
    list_columns = [
        "policy_no",
        "project_name",
        "project_code",
        "insurer",
        "enterprise",
        "start_date",
        "end_date",
        "status",
        "latest_order_status",
    ]
    search_columns = ["policy_no", "project_name", "enterprise"]
    link_columns = {"policy_no": "InsuredProjectView.show"}  # 保单号 opens the same 详情 as the button
    label_columns = {
        "policy_no": _("保单号"),
        "project_name": _("项目名称"),
        "project_code": _("项目代码"),
        "insurer": _("承保企业"),
        "enterprise": _("施工企业名称"),
        "start_date": _("保单起期"),
        "end_date": _("保单止期"),
        "status": _("投保状态"),
        "latest_order_status": _("事故预防状态"),
    }
    formatters_columns = {"status": choice(PolicyStatus), "latest_order_status": choice(O, empty=_("未派单"))}
    base_order = ("id", "desc")

    def select_buttons(self):
        if not (may("dispatch", self.class_permission_name) and order_service.can_dispatch(g.user)):
            return []
        return [Button(_("派单"), url_for("InsuredProjectView.dispatch"), style="primary", id="azx-select-submit")]

    row_select_hint = _("勾选一个或多个投保项目后点击派单")

    def row_selectable(self, policy):
        return order_service.dispatchable(policy)

    def row_buttons(self, policy, party):
        buttons = super().row_buttons(policy, party)
        if policy.latest_order_status:
            buttons.append(Button(_("流程"), url_for("InsuredProjectView.flow", pk=policy.id)))
        return buttons

    def _policy_page(self, pk, title, with_timeline):
        policy = get_scoped_or_404(Policy, pk)
        orders = scoped(_orders_of_policy(policy), DispatchOrder).all()
        return self.render_template(
            "prevention/flow.html",
            orders=orders,
            policy=policy,
            title=title,
            events=timeline(orders) if with_timeline else None,
            back=url_for("InsuredProjectView.list"),
            **TEMPLATE_HELPERS,
        )

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        """详情: the project and policy, with the state of its prevention orders."""
        return self._policy_page(pk, _("项目详情"), with_timeline=False)

    @expose("/flow/<pk>")
    @has_access
    def flow(self, pk):
        return self._policy_page(pk, _("事故预防服务流程"), with_timeline=True)

    @expose("/dispatch", methods=["GET", "POST"])
    @has_access
    def dispatch(self):
        ids = [i for i in (request.values.getlist("id") or []) if str(i).isdigit()]
        policies = [p for p in (get_scoped(Policy, i) for i in ids) if p is not None]
        if not policies:
            flash(str(_("请先勾选要派单的投保项目")), "warning")
            return redirect(url_for("InsuredProjectView.list"))
        errors, form = {}, request.form
        if request.method == "POST":
            try:
                created = order_service.dispatch(g.user, [p.id for p in policies], dispatch_data())
            except ServiceError as exc:
                errors = flash_service_error(exc)
            else:
                flash(str(_("派单成功：%(nos)s", nos="、".join(o.order_no for o in created))), "success")
                return redirect(url_for("DispatchOrderView.list"))
        return self.render_template(
            "prevention/dispatch_form.html",
            policies=policies,
            errors=errors,
            form=form,
            title=_("派单"),
            action=url_for("InsuredProjectView.dispatch"),
            **order_service.dispatch_targets(g.user),
        )


def _orders_of_policy(policy):
    from app.extensions import db

    return (
        db.session.query(DispatchOrder).filter(DispatchOrder.policy_id == policy.id).order_by(DispatchOrder.id.desc())
    )


class DispatchOrderView(OrderListView):
    """派单管理 (insurer 二.6, org 三.2): search, export, 再派单, 派单 to an expert."""

    route_base = "/orders"
    class_permission_name = "DispatchOrder"
    method_permission_name = dict(
        OrderListView.method_permission_name, redispatch="dispatch", assign="assign", export="export"
    )
    list_title = _("派单管理")
    list_columns = ["order_no", "project.name", "org", "expert", "deadline", "service_items_text", "status"]
    export_columns = [
        ("order_no", _("派单号")),
        ("project.name", _("项目名称")),
        ("project.project_code", _("项目代码")),
        ("enterprise.name", _("施工企业")),
        ("insurer.short_name", _("派单机构")),
        ("org.name", _("承接单位")),
        ("expert.name", _("事故预防专家")),
        ("service_place", _("服务地点")),
        ("service_items_text", _("服务内容")),
        ("start_date", _("开始日期")),
        ("end_date", _("结束日期")),
        ("deadline", _("截止日期")),
        ("fee", _("事故预防费(元)")),
        ("status", _("状态"), O),
        ("created_at", _("派单时间")),
    ]

    def list_tools(self, state):
        tools = super().list_tools(state)
        # FAB's search form: its filter arguments go with the export (the list's own rows)
        args = {k: v for k, v in request.args.items() if k.startswith("_flt_")}
        return [Button(t.label, t.url + "".join(f"&{k}={v}" for k, v in args.items()), style=t.style, id=t.id)
                for t in tools]  # fmt: skip

    @expose("/redispatch/<pk>", methods=["GET", "POST"])
    @has_access
    def redispatch(self, pk):
        order = get_scoped_or_404(DispatchOrder, pk)
        errors, form = {}, request.form
        if request.method == "GET":  # the form starts from the refused order, every field editable
            form = MultiDict(order_service.redispatch_defaults(order))
        if request.method == "POST":
            try:
                new = order_service.redispatch(order.id, g.user, dispatch_data())
            except ServiceError as exc:
                errors = flash_service_error(exc)
            else:
                return self.done(_("再派单成功：%(no)s", no=new.order_no))
        return self.render_template(
            "prevention/dispatch_form.html",
            policies=[order.policy],
            errors=errors,
            form=form,
            title=_("再派单"),
            previous=order,
            action=url_for("DispatchOrderView.redispatch", pk=order.id),
            **order_service.dispatch_targets(g.user),
            **TEMPLATE_HELPERS,
        )

    @expose("/assign/<pk>", methods=["GET", "POST"])
    @has_access
    def assign(self, pk):
        order = get_scoped_or_404(DispatchOrder, pk)
        if request.method == "POST":
            try:
                order_service.assign(order.id, g.user, request.form.get("expert_id"))
            except ServiceError as exc:
                flash_service_error(exc)
            else:
                return self.done(_("已派单给专家"))
        eligible, below = order_service.assignable_experts(order, g.user)
        return self.render_template(
            "prevention/assign_form.html",
            order=order,
            title=_("派单"),
            experts=eligible,
            below=below,
            **TEMPLATE_HELPERS,
        )


class ReceivedOrderView(OrderListView):
    """承接项目 of a prevention org (三.1): 同意 / 拒绝, then 派单 to an expert."""

    route_base = "/org/received"
    class_permission_name = "ReceivedOrder"
    method_permission_name = dict(OrderListView.method_permission_name, accept="accept", refuse="accept")
    list_title = _("承接项目")
    label_columns = dict(OrderListView.label_columns, order_no=_("接单号"))

    @expose("/accept/<pk>", methods=["POST"])
    @has_access
    def accept(self, pk):
        return self.run_accept(order_service.accept, pk, _("已承接该事故预防服务单"))

    @expose("/refuse/<pk>", methods=["GET", "POST"])
    @has_access
    def refuse(self, pk):
        return self.run_refuse(order_service.refuse, pk, _("已拒绝该事故预防服务单"))


__all__ = ["DispatchOrderView", "InsuredProjectView", "ReceivedOrderView"]
