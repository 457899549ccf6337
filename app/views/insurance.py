"""投保信息, 保单信息, 理赔 and 保单台帐 (manual 二.1–4), and the enterprise's 在线填报 (一.3.1).

One view per list serves every role: the scope decides the rows, the workflow table the buttons. The
lists are declarations on ScopedModelView (FAB's list and pager, the manual's 查询 bar, the export).
"""

from io import BytesIO

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from sqlalchemy import or_, select

from app import clock
from app.daos.applications import status_totals
from app.daos.flow import events_of
from app.extensions import db
from app.models import Application, Claim, InsuranceCompany, Plan, Policy, Project
from app.models.enums import ApplicationStatus, CompanyKind, FileKind, PolicyStatus, ProjectInsuranceStatus
from app.models.enums import PartyKind as P
from app.models.insurance import APPLICATION_FILE_SLOTS
from app.reports.download import send_download
from app.security.scope import OwnPartyFilter, get_scoped_or_404, party_of
from app.services import applications as application_service
from app.services import claims as claim_service
from app.services import policies as policy_service
from app.services.base import Invalid, ServiceError
from app.workflows import APPLICATION, POLICY

from .base import READ_ONLY, Label, ScopedModelView, flash_service_error
from .buttons import Button, may, workflow_buttons
from .formatters import choice, money
from .search import Choice, Text

FLOW_ACTIONS = {
    "submit": _("提交保单"),
    "approve": _("复审通过"),
    "reject": _("复审不通过"),
    "issue_policy": _("提交"),
    "expire": _("到期"),
    "surrender": _("退保"),
    "issue": _("出单"),
    "claim_add": _("新增理赔"),
    "claim_update": _("修改理赔"),
}


def timeline_rows(pairs):
    """The 流程 rows of the given rows (entity_type, id), through the FlowEvent scope."""
    return [
        dict(
            time=clock.fmt_seconds(e.created_at),
            action=FLOW_ACTIONS.get(e.action, e.action),
            who=" ".join(x for x in (e.party_name, e.username or str(_("系统"))) if x),
            status=_status_text(e.from_status) + (" → " + _status_text(e.to_status) if e.to_status else ""),
            comment=e.comment or "",
        )
        for e in events_of([(kind, [pk]) for kind, pk in pairs])
    ]


def _status_text(value):
    return str(ProjectInsuranceStatus.label(value)) if value else ""


def application_file_entries(app):
    return [(application_service.slot_label(slot), getattr(app, slot + "_file")) for slot in APPLICATION_FILE_SLOTS]


def policy_file_entries(policy):
    return [
        (FileKind.label("policy_file"), policy.policy_file),
        (FileKind.label("agreement_file"), policy.agreement_file),
    ]


# ---------------------------------------------------------------- 投保信息


