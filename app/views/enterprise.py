"""企业信息 and 项目信息 of the enterprise (manual 一.2–3)."""

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Application, Enterprise, Project, Region
from app.models.enums import ApplicationStatus as A
from app.models.enums import FileKind, ProjectInsuranceStatus, RegionLevel
from app.models.enums import PartyKind as P
from app.security.scope import get_scoped_or_404, party_of, scoped_select
from app.services import enterprises as enterprise_service
from app.services.base import ServiceError

from .base import READ_WRITE, ScopedModelView
from .formatters import choice, money
from .insurance import _args_builder, _fail, _paginate, _text_arg

ENTERPRISE_LABELS = {
    "name": _("企业名称"),
    "region": _("行政区划代码"),
    "region_code": _("行政区划代码"),
    "credit_code": _("统一社会信用代码"),
    "registered_address": _("工商注册地址"),
    "business_address": _("主要经营地址"),
    "contact_name": _("联系人姓名"),
    "contact_mobile": _("联系人手机"),
    "contact_email": _("联系邮箱"),
    "legal_name": _("法人姓名"),
    "legal_mobile": _("法人手机"),
    "business_scope": _("经营范围"),
    "created_at": _("创建时间"),
}

PROJECT_LABELS = {
    "enterprise": _("施工企业"),
    "region": _("行政区划代码"),
    "region_code": _("行政区划代码"),
    "project_code": _("项目代码"),
    "name": _("项目名称"),
    "builder_name": _("建设单位名称"),
    "address": _("项目地址"),
    "scale_content": _("建设规模及内容"),
    "investment": _("投资规模(万元)"),
    "planned_start": _("计划开工日期"),
    "planned_end": _("计划竣工日期"),
    "insurance_status": _("投保状态"),
    "created_at": _("创建时间"),
}

ENTERPRISE_FIELDS = [
    "name",
    "region_code",
    "credit_code",
    "registered_address",
    "business_address",
    "contact_name",
    "contact_mobile",
    "contact_email",
    "legal_name",
    "legal_mobile",
    "business_scope",
]
PROJECT_FIELDS = [
    "region_code",
    "project_code",
    "name",
    "investment",
    "builder_name",
    "address",
    "scale_content",
    "planned_start",
    "planned_end",
]
# Statuses in which the enterprise may (re)apply: 填报.
CAN_APPLY = (ProjectInsuranceStatus.UNINSURED, A.EXPIRED, A.SURRENDERED)


def _counties():
    return (
        db.session.execute(
            select(Region)
            .where(Region.level == RegionLevel.COUNTY)
            .options(joinedload(Region.parent))
            .order_by(Region.code)
        )
        .scalars()
        .all()
    )


class MyEnterpriseView(BaseView):
    """企业信息 of the signed-in enterprise: shown, and edited through 进入编辑."""

    route_base = "/my/enterprise"
    class_permission_name = "MyEnterprise"
    method_permission_name = {"show": "read", "edit": "write"}
    base_permissions = ["can_read", "can_write"]
    default_view = "show"

    def _enterprise(self):
        party = party_of()
        if party.kind != P.ENTERPRISE or party.id is None:
            return None
        return get_scoped_or_404(Enterprise, party.id)

    def _files(self, enterprise):
        return [
            (slot, FileKind.label(slot), getattr(enterprise, slot + "_file"))
            for slot in enterprise_service.ENTERPRISE_FILE_SLOTS
        ]

    @expose("/")
    @has_access
    def show(self):
        enterprise = self._enterprise()
        return self.render_template(
            "enterprise/my_enterprise.html",
            enterprise=enterprise,
            editing=False,
            labels=ENTERPRISE_LABELS,
            fields=ENTERPRISE_FIELDS,
            files=self._files(enterprise) if enterprise else [],
            errors={},
            form={},
        )

    @expose("/edit", methods=["GET", "POST"])
    @has_access
    def edit(self):
        enterprise = self._enterprise()
        if enterprise is None:
            abort(404)
        errors, form = {}, {f: getattr(enterprise, f) or "" for f in ENTERPRISE_FIELDS}
        if request.method == "POST":
            form = dict(request.form)
            try:
                enterprise_service.update_enterprise(g.user, dict(request.form), request.files)
            except ServiceError as exc:
                errors = exc.errors
                _fail(exc)
                db.session.expire_all()
                enterprise = self._enterprise()
            else:
                flash(_("企业信息已保存"), "success")
                return redirect(url_for("MyEnterpriseView.show"))
        return self.render_template(
            "enterprise/my_enterprise.html",
            enterprise=enterprise,
            editing=True,
            labels=ENTERPRISE_LABELS,
            fields=ENTERPRISE_FIELDS,
            files=self._files(enterprise),
            errors=errors,
            form=form,
        )


