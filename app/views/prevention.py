"""事故预防 pages of every role (manual 二.5–9, 三, 四, 一.4–5).

Lists are scoped ModelViews with an 操作 column whose buttons come from the ORDER workflow table;
every action posts to a thin endpoint that calls app/services and maps its errors to a message.
"""

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterInFunction
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.urltools import get_filter_args
from flask_appbuilder.widgets import ListWidget
from flask_babel import lazy_gettext as _
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from sqlalchemy import false, or_, select

from app import clock
from app.extensions import db
from app.models import (
    DispatchOrder,
    Expert,
    FlowEvent,
    Hazard,
    HazardCategory,
    MajorHazardStandard,
    Policy,
    PreventionOrg,
    ServiceItem,
    TitleLevel,
)
from app.models.enums import (
    HazardLevel,
    HazardStatus,
    PolicyStatus,
    ReviewStage,
    Verdict,
)
from app.models.enums import (
    OrderStatus as O,
)
from app.models.enums import (
    PartyKind as P,
)
from app.security.scope import get_scoped, get_scoped_or_404, party_of, scoped
from app.services import experts as expert_service
from app.services import orders as order_service
from app.services import reviews as review_service
from app.services import visits
from app.services.base import NotFound, ServiceError
from app.workflows import HAZARD, ORDER

from .base import READ_ONLY, ScopedModelView
from .formatters import choice, money

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
}

EXPERT_LABELS = {
    "name": _("姓名"),
    "mobile": _("联系方式"),
    "id_number": _("身份证号"),
    "title_level": _("职称"),
    "qualification": _("执业资质"),
    "residence": _("常驻地点"),
    "service_area": _("服务地点"),
    "affiliation": _("所属机构"),
    "org": _("所属机构"),
    "company": _("所属保险机构"),
    "active": _("在约"),
}


def _statuses(*values):
    return lambda: list(values)


def current_user():
    return g.user


def _can(permission, resource):
    return current_app.appbuilder.sm.has_access("can_" + permission, resource)


def _form_list(name):
    return [v for v in request.form.getlist(name) if v]


def _fail(exc, default=None):
    if isinstance(exc, NotFound):
        abort(404)  # an out-of-scope id is indistinguishable from a missing one
    flash(str(exc.message) if isinstance(exc, ServiceError) else str(default or exc), "danger")


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


class ReviewStageFilter(BaseFilter):
    """报告审核 lists what awaits the user's own stage: the org's 待审核, the insurer's 待保险机构审核."""

    name = "review stage"

    def apply(self, query, value):
        kind = party_of().kind
        wanted = {P.ORG: [O.ORG_REVIEW], P.INSURER: [O.INSURER_REVIEW], P.BROKER: [O.INSURER_REVIEW]}.get(
            kind, [O.ORG_REVIEW, O.INSURER_REVIEW]
        )
        return query.filter(DispatchOrder.status.in_(wanted))


class ActionListWidget(ListWidget):
    """FAB's list with extra cells per row (status, 操作) and optional row checkboxes."""

    template = "prevention/widgets/action_list.html"


def _button(label, url, post=False, confirm=None, style="default"):
    label = escape(str(label))
    if not post:
        return Markup('<a class="btn btn-xs btn-%s" href="%s">%s</a>') % (style, url, label)
    onsubmit = Markup(" onsubmit=\"return confirm('%s')\"") % escape(str(confirm)) if confirm else ""
    return Markup(
        '<form method="post" action="%s" class="azx-inline"%s>'
        '<input type="hidden" name="csrf_token" value="%s">'
        '<button type="submit" class="btn btn-xs btn-%s">%s</button></form>'
    ) % (url, onsubmit, generate_csrf(), style, label)


