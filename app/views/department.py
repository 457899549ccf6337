"""The departments' 企业信息 and 项目信息 (manual 五.1–2); 统计报告 and 数据大屏 are in views/statistics.py."""

from flask import url_for
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from markupsafe import Markup

from app.models import Enterprise, Project
from app.models.enums import ApplicationStatus, ProjectInsuranceStatus

from .base import READ_ONLY, ScopedModelView
from .buttons import Button
from .enterprise import ENTERPRISE_FIELDS, ENTERPRISE_LABELS, PROJECT_LABELS
from .formatters import choice, money
from .search import Choice, RegionPrefix, Text


def file_link(stored_file):
    """文件查看: opens the file inline through the scoped file view."""
    if stored_file is None:
        return ""
    return Markup('<a href="%s" target="_blank" rel="noopener">%s</a>') % (
        url_for("FileView.view", file_id=stored_file.id),
        _("文件查看"),
    )


# ---------------------------------------------------------------------------------------------------
# 企业信息 (manual 五.1)
# ---------------------------------------------------------------------------------------------------

FILE_COLUMNS = [
    "business_license_file",
    "qualification_file",
    "legal_id_front_file",
    "legal_id_back_file",
    "legal_id_qr_file",
    "safety_permit_file",
]


class EnterpriseView(ScopedModelView):
    """企业信息: the enterprises that have logged in, with 详情 showing their data and licence files."""

    route_base = "/enterprises"
    datamodel = SQLAInterface(Enterprise)
    class_permission_name = "Enterprise"
    method_permission_name = READ_ONLY
    list_title = _("企业信息")
    show_title = _("企业详情")
    list_columns = [
        "name",
        "credit_code",
        "region_code",
        "contact_name",
        "contact_mobile",
        "legal_name",
        "first_login_at",
    ]
    show_fieldsets = [
        # the fields the enterprise keeps itself under 企业信息, then when it first signed in
        (_("基本信息"), {"fields": [*ENTERPRISE_FIELDS, "first_login_at"]}),
        (_("证照资料"), {"fields": FILE_COLUMNS}),
    ]
    search_bar = [
        Text("name", _("企业名称"), "name"),
        Text("credit_code", _("统一社会信用代码"), "credit_code"),
        RegionPrefix("region", _("行政区划代码"), "region_code", placeholder="230100"),
    ]
    label_columns = dict(
        ENTERPRISE_LABELS,
        first_login_at=_("首次登录时间"),
        business_license_file=_("营业执照"),
        qualification_file=_("资质文件"),
        legal_id_front_file=_("法人身份证人像面"),
        legal_id_back_file=_("法定代表人身份证国徽面"),
        legal_id_qr_file=_("法人身份证二维码"),
        safety_permit_file=_("安全生产许可证"),
    )
    formatters_columns = dict.fromkeys(FILE_COLUMNS, file_link)
    base_order = ("id", "desc")


# ---------------------------------------------------------------------------------------------------
# 项目信息 (manual 五.2)
# ---------------------------------------------------------------------------------------------------


def money_or_zero(value):
    return money(value or 0)


class DeptProjectView(ScopedModelView):
    """项目信息 for departments: the manual's columns and filters, 共 N 项 with paging, export, 电子保单.
    Insurer, 承保时间 and premium are those of the project's latest application and its policy."""

    route_base = "/dept/projects"
    datamodel = SQLAInterface(Project)
    class_permission_name = "DeptProject"
    method_permission_name = dict(READ_ONLY, export="export")
    list_title = _("项目信息")
    show_title = _("项目详情")
    list_table_id = "project-table"
    page_size = 10
    list_columns = [
        "name",
        "address",
        "enterprise.name",
        "latest_application.insurer.short_name",
        "latest_application.policy.start_date",
        "scale_content",
        "investment",
        "latest_application.policy.premium",
        "insurance_status",
        "contact",
    ]
    show_columns = [
        "name",
        "project_code",
        "region_code",
        "enterprise",
        "builder_name",
        "address",
        "scale_content",
        "investment",
        "planned_start",
        "planned_end",
        "insurance_status",
    ]
    label_columns = dict(
        PROJECT_LABELS,
        **{
            "enterprise": _("投保单位"),
            "enterprise.name": _("投保单位"),
            "latest_application.insurer.short_name": _("保险机构"),
            "latest_application.policy.start_date": _("承保时间"),
            "latest_application.policy.premium": _("保费(元)"),
            "contact": _("联系方式"),
        },
    )
    formatters_columns = {
        "insurance_status": choice(ProjectInsuranceStatus),
        "investment": money,
        "latest_application.policy.premium": money_or_zero,
    }
    search_bar = [
        RegionPrefix("region", _("行政区划代码"), "region_code", placeholder="230100"),
        Text("name", _("项目名称"), "name"),
        Text("enterprise", _("单位名称"), "enterprise"),
        Choice("status", _("投保状态"), "insurance_status", ProjectInsuranceStatus),
    ]
    export_columns = [
        ("name", _("项目名称")),
        ("address", _("项目地址")),
        ("enterprise.name", _("投保单位")),
        ("latest_application.insurer.short_name", _("保险机构")),
        ("latest_application.policy.start_date", _("承保时间")),
        ("scale_content", _("建设规模及内容")),
        ("investment", _("投资规模(万元)")),
        ("latest_application.policy.premium", _("保费(元)")),
        ("insurance_status", _("投保状态"), ProjectInsuranceStatus),
        (("latest_application.contact_phone", "enterprise.contact_mobile"), _("联系方式")),
    ]
    base_order = ("id", "desc")

    def row_buttons(self, project, party):
        buttons = super().row_buttons(project, party)
        latest = project.latest_application
        policy = latest.policy if latest is not None else None
        if policy is not None and policy.policy_file_id and project.insurance_status == ApplicationStatus.INSURED:
            buttons.append(Button(_("电子保单"), url_for("FileView.view", file_id=policy.policy_file_id)))
        return buttons