class ApplicationView(ScopedModelView):
    """投保信息 (manual 二.1) for insurers and brokers, and the enterprise's 在线填报 (一.3.1)."""

    route_base = "/applications"
    datamodel = SQLAInterface(Application)
    class_permission_name = "Application"
    method_permission_name = dict(
        READ_ONLY,
        export="export",
        bundle="download",
        accidents="read",
        review="review",
        issue="issue",
        fill="write",
        agreement="write",
        withdraw="write",
    )
    list_title = _("投保信息")
    list_template = "insurance/application_list.html"
    list_table_id = "application-list"
    list_columns = [
        "project.name",
        "project.project_code",
        "plan.code",
        "project.investment",
        "contact_phone",
        "status",
    ]
    label_columns = {
        "project.name": _("项目名称"),
        "project.project_code": _("项目代码"),
        "plan.code": _("方案"),
        "project.investment": _("投资规模"),
        "contact_phone": _("联系电话"),
        "status": _("投保状态"),
    }
    formatters_columns = {"status": choice(ApplicationStatus), "project.investment": money}
    search_bar = [
        Text("enterprise", _("施工企业名称"), "enterprise"),
        Text("project", _("项目名称"), "project"),
        Choice("status", _("投保状态"), "status", ApplicationStatus),
    ]
    export_columns = [
        ("enterprise.name", _("施工企业名称")),
        ("project.name", _("项目名称")),
        ("project.project_code", _("项目代码")),
        ("plan.code", _("方案")),
        ("project.investment", _("投资规模(万元)")),
        ("contact_phone", _("联系电话")),
        ("insurer.short_name", _("保险机构")),
        ("broker.short_name", _("经纪公司")),
        ("status", _("投保状态"), ApplicationStatus),
        ("submitted_at", _("提交时间")),
        ("review_opinion", _("审核意见")),
    ]
    base_order = ("id", "desc")

    def row_buttons(self, app, party):
        """The 操作 column: the workflow's buttons (审核, 提交, 修改), then 详情 and 事故."""
        buttons = workflow_buttons(APPLICATION, app, party)
        buttons += super().row_buttons(app, party)
        if party.kind != P.ENTERPRISE:
            buttons.append(Button(_("事故"), url_for("ApplicationView.accidents", pk=app.id)))
        return buttons

    def list_context(self, state):
        """The 统计 panel: count and investment per 投保状态 of the same filtered rows; the pager takes
        their total (exact), so the figures and 共 N 项 always agree."""
        party = party_of()
        filters = self.joined_filters(state)
        key = (
            party.kind,
            party.id,
            party.sees_all,
            party.region_prefix,
            party.user_id,
            tuple(sorted(state.search.items())),
        )
        stats, total = status_totals(lambda query: self.datamodel.apply_filters(query, filters), key)
        return {"stats": stats, "total": total, "count": total[0]}

    def _detail(self, app, template="insurance/application_show.html", **extra):
        party = party_of()
        policy = app.policy
        entities = [("application", app.id)] + ([("policy", policy.id)] if policy else [])
        files = application_file_entries(app) + (policy_file_entries(policy) if policy else [])
        return self.render_template(
            template,
            app=app,
            policy=policy,
            files=files,
            timeline=timeline_rows(entities),
            buttons=[b for b in self.row_buttons(app, party) if b.url != url_for("ApplicationView.show", pk=app.id)],
            can_download=may("download", self.class_permission_name),
            status_choice=ApplicationStatus,
            policy_status=policy.current_status() if policy else None,
            policy_choice=PolicyStatus,
            **extra,
        )

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        return self._detail(get_scoped_or_404(Application, pk))

    @expose("/<int:pk>/bundle")
    @has_access
    def bundle(self, pk):
        from app.reports.bundle import build_bundle

        app = get_scoped_or_404(Application, pk)
        handle, name = build_bundle(app)
        return send_download(handle, name, "application/zip")

    @expose("/<int:pk>/accidents")
    @has_access
    def accidents(self, pk):
        app = get_scoped_or_404(Application, pk)
        rules = db.session.scalars(select(policy_service.FloatRule).order_by(policy_service.FloatRule.sort_order))
        return self.render_template(
            "insurance/accidents.html",
            app=app,
            report=policy_service.accident_report(app.enterprise_id, g.user),
            proposal=policy_service.propose_premium(app),
            rules=rules.all(),
        )

    @expose("/<int:pk>/review", methods=["GET", "POST"])
    @has_access
    def review(self, pk):
        app = get_scoped_or_404(Application, pk)
        errors = {}
        if request.method == "POST":
            verdict, opinion = request.form.get("verdict"), request.form.get("opinion", "")
            try:
                if verdict == "approve":
                    application_service.approve(app.id, g.user, opinion)
                elif verdict == "reject":
                    application_service.reject(app.id, g.user, opinion)
                else:
                    raise Invalid(_("请选择审核结果"), errors={"verdict": [_("请选择审核结果")]})
            except ServiceError as exc:
                errors = flash_service_error(exc)
                db.session.expire_all()
                app = get_scoped_or_404(Application, pk)
            else:
                flash(_("审核结果已发送给建筑施工企业"), "success")
                return redirect(url_for("ApplicationView.list"))
        return self._detail(app, template="insurance/review.html", errors=errors, form=request.form)

    @expose("/<int:pk>/issue", methods=["GET", "POST"])
    @has_access
    def issue(self, pk):
        app = get_scoped_or_404(Application, pk)
        errors, form = {}, dict(request.form) if request.method == "POST" else None
        if request.method == "POST":
            try:
                policy = policy_service.issue_policy(app.id, g.user, dict(request.form), request.files)
            except ServiceError as exc:
                errors = flash_service_error(exc)
                db.session.expire_all()
                app = get_scoped_or_404(Application, pk)
            else:
                flash(_("保单已录入，项目已投保，已生成保单台帐 %(no)s", no=policy.ledger_no), "success")
                return redirect(url_for("PolicyView.show", pk=policy.id))
        plans = db.session.scalars(select(Plan).order_by(Plan.code, Plan.effective_from.desc())).all()
        proposal = policy_service.propose_premium(app)
        if form is None:
            form = dict(
                builder_name=app.project.builder_name or "",
                project_name=app.project.name,
                project_code=app.project.project_code,
                plan_id=str(app.plan_id),
                premium=str(proposal["proposed"]),
                start_date=str(app.project.planned_start or clock.today()),
                end_date=str(app.project.planned_end or ""),
            )
        return self.render_template(
            "insurance/issue.html",
            app=app,
            plans=plans,
            proposals={p.id: policy_service.propose_premium(app, p)["proposed"] for p in plans},
            proposal=proposal,
            tolerance=policy_service.premium_tolerance(),
            errors=errors,
            form=form,
        )

    @expose("/<int:pk>/withdraw", methods=["POST"])
    @has_access
    def withdraw(self, pk):
        """撤回 (enterprise): a submitted application not yet reviewed goes back to 草稿."""
        app = get_scoped_or_404(Application, pk)
        try:
            application_service.withdraw(app.id, g.user)
        except ServiceError as exc:
            flash_service_error(exc)
            return redirect(url_for("ApplicationView.show", pk=app.id))
        flash(_("投保申请已撤回，可修改后重新提交"), "success")
        return redirect(url_for("ProjectView.list"))

    # ---- 在线填报 (enterprise)

    @expose("/fill/<int:project_id>", methods=["GET", "POST"])
    @has_access
    def fill(self, project_id):
        project = get_scoped_or_404(Project, project_id)
        app = application_service.open_application(project.id)
        if app is not None and app.status not in application_service.EDITABLE_STATES:
            return redirect(url_for("ApplicationView.show", pk=app.id))
        errors = {}
        form = dict(request.form) if request.method == "POST" else None
        if request.method == "POST":
            try:
                app = application_service.save_application(
                    g.user, project.id, dict(request.form), request.files, application_id=app.id if app else None
                )
            except ServiceError as exc:
                errors = flash_service_error(exc)
                db.session.expire_all()
            else:
                if request.form.get("action") != "submit":
                    flash(_("草稿已保存"), "success")
                    return redirect(url_for("ApplicationView.fill", project_id=project.id))
                try:
                    application_service.submit(app.id, g.user)
                except ServiceError as exc:
                    flash(_("草稿已保存，但未能提交："), "warning")
                    errors = flash_service_error(exc)
                    db.session.expire_all()
                else:
                    flash(_("投保申请已提交，等待保险机构复审"), "success")
                    return redirect(url_for("ProjectView.list"))
            project = get_scoped_or_404(Project, project_id)
            if app is not None and app.id:
                app = db.session.get(Application, app.id)
        if form is None:
            form = dict(
                broker_id=str(app.broker_id or "") if app else "",
                insurer_id=str(app.insurer_id) if app else "",
                plan_id=str(app.plan_id) if app else "",
                contact_phone=app.contact_phone if app else (project.enterprise.contact_mobile or ""),
                agreed="1" if app and app.agreed else "",
            )
        companies = db.session.scalars(
            select(InsuranceCompany).where(InsuranceCompany.active.is_(True)).order_by(InsuranceCompany.login_order)
        ).all()
        plans = db.session.scalars(
            select(Plan).where(or_(Plan.effective_to.is_(None), Plan.effective_to >= clock.today())).order_by(Plan.code)
        ).all()
        return self.render_template(
            "insurance/application_form.html",
            project=project,
            app=app,
            form=form,
            errors=errors,
            brokers=[c for c in companies if c.kind == CompanyKind.BROKER],
            insurers=[c for c in companies if c.kind == CompanyKind.INSURER],
            plans=plans,
            slots=[(s, application_service.slot_label(s)) for s in APPLICATION_FILE_SLOTS],
        )

    @expose("/agreement/<int:project_id>")
    @has_access
    def agreement(self, project_id):
        from app.reports.agreement_pdf import agreement_pdf

        project = get_scoped_or_404(Project, project_id)

        def pick(model, name):
            value = request.args.get(name, "")
            return db.session.get(model, int(value)) if value.isdigit() and len(value) < 10 else None

        pdf = agreement_pdf(
            project.enterprise,
            project,
            insurer=pick(InsuranceCompany, "insurer_id"),
            broker=pick(InsuranceCompany, "broker_id"),
            plan=pick(Plan, "plan_id"),
        )
        return send_download(BytesIO(pdf), f"用户协议-{project.name}.pdf", "application/pdf", inline=True)