def order_buttons(order, view_name, party):
    """The 操作 buttons for one order: 详情, 流程 and whatever the ORDER table allows this party now."""
    buttons = [
        _button(_("详情"), url_for(f"{view_name}.show", pk=order.id)),
        _button(_("流程"), url_for(f"{view_name}.flow", pk=order.id)),
    ]
    names = {t.name for t in ORDER.available(party.kind, order.status)}
    if "accept" in names and _can("accept", "ReceivedOrder"):
        buttons.append(
            _button(
                _("同意"),
                url_for("ReceivedOrderView.accept", pk=order.id),
                post=True,
                confirm=_("确定承接该事故预防服务单？"),
                style="success",
            )
        )
        buttons.append(_button(_("拒绝"), url_for("ReceivedOrderView.refuse", pk=order.id), style="danger"))
    if "redispatch" in names and _can("dispatch", "DispatchOrder"):
        buttons.append(_button(_("再派单"), url_for("DispatchOrderView.redispatch", pk=order.id), style="primary"))
    if "assign" in names and _can("assign", "DispatchOrder") and (party.kind == P.ORG or not order.org_id):
        buttons.append(_button(_("派单"), url_for("DispatchOrderView.assign", pk=order.id), style="primary"))
    if "expert_accept" in names and _can("handle", "ExpertTask"):
        buttons.append(
            _button(
                _("同意"),
                url_for("ExpertTodoView.accept", pk=order.id),
                post=True,
                confirm=_("确定接受该事故预防服务单？"),
                style="success",
            )
        )
        buttons.append(_button(_("拒绝"), url_for("ExpertTodoView.refuse", pk=order.id), style="danger"))
    if names & {"submit_report", "verify"} and _can("handle", "ExpertTask"):
        buttons.append(
            _button(
                _("验收") if "verify" in names else _("处理"),
                url_for("ExpertTodoView.handle", pk=order.id),
                style="primary",
            )
        )
    if "submit_rectification" in names and _can("rectify", "EnterpriseTask"):
        buttons.append(_button(_("整改"), url_for("EnterpriseTodoView.show", pk=order.id), style="primary"))
    if names & {"org_pass", "insurer_pass"} and _can("review", "ReportReview"):
        buttons.append(_button(_("审核"), url_for("ReportReviewView.review", pk=order.id), style="primary"))
    if order.status == O.COMPLETED and _can("read", "Report") and view_name != "ReportView":
        buttons.append(_button(_("查看报告"), url_for("ReportView.show", pk=order.id)))
    return Markup(" ").join(buttons)


def _timeline(orders):
    """FlowEvents of the orders and their hazards, through the scope, oldest first."""
    order_ids = [o.id for o in orders]
    hazard_ids = db.session.scalars(select(Hazard.id).where(Hazard.order_id.in_(order_ids))).all()
    query = db.session.query(FlowEvent).filter(
        or_(
            (FlowEvent.entity_type == ORDER.entity_type) & FlowEvent.entity_id.in_(order_ids),
            (FlowEvent.entity_type == "hazard") & FlowEvent.entity_id.in_(hazard_ids or [-1]),
        )
    )
    return scoped(query, FlowEvent).order_by(FlowEvent.id).all()


def _chain(order):
    """The order and the orders it re-dispatched, newest first (those the user may see)."""
    chain, seen = [order], {order.id}
    node = order
    while node.parent_id and node.parent_id not in seen:
        node = get_scoped(DispatchOrder, node.parent_id)
        if node is None:
            break
        chain.append(node)
        seen.add(node.id)
    return chain


