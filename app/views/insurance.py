"""投保信息, 保单信息, 理赔 and 保单台帐 (manual 二.1–4), and the enterprise's 在线填报 (一.3.1).

One view per list serves every role: the scope decides the rows, the workflow table the buttons.
Each list's filtered query is built once (``*_query``) and used by the page, its statistics and its
export alike.
"""

from decimal import Decimal
from urllib.parse import urlencode

from flask import abort, flash, g, redirect, request, send_file, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload

from app import clock
from app.extensions import db
from app.models import Application, Claim, Enterprise, FlowEvent, InsuranceCompany, Plan, Policy, Project
from app.models.enums import (
    ApplicationStatus,
    CompanyKind,
    FileKind,
    PolicyStatus,
    ProjectInsuranceStatus,
)
from app.models.enums import (
    PartyKind as P,
)
from app.models.insurance import APPLICATION_FILE_SLOTS
from app.security.scope import OwnPartyFilter, get_scoped_or_404, party_of, scoped_select
from app.services import applications as application_service
from app.services import claims as claim_service
from app.services import figures_cache
from app.services import policies as policy_service
from app.services.base import Invalid, NotFound, ServiceError
from app.workflows import APPLICATION

from .base import READ_ONLY, ScopedModelView
from .datamodel import PAGE_SIZES, page_size, paginate
from .formatters import choice, money

PAGE_SIZE = 20

APPLICATION_LABELS = {
    "project": _("项目名称"),
    "project.name": _("项目名称"),
    "project.project_code": _("项目代码"),
    "plan": _("方案"),
    "plan.code": _("方案"),
    "project.investment": _("投资规模"),
    "contact_phone": _("联系电话"),
    "status": _("投保状态"),
    "enterprise": _("施工企业名称"),
    "broker": _("经纪公司"),
    "insurer": _("保险机构"),
    "review_opinion": _("审核意见"),
    "submitted_at": _("提交时间"),
}

POLICY_LABELS = {
    "project_name": _("项目名称"),
    "project_code": _("项目代码"),
    "plan": _("方案"),
    "plan.short_label": _("方案"),
    "enterprise": _("单位名称"),
    "enterprise.contact_mobile": _("联系电话"),
    "status": _("投保状态"),
    "builder_name": _("建设单位名称"),
    "premium": _("保费(元)"),
    "start_date": _("生效日期"),
    "end_date": _("终止日期"),
    "policy_no": _("保单号"),
    "ledger_no": _("项目号"),
    "created_at": _("创建时间"),
    "insurer": _("保险机构"),
}

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


# ---------------------------------------------------------------- shared helpers


def _text_arg(name, max_len=100):
    return (request.args.get(name) or "").strip()[:max_len]


def _page():
    try:
        return max(int(request.args.get("page", 0)), 0)
    except ValueError:
        return 0


def _args_builder(**fixed):
    """A function giving the current query string with some values replaced (for pager links)."""
    base = {k: v for k, v in request.args.items() if k != "page"}
    base.update(fixed)

    def build(**changes):
        merged = dict(base, **changes)
        return urlencode({k: v for k, v in merged.items() if v not in (None, "")})

    build.sizes = PAGE_SIZES
    build.size = page_size(request.args.get("psize"), PAGE_SIZE)
    return build


def _paginate(stmt):
    """The page the request asks for (``?page=``, 0-based), counted and paged as every list is."""
    return paginate(stmt, _page(), page_size(request.args.get("psize"), PAGE_SIZE))


def _fail(exc, endpoint=None, **values):
    """Map a service error to the page: 404 for NotFound, otherwise the message flashed."""
    if isinstance(exc, NotFound):
        abort(404)
    flash(str(exc.message), "danger")
    if endpoint:
        return redirect(url_for(endpoint, **values))
    return None


def _status_text(value):
    if not value:
        return ""
    return str(ProjectInsuranceStatus.label(value))