# ---------------------------------------------------------------- 保单信息 and 理赔


class PolicyView(ScopedModelView):
    """保单信息 (manual 二.2) and 理赔 (二.3)."""

    route_base = "/policies"
    datamodel = SQLAInterface(Policy)
    class_permission_name = "Policy"
    method_permission_name = dict(
        READ_ONLY, bundle="download", claims="read", claim_add="claim", claim_edit="claim", surrender="surrender"
    )
    list_title = _("保单信息")
    list_table_id = "policy-list"
    list_columns = ["project_name", "project_code", "plan.short_label", "contact_phone", "shown_status"]
    label_columns = {
        "project_name": _("项目名称"),
        "project_code": _("项目代码"),
        "plan.short_label": _("方案"),
        "contact_phone": _("联系电话"),
        "shown_status": _("投保状态"),
    }
    formatters_columns = {"shown_status": choice(PolicyStatus)}
    search_bar = [
        Text(
            "q",
            _("关键字"),
            "project_name",
            "project_code",
            "policy_no",
            "enterprise",
            placeholder=_("项目名称、项目代码、保单号或单位名称"),
        )
    ]
    base_order = ("id", "desc")

    def row_buttons(self, policy, party):
        return [*super().row_buttons(policy, party), Button(_("理赔"), url_for("PolicyView.claims", pk=policy.id))]

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        policy = get_scoped_or_404(Policy, pk)
        app = policy.application
        return self.render_template(
            "insurance/policy_show.html",
            policy=policy,
            app=app,
            files=application_file_entries(app) + policy_file_entries(policy),
            status=policy.current_status(),
            policy_choice=PolicyStatus,
            timeline=timeline_rows([("application", app.id), ("policy", policy.id)]),
            can_download=may("download", self.class_permission_name),
            can_surrender=any(t.name == "surrender" for t in POLICY.available(policy, party_of()))
            and may("surrender", self.class_permission_name),
            total=claim_service.settled_total(policy.id),
        )

    @expose("/<int:pk>/bundle")
    @has_access
    def bundle(self, pk):
        from app.reports.bundle import build_bundle

        policy = get_scoped_or_404(Policy, pk)
        handle, name = build_bundle(policy.application)
        return send_download(handle, name, "application/zip")

    @expose("/<int:pk>/surrender", methods=["POST"])
    @has_access
    def surrender(self, pk):
        policy = get_scoped_or_404(Policy, pk)
        try:
            policy_service.surrender(policy.id, g.user, request.form.get("reason"))
        except ServiceError as exc:
            flash_service_error(exc)
        else:
            flash(_("已退保"), "success")
        return redirect(url_for("PolicyView.show", pk=pk))

    def _claims_page(self, policy, errors=None, form=None, editing=None):
        claims = db.session.scalars(select(Claim).where(Claim.policy_id == policy.id).order_by(Claim.id)).all()
        return self.render_template(
            "insurance/claims.html",
            policy=policy,
            claims=claims,
            total=claim_service.settled_total(policy.id),
            can_claim=may("claim", self.class_permission_name),
            errors=errors or {},
            form=form or {},
            editing=editing,
            today=clock.today().isoformat(),
            timeline=timeline_rows([("policy", policy.id)]),
        )

    @expose("/<int:pk>/claims")
    @has_access
    def claims(self, pk):
        return self._claims_page(get_scoped_or_404(Policy, pk))

    @expose("/<int:pk>/claims/add", methods=["POST"])
    @has_access
    def claim_add(self, pk):
        policy = get_scoped_or_404(Policy, pk)
        try:
            claim_service.add_claim(policy.id, g.user, dict(request.form))
        except ServiceError as exc:
            errors = flash_service_error(exc)
            return self._claims_page(policy, errors=errors, form=dict(request.form), editing="new")
        flash(_("理赔信息已保存"), "success")
        return redirect(url_for("PolicyView.claims", pk=policy.id))

    @expose("/claims/<int:claim_id>/edit", methods=["POST"])
    @has_access
    def claim_edit(self, claim_id):
        claim = get_scoped_or_404(Claim, claim_id)
        try:
            claim_service.update_claim(claim.id, g.user, dict(request.form))
        except ServiceError as exc:
            errors = flash_service_error(exc)
            return self._claims_page(claim.policy, errors=errors, form=dict(request.form), editing=claim.id)
        flash(_("理赔信息已修改"), "success")
        return redirect(url_for("PolicyView.claims", pk=claim.policy_id))


