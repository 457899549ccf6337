from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _

from app.models import Enterprise, Project
from app.models.enums import ProjectInsuranceStatus
from app.security.scope import party_of

from .base import READ_ONLY, READ_WRITE, ScopedModelView
from .formatters import choice, money

ENTERPRISE_LABELS = {
    "name": _("企业名称"), "region": _("行政区划代码"), "region_code": _("行政区划代码"),
    "credit_code": _("统一社会信用代码"), "registered_address": _("工商注册地址"),
    "business_address": _("主要经营地址"), "contact_name": _("联系人姓名"), "contact_mobile": _("联系人手机"),
    "contact_email": _("联系邮箱"), "legal_name": _("法人姓名"), "legal_mobile": _("法人手机"),
    "business_scope": _("经营范围"), "created_at": _("创建时间"),
}

PROJECT_LABELS = {
    "enterprise": _("施工企业"), "region": _("行政区划代码"), "region_code": _("行政区划代码"),
    "project_code": _("项目代码"), "name": _("项目名称"), "builder_name": _("建设单位名称"),
    "address": _("项目地址"), "scale_content": _("建设规模及内容"), "investment": _("投资规模(万元)"),
    "planned_start": _("计划开工日期"), "planned_end": _("计划竣工日期"), "insurance_status": _("投保状态"),
    "created_at": _("创建时间"),
}


class MyEnterpriseView(BaseView):
    """企业信息 of the signed-in enterprise (filled in by the insurance lifecycle)."""

    route_base = "/my/enterprise"
    class_permission_name = "MyEnterprise"
    method_permission_name = {"show": "read"}
    default_view = "show"

    @expose("/")
    @has_access
    def show(self):
        from app.extensions import db

        party = party_of()
        enterprise = db.session.get(Enterprise, party.id) if party.kind == "enterprise" else None
        return self.render_template("enterprise/my_enterprise.html", enterprise=enterprise,
                                    labels=ENTERPRISE_LABELS)


class ProjectView(ScopedModelView):
    """项目信息 of the enterprise: its projects, 新增项目, and the next insurance step."""

    route_base = "/projects"
    datamodel = SQLAInterface(Project)
    class_permission_name = "Project"
    method_permission_name = READ_WRITE
    base_permissions = ["can_read", "can_write"]
    list_title = _("项目信息")
    add_title = _("新增项目")
    list_columns = ["project_code", "name", "region_code", "investment", "insurance_status"]
    show_columns = ["name", "project_code", "region_code", "builder_name", "address", "scale_content",
                    "investment", "planned_start", "planned_end", "insurance_status"]
    add_columns = ["region", "project_code", "name", "builder_name", "address", "scale_content",
                   "investment", "planned_start", "planned_end"]
    edit_columns = add_columns
    search_columns = ["name", "project_code", "insurance_status"]
    label_columns = PROJECT_LABELS
    formatters_columns = {"insurance_status": choice(ProjectInsuranceStatus), "investment": money}
    base_order = ("id", "desc")