def timeline_rows(entity_filters):
    """The 流程 rows of the given (entity_type, id) pairs, through the FlowEvent scope."""
    crit = or_(*[and_(FlowEvent.entity_type == t, FlowEvent.entity_id == i) for t, i in entity_filters])
    events = db.session.execute(scoped_select(FlowEvent).where(crit).order_by(FlowEvent.id)).scalars().all()
    return [
        dict(
            time=clock.fmt_seconds(e.created_at),
            action=FLOW_ACTIONS.get(e.action, e.action),
            who=" ".join(x for x in (e.party_name, e.username or str(_("系统"))) if x),
            status=(_status_text(e.from_status) + (" → " + _status_text(e.to_status) if e.to_status else "")),
            comment=e.comment or "",
        )
        for e in events
    ]


def application_file_entries(app):
    return [(application_service.slot_label(slot), getattr(app, slot + "_file")) for slot in APPLICATION_FILE_SLOTS]


def _user():
    return g.user


def _export(stmt, columns, filename):
    fmt = request.args.get("fmt", "xlsx")
    if fmt not in ("xlsx", "csv"):
        abort(400)
    from app.reports.export import export_response

    return export_response(stmt, columns, filename, fmt)


# ---------------------------------------------------------------- 投保信息


def application_filtered(join_project=False):
    """投保信息's scoped rows for the current filter (施工企业名称, 项目名称, 投保状态). Project and
    Enterprise are joined only when a filter (or the caller) needs them: on an unfiltered list the
    count and the deep-page ids then come from the scope index alone."""
    stmt = scoped_select(Application)
    enterprise, project, status = _text_arg("enterprise"), _text_arg("project"), _text_arg("status", 16)
    if project or join_project:
        stmt = stmt.join(Project, Application.project_id == Project.id)
    if enterprise:
        stmt = stmt.join(Enterprise, Application.enterprise_id == Enterprise.id).where(
            Enterprise.name.contains(enterprise, autoescape=True)
        )
    if project:
        stmt = stmt.where(Project.name.contains(project, autoescape=True))
    if status in ApplicationStatus.values():
        stmt = stmt.where(Application.status == status)
    return stmt


def application_query():
    """The list's rows: the filtered rows, newest first (project and plan are joined by the mapping)."""
    return application_filtered().order_by(Application.id.desc())


def application_statistics():
    """Count and investment sum per status of the filtered rows (one SQL GROUP BY), cached briefly:
    at 1M rows an insurer's 50,000 applications take ~200 ms to sum. ``figures_cache`` reuses them only
    while no application was added and no transition happened since (its generation)."""
    stmt = application_filtered(join_project=True)
    party = party_of()
    key = (
        "application_statistics",
        party.kind,
        party.id,
        party.sees_all,
        party.region_prefix,
        party.user_id,
        _text_arg("enterprise"),
        _text_arg("project"),
        _text_arg("status", 16),
    )

    def compute():
        rows = db.session.execute(
            stmt.with_only_columns(Application.status, func.count(Application.id), func.sum(Project.investment))
            .group_by(Application.status)
            .order_by(None)
        ).all()
        return {s: (n, Decimal(total or 0)) for s, n, total in rows}

    by_status = figures_cache.get(key, compute)
    stats = [(ApplicationStatus.label(s), *by_status[s]) for s in ApplicationStatus.values() if s in by_status]
    total = (sum(n for _l, n, _t in stats), sum((t for _l, _n, t in stats), Decimal(0)))
    return stats, total


def _labels(choice_set):
    """value → label text, built once per export (not one lazy-string resolution per row)."""
    return {value: str(label) for value, label in choice_set.choices()}


def _by_id(model, render):
    """id → text for a small reference table (plans, insurance companies), loaded once per export."""
    return {row.id: render(row) for row in db.session.execute(select(model)).scalars()}