ACTION_LABELS = {
    **{t.name: t.label for t in HAZARD.transitions.values()},
    **{t.name: t.label for t in ORDER.transitions.values()},
    "dispatch": _("派单"),
    "sign_in": _("签到"),
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


class _OrderList(ScopedModelView):
    datamodel = SQLAInterface(DispatchOrder)
    list_widget = ActionListWidget
    method_permission_name = dict(READ_ONLY, flow="read")
    base_permissions = None
    list_columns = ["order_no", "project.name", "project.project_code", "deadline", "service_items_text", "status"]
    search_columns = ["order_no", "project", "org", "status"]
    label_columns = ORDER_LABELS
    formatters_columns = {"status": choice(O), "fee": money}
    base_order = ("id", "desc")
    detail_template = "prevention/order_detail.html"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if "status" in self.search_columns:
            label_filter = [ChoiceLabelFilter("status", self.datamodel)]
            self._filters.get_search_filters()["status"] = label_filter
            self._filters._all_filters["status"] = label_filter  # FAB resolves _flt_<i>_status here

    def _get_list_widget(self, filters, **kwargs):
        widgets = super()._get_list_widget(filters, **kwargs)
        widget = widgets["list"]
        pks = [int(pk) for pk in widget.template_args.get("pks", [])]
        widget.template_args.update(self.row_extras(pks))
        return widgets

    def row_extras(self, pks):
        # The page's orders were just loaded by the (scoped) list query: taken from the session's
        # identity map, not queried again.
        orders = {pk: order for pk in pks if (order := db.session.get(DispatchOrder, pk)) is not None}
        party, name = party_of(), type(self).__name__
        return {
            "extra_headers": [_("操作")],
            "extra_cells": {pk: [order_buttons(orders[pk], name, party)] for pk in pks if pk in orders},
        }

    def render_detail(self, order, template=None, **extra):
        return self.render_template(
            template or self.detail_template,
            order=order,
            visit=order.visit,
            hazards=order.hazards,
            reviews=order.reviews,
            buttons=order_buttons(order, type(self).__name__, party_of()),
            title=self.list_title,
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
        order = get_scoped_or_404(DispatchOrder, pk)
        orders = _chain(order)
        return self.render_template(
            "prevention/flow.html",
            orders=orders,
            events=_timeline(orders),
            title=_("流程"),
            back=url_for(f"{type(self).__name__}.list"),
            **TEMPLATE_HELPERS,
        )

    def _done(self, message):
        flash(str(message), "success")
        return redirect(url_for(f"{type(self).__name__}.list"))

    def _accept(self, service, pk, message):
        """同意 (POST): the service, then back to the list with its message."""
        try:
            service(pk, current_user())
        except ServiceError as exc:
            _fail(exc)
            return redirect(url_for(f"{type(self).__name__}.list"))
        return self._done(message)

    def _refuse(self, service, pk, message):
        """拒绝: a form asking the reason (GET), the service (POST)."""
        if request.method == "POST":
            try:
                service(pk, current_user(), request.form.get("reason"))
            except ServiceError as exc:
                _fail(exc)
            else:
                return self._done(message)
        order = get_scoped_or_404(DispatchOrder, pk)
        return self.render_template(
            "prevention/reason_form.html", order=order, title=_("拒绝派单"), action_label=_("拒绝"), **TEMPLATE_HELPERS
        )


def _dispatch_choices(party):
    orgs = db.session.scalars(
        select(PreventionOrg).where(PreventionOrg.active.is_(True)).order_by(PreventionOrg.id)
    ).all()
    experts = []
    if party.kind == P.INSURER:
        experts = db.session.scalars(
            select(Expert).where(Expert.company_id == party.id, Expert.active.is_(True)).order_by(Expert.name)
        ).all()
    items = db.session.scalars(
        select(ServiceItem).where(ServiceItem.active.is_(True)).order_by(ServiceItem.sort_order)
    ).all()
    titles = db.session.scalars(select(TitleLevel).order_by(TitleLevel.rank)).all()
    return dict(orgs=orgs, own_experts=experts, service_items=items, titles=titles)


def _dispatch_data():
    f = request.form
    target = f.get("target", "")
    kind, _sep, target_id = target.partition(":")
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
    list_widget = ActionListWidget
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
    ]
    search_columns = ["policy_no", "project_name", "enterprise"]
    label_columns = {
        "policy_no": _("保单号"),
        "project_name": _("项目名称"),
        "project_code": _("项目代码"),
        "insurer": _("承保企业"),
        "enterprise": _("施工企业名称"),
        "start_date": _("保单起期"),
        "end_date": _("保单止期"),
        "status": _("投保状态"),
    }
    formatters_columns = {"status": choice(PolicyStatus)}
    base_order = ("id", "desc")

    def _get_list_widget(self, filters, **kwargs):
        widgets = super()._get_list_widget(filters, **kwargs)
        widget = widgets["list"]
        pks = [int(pk) for pk in widget.template_args.get("pks", [])]
        latest = {}
        rows = scoped(
            db.session.query(DispatchOrder).filter(DispatchOrder.policy_id.in_(pks or [-1])), DispatchOrder
        ).order_by(DispatchOrder.id)
        for order in rows:
            latest[order.policy_id] = order
        status_fmt = choice(O)
        cells = {}
        for pk in pks:
            order = latest.get(pk)
            status = status_fmt(order.status) if order else Markup('<span class="text-muted">%s</span>') % _("未派单")
            buttons = [_button(_("详情"), url_for("InsuredProjectView.show", pk=pk))]
            if order:
                buttons.append(_button(_("流程"), url_for("InsuredProjectView.flow", pk=pk)))
            cells[pk] = [status, Markup(" ").join(buttons)]
        widget.template_args.update(extra_headers=[_("事故预防状态"), _("操作")], extra_cells=cells)
        if _can("dispatch", "InsuredProject") and party_of().kind == P.INSURER:
            widget.template_args.update(select_action=url_for("InsuredProjectView.dispatch"), select_label=_("派单"))
        return widgets

    def _policy_page(self, pk, title, with_timeline):
        policy = get_scoped_or_404(Policy, pk)
        orders = (
            scoped(db.session.query(DispatchOrder).filter(DispatchOrder.policy_id == policy.id), DispatchOrder)
            .order_by(DispatchOrder.id.desc())
            .all()
        )
        return self.render_template(
            "prevention/flow.html",
            orders=orders,
            policy=policy,
            title=title,
            events=_timeline(orders) if with_timeline else None,
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
        party = party_of()
        ids = [i for i in (request.values.getlist("ids") or []) if str(i).isdigit()]
        policies = [p for p in (get_scoped(Policy, i) for i in ids) if p is not None]
        if not policies:
            flash(str(_("请先勾选要派单的投保项目")), "warning")
            return redirect(url_for("InsuredProjectView.list"))
        errors, form = {}, request.form
        if request.method == "POST":
            data = _dispatch_data()
            try:
                created = order_service.dispatch(current_user(), [p.id for p in policies], data)
            except ServiceError as exc:
                _fail(exc)
                errors = exc.errors
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
            **_dispatch_choices(party),
        )


class DispatchOrderView(_OrderList):
    """派单管理 (insurer 二.6, org 三.2): search, export, 再派单, 派单 to an expert."""

    route_base = "/orders"
    class_permission_name = "DispatchOrder"
    method_permission_name = dict(
        _OrderList.method_permission_name, redispatch="dispatch", assign="assign", export="export"
    )
    list_title = _("派单管理")
    list_template = "prevention/order_list.html"
    list_columns = ["order_no", "project.name", "org", "expert", "deadline", "service_items_text", "status"]
    search_columns = ["order_no", "project", "org", "status"]
    export_columns = [
        (_("派单号"), lambda o: o.order_no),
        (_("项目名称"), lambda o: o.project.name),
        (_("项目代码"), lambda o: o.project.project_code),
        (_("施工企业"), lambda o: o.enterprise.name),
        (_("派单机构"), lambda o: o.insurer.short_name),
        (_("承接单位"), lambda o: o.org.name if o.org else ""),
        (_("事故预防专家"), lambda o: o.expert.name if o.expert else ""),
        (_("服务地点"), lambda o: o.service_place),
        (_("服务内容"), lambda o: o.service_items_text),
        (_("开始日期"), lambda o: o.start_date),
        (_("结束日期"), lambda o: o.end_date),
        (_("截止日期"), lambda o: o.deadline),
        (_("事故预防费(元)"), lambda o: o.fee),
        (_("状态"), lambda o: str(O.label(o.status))),
        (_("派单时间"), lambda o: clock.fmt(o.created_at)),
    ]

    @expose("/export")
    @has_access
    def export(self):
        from app.reports.export import export_response

        get_filter_args(self._filters)
        joined = self._filters.get_joined_filters(self._base_filters)
        order_column, order_direction = self.base_order
        query = self.datamodel.apply_all(
            self.datamodel.session.query(DispatchOrder), joined, order_column, order_direction
        )
        fmt = "csv" if request.args.get("fmt") == "csv" else "xlsx"
        return export_response(query, self.export_columns, str(_("派单管理")), fmt)

    @expose("/redispatch/<pk>", methods=["GET", "POST"])
    @has_access
    def redispatch(self, pk):
        order = get_scoped_or_404(DispatchOrder, pk)
        errors, form = {}, request.form
        if request.method == "POST":
            try:
                new = order_service.redispatch(order.id, current_user(), _dispatch_data())
            except ServiceError as exc:
                _fail(exc)
                errors = exc.errors
            else:
                return self._done(_("再派单成功：%(no)s", no=new.order_no))
        return self.render_template(
            "prevention/dispatch_form.html",
            policies=[order.policy],
            errors=errors,
            form=form,
            title=_("再派单"),
            previous=order,
            action=url_for("DispatchOrderView.redispatch", pk=order.id),
            **_dispatch_choices(party_of()),
            **TEMPLATE_HELPERS,
        )

    @expose("/assign/<pk>", methods=["GET", "POST"])
    @has_access
    def assign(self, pk):
        order = get_scoped_or_404(DispatchOrder, pk)
        if request.method == "POST":
            try:
                order_service.assign(order.id, current_user(), request.form.get("expert_id"))
            except ServiceError as exc:
                _fail(exc)
            else:
                return self._done(_("已派单给专家"))
        party = party_of()
        owner = Expert.org_id == order.org_id if order.org_id else Expert.company_id == order.insurer_id
        experts = (
            scoped(db.session.query(Expert).filter(owner, Expert.active.is_(True)), Expert).order_by(Expert.name).all()
        )
        required = order.required_title.rank if order.required_title else 0
        return self.render_template(
            "prevention/assign_form.html",
            order=order,
            title=_("派单"),
            party=party,
            experts=[e for e in experts if e.title_level.rank >= required],
            below=[e for e in experts if e.title_level.rank < required],
            **TEMPLATE_HELPERS,
        )


class ReceivedOrderView(_OrderList):
    """承接项目 of a prevention org (三.1): 同意 / 拒绝, then 派单 to an expert."""

    route_base = "/org/received"
    class_permission_name = "ReceivedOrder"
    method_permission_name = dict(_OrderList.method_permission_name, accept="accept", refuse="accept")
    list_title = _("承接项目")
    list_columns = ["order_no", "project.name", "project.project_code", "deadline", "service_items_text", "status"]

    @expose("/accept/<pk>", methods=["POST"])
    @has_access
    def accept(self, pk):
        return self._accept(order_service.accept, pk, _("已承接该事故预防服务单"))

    @expose("/refuse/<pk>", methods=["GET", "POST"])
    @has_access
    def refuse(self, pk):
        return self._refuse(order_service.refuse, pk, _("已拒绝该事故预防服务单"))


class ReportReviewView(_OrderList):
    """报告审核 (insurer 二.8, org 三.4): reports awaiting the user's own review."""

    route_base = "/report-review"
    class_permission_name = "ReportReview"
    method_permission_name = dict(_OrderList.method_permission_name, review="review")
    list_title = _("报告审核")
    list_columns = [
        "order_no",
        "project.name",
        "service_place",
        "service_items_text",
        "start_date",
        "end_date",
        "expert",
        "status",
    ]
    base_filters = [["status", ReviewStageFilter, None]]

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
                    review_service.review(
                        order.id, current_user(), verdict == Verdict.PASS, request.form.get("opinion")
                    )
                except ServiceError as exc:
                    _fail(exc)
                    errors = exc.errors
                else:
                    return self._done(_("审核完成"))
        return self.render_detail(order, review_form=True, errors=errors, form=request.form)


class ReportView(_OrderList):
    """查看报告 (insurer 二.9) and 报告列表 (department 五.6): finished service records and their PDF."""

    route_base = "/reports"
    class_permission_name = "Report"
    method_permission_name = dict(_OrderList.method_permission_name, pdf="download")
    list_title = _("查看报告")
    list_columns = [
        "order_no",
        "project.name",
        "service_place",
        "service_items_text",
        "start_date",
        "end_date",
        "expert",
        "status",
    ]
    base_filters = [["status", FilterInFunction, _statuses(O.COMPLETED)]]

    def render_detail(self, order, template=None, **extra):
        return super().render_detail(order, template, report_view=True, **extra)

    @expose("/pdf/<pk>")
    @has_access
    def pdf(self, pk):
        """The archived report PDF (rendered now for an order finished before archiving existed)."""
        from flask import send_file

        from app.reports.service_report_pdf import render_service_report
        from app.storage import get_storage

        order = get_scoped_or_404(DispatchOrder, pk)
        if order.status != O.COMPLETED:
            abort(404)
        name = f"事故预防服务报告_{order.order_no}.pdf"
        stored = order.visit.report_file if order.visit else None
        if stored is not None:
            fh = get_storage().open(stored.key)
        else:
            import io

            fh = io.BytesIO(render_service_report(order))
        response = send_file(fh, mimetype="application/pdf", as_attachment=True, download_name=name, max_age=0)
        response.headers["Cache-Control"] = "private, no-store"
        return response


class ExpertTodoView(_OrderList):
    """待办任务 of an expert (四.1): 同意 / 拒绝, 处理 (签到, hazards, record, 提交报告), 验收."""

    scope_model = {"hid": Hazard}  # hazard ids in URLs are scoped as hazards (tests/security)
    route_base = "/expert/todo"
    class_permission_name = "ExpertTask"
    method_permission_name = dict(
        _OrderList.method_permission_name,
        accept="handle",
        refuse="handle",
        handle="handle",
        signin="handle",
        save="handle",
        hazard="handle",
        hazard_delete="handle",
        submit="handle",
        verify="handle",
    )
    list_title = _("待办任务")
    list_columns = [
        "order_no",
        "project.name",
        "service_place",
        "service_items_text",
        "deadline",
        "insurer",
        "org",
        "status",
    ]
    label_columns = dict(ORDER_LABELS, org=_("派单机构"), insurer=_("保险机构"))
    base_filters = [["status", FilterInFunction, _statuses(O.ASSIGNED, O.IN_SERVICE, O.VERIFYING)]]

    def _back(self, pk):
        return redirect(url_for("ExpertTodoView.handle", pk=pk))

    @expose("/accept/<pk>", methods=["POST"])
    @has_access
    def accept(self, pk):
        return self._accept(order_service.expert_accept, pk, _("已接受该事故预防服务单"))

    @expose("/refuse/<pk>", methods=["GET", "POST"])
    @has_access
    def refuse(self, pk):
        return self._refuse(order_service.expert_refuse, pk, _("已拒绝，服务单退回派单机构"))

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
            editable=order.status == O.IN_SERVICE,
            verifying=order.status == O.VERIFYING,
            **TEMPLATE_HELPERS,
        )

    def _call(self, pk, func, message):
        try:
            func()
        except ServiceError as exc:
            _fail(exc)
        else:
            flash(str(message), "success")
        return self._back(pk)

    @expose("/signin/<pk>", methods=["POST"])
    @has_access
    def signin(self, pk):
        f = request.form
        return self._call(
            pk,
            lambda: visits.sign_in(pk, current_user(), request.files.get("photo"), lat=f.get("lat"), lon=f.get("lon")),
            _("签到成功"),
        )

    @expose("/save/<pk>", methods=["POST"])
    @has_access
    def save(self, pk):
        return self._call(pk, lambda: visits.save_report(pk, current_user(), request.form), _("已保存"))

    @expose("/hazard/<pk>", methods=["POST"])
    @has_access
    def hazard(self, pk):
        return self._call(
            pk,
            lambda: visits.add_hazard(pk, current_user(), request.form, request.files.getlist("photos")),
            _("隐患已记录"),
        )

    @expose("/hazard-delete/<hid>", methods=["POST"])
    @has_access
    def hazard_delete(self, hid):
        hazard = get_scoped_or_404(Hazard, hid)
        return self._call(hazard.order_id, lambda: visits.remove_hazard(hazard.id, current_user()), _("隐患已删除"))

    @expose("/submit/<pk>", methods=["POST"])
    @has_access
    def submit(self, pk):
        try:
            order = visits.submit_report(pk, current_user())
        except ServiceError as exc:
            _fail(exc)
            return self._back(pk)
        return self._done(_("报告已提交：%(s)s", s=O.label(order.status)))

    @expose("/verify/<hid>", methods=["POST"])
    @has_access
    def verify(self, hid):
        hazard = get_scoped_or_404(Hazard, hid)
        passed = request.form.get("passed") == "1"
        return self._call(
            hazard.order_id,
            lambda: visits.verify(hazard.id, current_user(), passed, request.form.get("note")),
            _("验收已记录"),
        )