# ---------------------------------------------------------------- 保单台帐

# The ledger's columns and their labels, listed so and exported so (the export adds three more).
LEDGER_COLUMNS = [
    ("ledger_no", _("项目号")),
    ("created_at", _("创建时间")),
    ("enterprise.name", _("单位名称")),
    ("project_name", _("项目名称")),
    ("enterprise.contact_mobile", _("联系方式")),
    ("plan.short_label", _("参保方案")),
    ("policy_no", _("保单号")),
    ("premium", _("保费")),
]
# 参保方案 is exported from the plan's id, the labels read once: the property itself would make the export
# read every policy as an object (100,000 rows: 26.8 s instead of 1.3 s as plain tuples)
PLAN_BY_ID = ("plan_id", _("参保方案"), Label(Plan, "short_label"))


class LedgerView(ScopedModelView):
    """保单台帐 (manual 二.4): every policy with its 项目号; export all or the checked rows."""

    route_base = "/ledger"
    datamodel = SQLAInterface(Policy)
    class_permission_name = "Ledger"
    method_permission_name = dict(READ_ONLY, export="export")
    list_title = _("保单台帐")
    list_table_id = "ledger-list"
    list_columns = [column for column, _label in LEDGER_COLUMNS]
    label_columns = dict(LEDGER_COLUMNS)
    formatters_columns = {"premium": money, "created_at": clock.fmt_seconds}
    search_bar = [Text("enterprise", _("单位名称"), "enterprise"), Text("project", _("项目名称"), "project_name")]
    export_columns = [
        *(PLAN_BY_ID if column == "plan.short_label" else (column, label) for column, label in LEDGER_COLUMNS),
        ("insurer.short_name", _("保险机构")),
        ("start_date", _("生效日期")),
        ("end_date", _("终止日期")),
    ]
    link_columns = {"ledger_no": "PolicyView.show", "policy_no": "PolicyView.show"}
    ops_column = False
    base_order = ("id", "desc")

    def select_buttons(self):
        if not may("export", self.class_permission_name):
            return []
        return [
            Button(_("批量导出 Excel"), url_for("LedgerView.export", fmt="xlsx"), style="success", id="export-xlsx"),
            Button(_("批量导出 CSV"), url_for("LedgerView.export", fmt="csv"), id="export-csv"),
        ]

    row_select_hint = _("勾选行则导出所选，否则导出全部查询结果")


class MemberInfoView(ScopedModelView):
    """会员信息: the insurance company's own record; its contact person and telephone are its own to keep."""

    route_base = "/member"
    datamodel = SQLAInterface(InsuranceCompany)
    class_permission_name = "MemberInfo"
    method_permission_name = dict(READ_ONLY, edit="write")
    list_title = _("会员信息")
    show_title = _("会员信息")
    edit_title = _("修改会员信息")
    base_filters = [["id", OwnPartyFilter, None]]
    list_columns = ["name", "short_name", "kind", "contact_name", "contact_phone"]
    show_columns = list_columns
    edit_columns = ["contact_name", "contact_phone"]
    label_columns = {
        "name": _("机构名称"),
        "short_name": _("简称"),
        "kind": _("类型"),
        "contact_name": _("联系人"),
        "contact_phone": _("联系电话"),
    }
    formatters_columns = {"kind": lambda value: CompanyKind.label(value)}

    def row_buttons(self, company, party):
        buttons = super().row_buttons(company, party)
        if may("write", self.class_permission_name):
            buttons.append(Button(_("修改"), url_for("MemberInfoView.edit", pk=company.id), style="primary"))
        return buttons
