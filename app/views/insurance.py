from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _

from app.models import Application, InsuranceCompany, Policy
from app.models.enums import ApplicationStatus, PolicyStatus

from app.security.scope import OwnPartyFilter

from .base import READ_ONLY, ScopedModelView
from .formatters import choice, money

APPLICATION_LABELS = {
    "project": _("项目名称"), "project.name": _("项目名称"), "project.project_code": _("项目代码"),
    "plan": _("方案"), "plan.code": _("方案"), "project.investment": _("投资规模"), "contact_phone": _("联系电话"),
    "status": _("投保状态"), "enterprise": _("施工企业名称"), "broker": _("经纪公司"), "insurer": _("保险机构"),
    "review_opinion": _("审核意见"), "submitted_at": _("提交时间"),
}

POLICY_LABELS = {
    "project_name": _("项目名称"), "project_code": _("项目代码"), "plan": _("方案"), "plan.short_label": _("方案"),
    "enterprise": _("单位名称"), "enterprise.contact_mobile": _("联系电话"), "status": _("投保状态"),
    "builder_name": _("建设单位名称"), "premium": _("保费(元)"), "start_date": _("生效日期"),
    "end_date": _("终止日期"), "policy_no": _("保单号"), "ledger_no": _("项目号"), "created_at": _("创建时间"),
    "insurer": _("保险机构"),
}


class ApplicationView(ScopedModelView):
    """投保信息 (manual 二.1)."""

    route_base = "/applications"
    datamodel = SQLAInterface(Application)
    class_permission_name = "Application"
    method_permission_name = READ_ONLY
    base_permissions = ["can_read"]
    list_title = _("投保信息")
    show_title = _("投保详情")
    list_columns = ["project.name", "project.project_code", "plan.code", "project.investment", "contact_phone",
                    "status"]
    show_columns = ["enterprise", "project", "broker", "insurer", "plan", "contact_phone", "status",
                    "review_opinion"]
    search_columns = ["enterprise", "project", "status"]
    label_columns = APPLICATION_LABELS
    formatters_columns = {"status": choice(ApplicationStatus), "project.investment": money}
    base_order = ("id", "desc")


class PolicyView(ScopedModelView):
    """保单信息 (manual 二.2)."""

    route_base = "/policies"
    datamodel = SQLAInterface(Policy)
    class_permission_name = "Policy"
    method_permission_name = READ_ONLY
    base_permissions = ["can_read"]
    list_title = _("保单信息")
    show_title = _("保单详情")
    list_columns = ["project_name", "project_code", "plan.short_label", "enterprise.contact_mobile", "status"]
    show_columns = ["enterprise", "builder_name", "project_name", "project_code", "insurer", "plan", "premium",
                    "start_date", "end_date", "policy_no", "ledger_no", "status"]
    search_columns = ["project_name", "project_code", "policy_no", "status"]
    label_columns = POLICY_LABELS
    formatters_columns = {"status": choice(PolicyStatus), "premium": money}
    base_order = ("id", "desc")


class LedgerView(ScopedModelView):
    """保单台帐 (manual 二.4)."""

    route_base = "/ledger"
    datamodel = SQLAInterface(Policy)
    class_permission_name = "Ledger"
    method_permission_name = READ_ONLY
    base_permissions = ["can_read"]
    list_title = _("保单台帐")
    list_columns = ["ledger_no", "created_at", "enterprise", "project_name", "enterprise.contact_mobile",
                    "plan.short_label", "policy_no", "premium"]
    show_columns = ["ledger_no", "created_at", "enterprise", "project_name", "plan", "policy_no", "premium"]
    search_columns = ["enterprise", "project_name"]
    label_columns = dict(POLICY_LABELS, **{"enterprise.contact_mobile": _("联系方式"),
                                           "plan.short_label": _("参保方案")})
    formatters_columns = {"premium": money}
    base_order = ("id", "desc")


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
    label_columns = {"name": _("机构名称"), "short_name": _("简称"), "kind": _("类型"),
                     "contact_name": _("联系人"), "contact_phone": _("联系电话")}