class ExpertDoneView(_OrderList):
    """已办任务 of an expert (四.2)."""

    route_base = "/expert/done"
    class_permission_name = "ExpertTask"
    list_title = _("已办任务")
    list_columns = ExpertTodoView.list_columns
    label_columns = ExpertTodoView.label_columns
    base_filters = [
        [
            "status",
            FilterInFunction,
            _statuses(O.RECTIFYING, O.ORG_REVIEW, O.INSURER_REVIEW, O.COMPLETED, O.EXPERT_REFUSED),
        ]
    ]


ENTERPRISE_COLUMNS = [
    "order_no",
    "project.name",
    "service_place",
    "service_items_text",
    "start_date",
    "end_date",
    "insurer",
    "org",
    "expert",
    "expert.mobile",
    "status",
]
ENTERPRISE_LABELS = dict(ORDER_LABELS, expert=_("专家负责人"), **{"expert.mobile": _("联系方式")})


class EnterpriseTodoView(_OrderList):
    """待办任务 of an enterprise (一.4): the 安全隐患 table; 整改情况 per hazard; 提交整改."""

    scope_model = {"hid": Hazard}  # hazard ids in URLs are scoped as hazards (tests/security)
    route_base = "/enterprise/todo"
    class_permission_name = "EnterpriseTask"
    method_permission_name = dict(_OrderList.method_permission_name, rectify="rectify", submit="rectify")
    list_title = _("待办任务")
    list_columns = ENTERPRISE_COLUMNS
    label_columns = ENTERPRISE_LABELS
    detail_template = "prevention/rectify.html"
    base_filters = [["status", FilterInFunction, _statuses(O.RECTIFYING)]]

    def render_detail(self, order, template=None, **extra):
        editable = order.status == O.RECTIFYING and _can("rectify", "EnterpriseTask")
        return super().render_detail(order, template, editable=editable, **extra)

    @expose("/rectify/<hid>", methods=["POST"])
    @has_access
    def rectify(self, hid):
        hazard = get_scoped_or_404(Hazard, hid)
        try:
            visits.rectify(hazard.id, current_user(), request.form.get("text"), request.files.getlist("photos"))
        except ServiceError as exc:
            _fail(exc)
        else:
            flash(str(_("第 %(seq)s 项整改情况已保存", seq=hazard.seq)), "success")
        return redirect(url_for("EnterpriseTodoView.show", pk=hazard.order_id))

    @expose("/submit/<pk>", methods=["POST"])
    @has_access
    def submit(self, pk):
        try:
            visits.submit_rectification(pk, current_user())
        except ServiceError as exc:
            _fail(exc)
            return redirect(url_for("EnterpriseTodoView.show", pk=pk))
        return self._done(_("整改已提交，等待专家验收"))