def application_export():
    """投保信息's export: the list's own filtered rows as plain column tuples (no ORM objects)."""
    companies = _by_id(InsuranceCompany, lambda c: c.short_name)
    plans = _by_id(Plan, lambda p: p.code)
    statuses = _labels(ApplicationStatus)
    stmt = application_filtered(join_project=True).order_by(Application.id.desc())
    if not _text_arg("enterprise"):
        stmt = stmt.join(Enterprise, Application.enterprise_id == Enterprise.id)
    columns = [
        (_("施工企业名称"), Enterprise.name, None),
        (_("项目名称"), Project.name, None),
        (_("项目代码"), Project.project_code, None),
        (_("方案"), Application.plan_id, plans.get),
        (_("投资规模(万元)"), Project.investment, None),
        (_("联系电话"), Application.contact_phone, None),
        (_("保险机构"), Application.insurer_id, companies.get),
        (_("经纪公司"), Application.broker_id, companies.get),
        (_("投保状态"), Application.status, statuses.get),
        (_("提交时间"), Application.submitted_at, None),
        (_("审核意见"), Application.review_opinion, None),
    ]
    return stmt, columns


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
    )
    base_permissions = ["can_read", "can_write", "can_review", "can_issue", "can_export", "can_download"]
    list_title = _("投保信息")
    show_title = _("投保详情")
    list_columns = [
        "project.name",
        "project.project_code",
        "plan.code",
        "project.investment",
        "contact_phone",
        "status",
    ]
    show_columns = ["enterprise", "project", "broker", "insurer", "plan", "contact_phone", "status", "review_opinion"]
    search_columns = ["enterprise", "project", "status"]
    label_columns = APPLICATION_LABELS
    formatters_columns = {"status": choice(ApplicationStatus), "project.investment": money}
    base_order = ("id", "desc")

    def _may(self, permission):
        return self.appbuilder.sm.has_access("can_" + permission, self.class_permission_name)

    def row_buttons(self, app, party):
        """The 操作 column: buttons from the workflow table, then 详情 and 事故."""
        buttons, names = [], {t.name for t in APPLICATION.available(party.kind, app.status) if self._may(t.permission)}
        if names & {"approve", "reject"}:
            buttons.append((_("审核"), url_for("ApplicationView.review", pk=app.id)))
        if "issue_policy" in names:
            buttons.append((_("提交"), url_for("ApplicationView.issue", pk=app.id)))
        if "submit" in names:
            buttons.append((_("修改"), url_for("ApplicationView.fill", project_id=app.project_id)))
        buttons.append((_("详情"), url_for("ApplicationView.show", pk=app.id)))
        if party.kind != P.ENTERPRISE:
            buttons.append((_("事故"), url_for("ApplicationView.accidents", pk=app.id)))
        return buttons

    @expose("/list/")
    @has_access
    def list(self):
        stats, total = application_statistics()
        # the figures above count the same filtered rows: the pager takes their total (exact, no count query)
        pager = paginate(application_query(), _page(), page_size(request.args.get("psize"), PAGE_SIZE), count=total[0])
        rows = pager.rows
        party = party_of()
        return self.render_template(
            "insurance/application_list.html",
            title=self.list_title,
            rows=rows,
            pager=pager,
            args=_args_builder(),
            stats=stats,
            total=total,
            statuses=ApplicationStatus.choices(),
            buttons={a.id: self.row_buttons(a, party) for a in rows},
            can_export=self._may("export"),
            status_choice=ApplicationStatus,
        )

    @expose("/export/")
    @has_access
    def export(self):
        return _export(*application_export(), str(_("投保信息")))

    def _detail(self, app, template="insurance/application_show.html", **extra):
        party = party_of()
        policy = app.policy
        entities = [("application", app.id)] + ([("policy", policy.id)] if policy else [])
        files = application_file_entries(app)
        if policy is not None:
            files += [
                (FileKind.label("policy_file"), policy.policy_file),
                (FileKind.label("agreement_file"), policy.agreement_file),
            ]
        return self.render_template(
            template,
            app=app,
            policy=policy,
            files=files,
            timeline=timeline_rows(entities),
            buttons=self.row_buttons(app, party),
            can_download=self._may("download"),
            status_choice=ApplicationStatus,
            policy_status=policy_service.display_status(policy) if policy else None,
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
        return send_file(handle, mimetype="application/zip", as_attachment=True, download_name=name, max_age=0)

    @expose("/<int:pk>/accidents")
    @has_access
    def accidents(self, pk):
        app = get_scoped_or_404(Application, pk)
        deaths, injuries, claims = policy_service.prior_year_accidents(app.enterprise_id)
        proposal = policy_service.propose_premium(app)
        rules = (
            db.session.execute(select(policy_service.FloatRule).order_by(policy_service.FloatRule.sort_order))
            .scalars()
            .all()
        )
        return self.render_template(
            "insurance/accidents.html",
            app=app,
            claims=claims,
            deaths=deaths,
            injuries=injuries,
            proposal=proposal,
            rules=rules,
            year=clock.today().year - 1,
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
                    application_service.approve(app.id, _user(), opinion)
                elif verdict == "reject":
                    application_service.reject(app.id, _user(), opinion)
                else:
                    raise Invalid(_("请选择审核结果"), errors={"verdict": [_("请选择审核结果")]})
            except ServiceError as exc:
                if isinstance(exc, Invalid):
                    errors = exc.errors
                _fail(exc)
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
                policy = policy_service.issue_policy(app.id, _user(), dict(request.form), request.files)
            except ServiceError as exc:
                errors = getattr(exc, "errors", {})
                _fail(exc)
                db.session.expire_all()
                app = get_scoped_or_404(Application, pk)
            else:
                flash(_("保单已录入，项目已投保，已生成保单台帐 %(no)s", no=policy.ledger_no), "success")
                return redirect(url_for("PolicyView.show", pk=policy.id))
        plans = db.session.execute(select(Plan).order_by(Plan.code, Plan.effective_from.desc())).scalars().all()
        proposals = {p.id: policy_service.propose_premium(app, p)["proposed"] for p in plans}
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
            proposals=proposals,
            proposal=proposal,
            tolerance=policy_service.premium_tolerance(),
            errors=errors,
            form=form,
        )

    # ---- 在线填报 (enterprise)

    @expose("/fill/<int:project_id>", methods=["GET", "POST"])
    @has_access
    def fill(self, project_id):
        project = get_scoped_or_404(Project, project_id)
        app = (
            db.session.execute(
                scoped_select(Application)
                .where(Application.project_id == project.id, Application.status.in_(application_service.OPEN_STATES))
                .order_by(Application.id.desc())
            )
            .scalars()
            .first()
        )
        if app is not None and app.status not in application_service.EDITABLE_STATES:
            return redirect(url_for("ApplicationView.show", pk=app.id))
        errors = {}
        form = dict(request.form) if request.method == "POST" else None
        if request.method == "POST":
            user = _user()
            try:
                app = application_service.save_application(
                    user, project.id, dict(request.form), request.files, application_id=app.id if app else None
                )
            except ServiceError as exc:
                errors = exc.errors
                _fail(exc)
                db.session.expire_all()
            else:
                if request.form.get("action") != "submit":
                    flash(_("草稿已保存"), "success")
                    return redirect(url_for("ApplicationView.fill", project_id=project.id))
                try:
                    application_service.submit(app.id, user)
                except ServiceError as exc:
                    errors = exc.errors
                    flash(_("草稿已保存，但未能提交："), "warning")
                    _fail(exc)
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
        companies = (
            db.session.execute(
                select(InsuranceCompany).where(InsuranceCompany.active.is_(True)).order_by(InsuranceCompany.login_order)
            )
            .scalars()
            .all()
        )
        plans = (
            db.session.execute(
                select(Plan)
                .where(or_(Plan.effective_to.is_(None), Plan.effective_to >= clock.today()))
                .order_by(Plan.code)
            )
            .scalars()
            .all()
        )
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
            try:
                return db.session.get(model, int(request.args.get(name)))
            except (TypeError, ValueError):
                return None

        insurer, broker, plan = (
            pick(InsuranceCompany, "insurer_id"),
            pick(InsuranceCompany, "broker_id"),
            pick(Plan, "plan_id"),
        )
        pdf = agreement_pdf(project.enterprise, project, insurer=insurer, broker=broker, plan=plan)
        from io import BytesIO

        return send_file(
            BytesIO(pdf),
            mimetype="application/pdf",
            as_attachment=False,
            download_name=f"用户协议-{project.name}.pdf",
            max_age=0,
        )


# ---------------------------------------------------------------- 保单信息 and 理赔


def policy_query():
    """保单信息's rows: keyword over 项目名称, 项目代码, 保单号 and 单位名称, newest first, scoped."""
    stmt = scoped_select(Policy)
    q = _text_arg("q")
    if q:
        stmt = stmt.join(Enterprise, Policy.enterprise_id == Enterprise.id).where(
            or_(
                *[
                    c.contains(q, autoescape=True)
                    for c in (Policy.project_name, Policy.project_code, Policy.policy_no, Enterprise.name)
                ]
            )
        )
    return stmt.options(joinedload(Policy.application), joinedload(Policy.enterprise)).order_by(Policy.id.desc())


class PolicyView(ScopedModelView):
    """保单信息 (manual 二.2) and 理赔 (二.3)."""

    route_base = "/policies"
    datamodel = SQLAInterface(Policy)
    class_permission_name = "Policy"
    method_permission_name = dict(
        READ_ONLY, bundle="download", claims="read", claim_add="claim", claim_edit="claim", surrender="surrender"
    )
    base_permissions = ["can_read", "can_download", "can_claim", "can_export", "can_surrender"]
    list_title = _("保单信息")
    show_title = _("保单详情")
    list_columns = ["project_name", "project_code", "plan.short_label", "enterprise.contact_mobile", "status"]
    show_columns = [
        "enterprise",
        "builder_name",
        "project_name",
        "project_code",
        "insurer",
        "plan",
        "premium",
        "start_date",
        "end_date",
        "policy_no",
        "ledger_no",
        "status",
    ]
    search_columns = ["project_name", "project_code", "policy_no", "status"]
    label_columns = POLICY_LABELS
    formatters_columns = {"status": choice(PolicyStatus), "premium": money}
    base_order = ("id", "desc")

    def _may(self, permission):
        return self.appbuilder.sm.has_access("can_" + permission, self.class_permission_name)

    @expose("/list/")
    @has_access
    def list(self):
        pager = _paginate(policy_query())
        return self.render_template(
            "insurance/policy_list.html",
            title=self.list_title,
            rows=pager.rows,
            pager=pager,
            args=_args_builder(),
            status_of=policy_service.display_status,
            policy_choice=PolicyStatus,
        )

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        policy = get_scoped_or_404(Policy, pk)
        app = policy.application
        files = application_file_entries(app) + [
            (FileKind.label("policy_file"), policy.policy_file),
            (FileKind.label("agreement_file"), policy.agreement_file),
        ]
        return self.render_template(
            "insurance/policy_show.html",
            policy=policy,
            app=app,
            files=files,
            status=policy_service.display_status(policy),
            policy_choice=PolicyStatus,
            timeline=timeline_rows([("application", app.id), ("policy", policy.id)]),
            can_download=self._may("download"),
            can_surrender=self._may("surrender") and policy.status == PolicyStatus.ACTIVE,
            total=claim_service.settled_total(policy.id),
        )

    @expose("/<int:pk>/bundle")
    @has_access
    def bundle(self, pk):
        from app.reports.bundle import build_bundle

        policy = get_scoped_or_404(Policy, pk)
        handle, name = build_bundle(policy.application)
        return send_file(handle, mimetype="application/zip", as_attachment=True, download_name=name, max_age=0)

    @expose("/<int:pk>/surrender", methods=["POST"])
    @has_access
    def surrender(self, pk):
        policy = get_scoped_or_404(Policy, pk)
        try:
            policy_service.surrender(policy.id, _user(), request.form.get("reason"))
        except ServiceError as exc:
            return _fail(exc, "PolicyView.show", pk=pk)
        flash(_("已退保"), "success")
        return redirect(url_for("PolicyView.show", pk=pk))

    def _claims_page(self, policy, errors=None, form=None, editing=None):
        claims = (
            db.session.execute(select(Claim).where(Claim.policy_id == policy.id).order_by(Claim.id)).scalars().all()
        )
        return self.render_template(
            "insurance/claims.html",
            policy=policy,
            claims=claims,
            total=claim_service.settled_total(policy.id),
            can_claim=self._may("claim"),
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
            claim_service.add_claim(policy.id, _user(), dict(request.form))
        except ServiceError as exc:
            _fail(exc)
            return self._claims_page(policy, errors=exc.errors, form=dict(request.form), editing="new")
        flash(_("理赔信息已保存"), "success")
        return redirect(url_for("PolicyView.claims", pk=policy.id))

    @expose("/claims/<int:claim_id>/edit", methods=["POST"])
    @has_access
    def claim_edit(self, claim_id):
        claim = get_scoped_or_404(Claim, claim_id)
        try:
            claim_service.update_claim(claim.id, _user(), dict(request.form))
        except ServiceError as exc:
            _fail(exc)
            return self._claims_page(claim.policy, errors=exc.errors, form=dict(request.form), editing=claim.id)
        flash(_("理赔信息已修改"), "success")
        return redirect(url_for("PolicyView.claims", pk=claim.policy_id))


# ---------------------------------------------------------------- 保单台帐


def ledger_filtered(join_enterprise=False):
    """保单台帐's rows for the 单位名称 / 项目名称 filter (and a selection of ids), scoped."""
    stmt = scoped_select(Policy)
    enterprise, project = _text_arg("enterprise"), _text_arg("project")
    if enterprise or join_enterprise:
        stmt = stmt.join(Enterprise, Policy.enterprise_id == Enterprise.id)
    if enterprise:
        stmt = stmt.where(Enterprise.name.contains(enterprise, autoescape=True))
    if project:
        stmt = stmt.where(Policy.project_name.contains(project, autoescape=True))
    ids = [int(i) for i in request.args.getlist("id") if i.isdigit()][:10000]
    if ids:
        stmt = stmt.where(Policy.id.in_(ids))
    return stmt.order_by(Policy.id.desc())


def ledger_query():
    return ledger_filtered().options(joinedload(Policy.enterprise))


def ledger_export():
    """保单台帐's export: the list's own filtered rows as plain column tuples (no ORM objects)."""
    plans = _by_id(Plan, lambda p: p.short_label)
    companies = _by_id(InsuranceCompany, lambda c: c.short_name)
    columns = [
        (_("项目号"), Policy.ledger_no, None),
        (_("创建时间"), Policy.created_at, None),
        (_("单位名称"), Enterprise.name, None),
        (_("项目名称"), Policy.project_name, None),
        (_("联系方式"), Enterprise.contact_mobile, None),
        (_("参保方案"), Policy.plan_id, plans.get),
        (_("保单号"), Policy.policy_no, None),
        (_("保费"), Policy.premium, None),
        (_("保险机构"), Policy.insurer_id, companies.get),
        (_("生效日期"), Policy.start_date, None),
        (_("终止日期"), Policy.end_date, None),
    ]
    return ledger_filtered(join_enterprise=True), columns


class LedgerView(ScopedModelView):
    """保单台帐 (manual 二.4)."""

    route_base = "/ledger"
    datamodel = SQLAInterface(Policy)
    class_permission_name = "Ledger"
    method_permission_name = dict(READ_ONLY, export="export")
    base_permissions = ["can_read", "can_export"]
    list_title = _("保单台帐")
    list_columns = [
        "ledger_no",
        "created_at",
        "enterprise",
        "project_name",
        "enterprise.contact_mobile",
        "plan.short_label",
        "policy_no",
        "premium",
    ]
    show_columns = ["ledger_no", "created_at", "enterprise", "project_name", "plan", "policy_no", "premium"]
    search_columns = ["enterprise", "project_name"]
    label_columns = dict(
        POLICY_LABELS, **{"enterprise.contact_mobile": _("联系方式"), "plan.short_label": _("参保方案")}
    )
    formatters_columns = {"premium": money}
    base_order = ("id", "desc")

    @expose("/list/")
    @has_access
    def list(self):
        pager = _paginate(ledger_query())
        return self.render_template(
            "insurance/ledger_list.html",
            title=self.list_title,
            rows=pager.rows,
            pager=pager,
            args=_args_builder(),
            can_export=self.appbuilder.sm.has_access("can_export", self.class_permission_name),
        )

    @expose("/export/")
    @has_access
    def export(self):
        return _export(*ledger_export(), str(_("保单台帐")))


class MemberInfoView(ScopedModelView):
    """会员信息: the insurance company's own record."""

    route_base = "/member"
    datamodel = SQLAInterface(InsuranceCompany)
    class_permission_name = "MemberInfo"
    method_permission_name = READ_ONLY
    base_permissions = ["can_read"]
    list_title = _("会员信息")
    base_filters = [["id", OwnPartyFilter, None]]
    list_columns = ["name", "short_name", "kind", "contact_name", "contact_phone"]
    show_columns = list_columns
    label_columns = {
        "name": _("机构名称"),
        "short_name": _("简称"),
        "kind": _("类型"),
        "contact_name": _("联系人"),
        "contact_phone": _("联系电话"),
    }
