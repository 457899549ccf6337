"""企业信息 and 项目信息 of the enterprise (manual 一.2–3)."""

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Project, Region
from app.models.enums import FileKind, ProjectInsuranceStatus, RegionLevel
from app.security.scope import get_scoped_or_404
from app.services import applications as application_service
from app.services import enterprises as enterprise_service
from app.services.base import ServiceError

from .base import READ_WRITE, ScopedModelView, flash_service_error
from .buttons import Button, may
from .formatters import choice, money
from .search import Choice, Text

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
        return enterprise_service.own_enterprise(g.user)

    def _files(self, enterprise):
        return [
            (slot, FileKind.label(slot), getattr(enterprise, slot + "_file"))
            for slot in enterprise_service.ENTERPRISE_FILE_SLOTS
        ]

    def _page(self, enterprise, editing, errors, form):
        """The one 企业信息 page, shown or in its editing form."""
        return self.render_template(
            "enterprise/my_enterprise.html",
            enterprise=enterprise,
            editing=editing,
            labels=ENTERPRISE_LABELS,
            fields=ENTERPRISE_FIELDS,
            files=self._files(enterprise) if enterprise else [],
            errors=errors,
            form=form,
        )

    @expose("/")
    @has_access
    def show(self):
        return self._page(self._enterprise(), editing=False, errors={}, form={})

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
                flash_service_error(exc)
                db.session.expire_all()
                enterprise = self._enterprise()
            else:
                flash(_("企业信息已保存"), "success")
                return redirect(url_for("MyEnterpriseView.show"))
        return self._page(enterprise, editing=True, errors=errors, form=form)


class ProjectView(ScopedModelView):
    """项目信息 of the enterprise: its projects, 新增项目, and the next insurance step of each."""

    route_base = "/projects"
    datamodel = SQLAInterface(Project)
    class_permission_name = "Project"
    method_permission_name = dict(READ_WRITE)
    list_title = _("项目信息")
    list_table_id = "project-list"
    list_columns = ["project_code", "name", "region_text", "builder_name", "investment", "insurance_status"]
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
    label_columns = dict(PROJECT_LABELS, region_text=_("行政区划代码"))
    formatters_columns = {"insurance_status": choice(ProjectInsuranceStatus), "investment": money}
    search_bar = [
        Text("q", _("项目名称或项目代码"), "name", "project_code", placeholder=_("项目名称或项目代码")),
        Choice("status", _("投保状态"), "insurance_status", ProjectInsuranceStatus),
    ]
    empty_text = _("暂无项目，请点击“新增项目”")
    eager_relations = ["latest_application"]  # the 操作 buttons follow the latest application
    base_order = ("id", "desc")

    def list_tools(self, state):
        if not enterprise_service.can_add_project(g.user):
            return []
        return [Button(_("新增项目"), url_for("ProjectView.add"), style="success", id="add-project")]

    def row_buttons(self, project, party):
        """填报 when the project can be insured, else the way to its application; 编辑项目 while editable."""
        buttons = []
        latest = project.latest_application
        if application_service.can_fill(project) and may("write", "Application"):
            buttons.append(Button(_("填报"), url_for("ApplicationView.fill", project_id=project.id), style="primary"))
        if latest is not None:
            buttons.append(Button(_("投保详情"), url_for("ApplicationView.show", pk=latest.id)))
        if enterprise_service.project_editable(project):
            buttons.append(Button(_("编辑项目"), url_for("ProjectView.edit", pk=project.id)))
        return buttons

    def _form(self, project=None):
        errors = {}
        if project is not None:
            form = {f: ("" if getattr(project, f) is None else str(getattr(project, f))) for f in PROJECT_FIELDS}
        else:
            form = {}
        if request.method == "POST":
            form = dict(request.form)
            try:
                _saved, warnings = enterprise_service.save_project(
                    g.user, dict(request.form), project_id=project.id if project else None
                )
            except ServiceError as exc:
                errors = flash_service_error(exc)
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
        return self._form()

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        return self._form(get_scoped_or_404(Project, pk))

    @expose("/delete/<pk>", methods=["GET", "POST"])
    @has_access
    def delete(self, pk):
        abort(404)