class EnterpriseDoneView(_OrderList):
    """已办任务 of an enterprise (一.5)."""

    route_base = "/enterprise/done"
    class_permission_name = "EnterpriseTask"
    list_title = _("已办任务")
    list_columns = ENTERPRISE_COLUMNS
    label_columns = ENTERPRISE_LABELS
    detail_template = "prevention/rectify.html"
    base_filters = [["status", FilterInFunction, _statuses(O.VERIFYING, O.ORG_REVIEW, O.INSURER_REVIEW, O.COMPLETED)]]


class ExpertView(ScopedModelView):
    """专业技术人员 (insurer 二.7, org 三.3): list, 详情 with scans, add, 删除 = 解约."""

    route_base = "/experts"
    datamodel = SQLAInterface(Expert)
    class_permission_name = "Expert"
    method_permission_name = dict(READ_ONLY, new="write", terminate="write")
    base_permissions = None
    list_widget = ActionListWidget
    list_template = "prevention/expert_list.html"
    list_title = _("专业技术人员")
    list_columns = ["name", "mobile", "title_level", "qualification", "service_area", "affiliation", "active"]
    search_columns = ["name", "title_level", "active"]
    label_columns = EXPERT_LABELS
    formatters_columns = {"active": lambda v: _("在约") if v else _("已解约")}
    base_order = ("id", "desc")

    def _get_list_widget(self, filters, **kwargs):
        widgets = super()._get_list_widget(filters, **kwargs)
        widget = widgets["list"]
        pks = [int(pk) for pk in widget.template_args.get("pks", [])]
        party = party_of()
        can_write = _can("write", "Expert")
        experts = {e.id: e for e in scoped(db.session.query(Expert).filter(Expert.id.in_(pks or [-1])), Expert)}
        cells = {}
        for pk, e in experts.items():
            buttons = [_button(_("详情"), url_for("ExpertView.show", pk=pk))]
            own = (party.kind == P.ORG and e.org_id == party.id) or (
                party.kind == P.INSURER and e.company_id == party.id
            )
            if can_write and own and e.active:
                buttons.append(
                    _button(
                        _("删除"),
                        url_for("ExpertView.terminate", pk=pk),
                        post=True,
                        style="danger",
                        confirm=_("删除即解约：%(name)s 将不能再接受派单，历史记录保留。确定解约？", name=e.name),
                    )
                )
            cells[pk] = [Markup(" ").join(buttons)]
        widget.template_args.update(extra_headers=[_("操作")], extra_cells=cells)
        return widgets

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        expert = get_scoped_or_404(Expert, pk)
        return self.render_template(
            "prevention/expert_detail.html", expert=expert, labels=EXPERT_LABELS, title=_("专业技术人员详情")
        )

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        errors = {}
        if request.method == "POST":
            try:
                expert = expert_service.create_expert(
                    current_user(), request.form, request.files.get("id_file"), request.files.get("cert_file")
                )
            except ServiceError as exc:
                _fail(exc)
                errors = exc.errors
            else:
                flash(str(_("已添加专业技术人员 %(name)s", name=expert.name)), "success")
                return redirect(url_for("ExpertView.list"))
        titles = db.session.scalars(select(TitleLevel).order_by(TitleLevel.rank)).all()
        return self.render_template(
            "prevention/expert_form.html",
            titles=titles,
            errors=errors,
            form=request.form,
            labels=EXPERT_LABELS,
            title=_("添加专业技术人员"),
        )

    @expose("/terminate/<pk>", methods=["POST"])
    @has_access
    def terminate(self, pk):
        try:
            expert = expert_service.terminate(pk, current_user())
        except ServiceError as exc:
            _fail(exc)
        else:
            flash(str(_("已与 %(name)s 解约", name=expert.name)), "success")
        return redirect(url_for("ExpertView.list"))