def project_query():
    """The enterprise's 项目信息 rows for the search (项目名称 / 项目代码, 投保状态), newest first, scoped."""
    stmt = scoped_select(Project)
    q, status = _text_arg("q"), _text_arg("status", 16)
    if q:
        stmt = stmt.where(
            or_(Project.name.contains(q, autoescape=True), Project.project_code.contains(q, autoescape=True))
        )
    if status in ProjectInsuranceStatus.values():
        stmt = stmt.where(Project.insurance_status == status)
    return stmt.options(joinedload(Project.region)).order_by(Project.id.desc())


class ProjectView(ScopedModelView):
    """项目信息 of the enterprise: its projects, 新增项目, and the next insurance step of each."""

    route_base = "/projects"
    datamodel = SQLAInterface(Project)
    class_permission_name = "Project"
    method_permission_name = READ_WRITE
    base_permissions = ["can_read", "can_write"]
    list_title = _("项目信息")
    add_title = _("新增项目")
    list_columns = ["project_code", "name", "region_code", "investment", "insurance_status"]
    show_columns = [
        "name",
        "project_code",
        "region_code",
        "builder_name",
        "address",
        "scale_content",
        "investment",
        "planned_start",
        "planned_end",
        "insurance_status",
    ]
    add_columns = [
        "region",
        "project_code",
        "name",
        "builder_name",
        "address",
        "scale_content",
        "investment",
        "planned_start",
        "planned_end",
    ]
    edit_columns = add_columns
    search_columns = ["name", "project_code", "insurance_status"]
    label_columns = PROJECT_LABELS
    formatters_columns = {"insurance_status": choice(ProjectInsuranceStatus), "investment": money}
    base_order = ("id", "desc")

    def next_step(self, project, latest_app_id):
        """填报 when the project can be insured, else the way to its application or policy."""
        steps = []
        if project.insurance_status in CAN_APPLY + (A.DRAFT, A.REJECTED):
            steps.append((_("填报"), url_for("ApplicationView.fill", project_id=project.id)))
        if latest_app_id:
            steps.append((_("投保详情"), url_for("ApplicationView.show", pk=latest_app_id)))
        if project.insurance_status in enterprise_service.PROJECT_EDITABLE:
            steps.append((_("编辑项目"), url_for("ProjectView.edit", pk=project.id)))
        return steps

    @expose("/list/")
    @has_access
    def list(self):
        pager = _paginate(project_query())
        rows = pager.rows
        latest = (
            dict(
                db.session.execute(
                    select(Application.project_id, func.max(Application.id))
                    .where(Application.project_id.in_([p.id for p in rows]))
                    .group_by(Application.project_id)
                ).all()
            )
            if rows
            else {}
        )
        return self.render_template(
            "enterprise/project_list.html",
            title=self.list_title,
            rows=rows,
            pager=pager,
            args=_args_builder(),
            statuses=ProjectInsuranceStatus.choices(),
            status_choice=ProjectInsuranceStatus,
            steps={p.id: self.next_step(p, latest.get(p.id)) for p in rows},
            can_add=party_of().kind == P.ENTERPRISE,
        )

    def _form(self, project=None):
        errors, warnings = {}, []
        if project is not None:
            form = {f: ("" if getattr(project, f) is None else str(getattr(project, f))) for f in PROJECT_FIELDS}
        else:
            form = {}
        if request.method == "POST":
            form = dict(request.form)
            try:
                saved, warnings = enterprise_service.save_project(
                    g.user, dict(request.form), project_id=project.id if project else None
                )
            except ServiceError as exc:
                errors = exc.errors
                _fail(exc)
                db.session.expire_all()
            else:
                for w in warnings:
                    flash(w, "warning")
                flash(_("项目已保存"), "success")
                return redirect(url_for("ProjectView.list"))
        return self.render_template(
            "enterprise/project_form.html",
            project=project,
            form=form,
            errors=errors,
            labels=PROJECT_LABELS,
            counties=_counties(),
            title=_("修改项目") if project else _("新增项目"),
        )

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        if party_of().kind != P.ENTERPRISE:
            abort(403)
        return self._form()

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        return self._form(get_scoped_or_404(Project, pk))

    @expose("/delete/<pk>", methods=["GET", "POST"])
    @has_access
    def delete(self, pk):
        abort(404)
