"""The departments' 企业信息 and 项目信息 (manual 五.1–2); 统计报告 and 数据大屏 are in views/statistics.py."""

from flask import abort, flash, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from markupsafe import Markup
from sqlalchemy import false, func, select

from app.extensions import db
from app.models import Application, Enterprise, InsuranceCompany, Policy, Project, Region
from app.models.enums import ProjectInsuranceStatus
from app.security.scope import scoped_select

from .base import READ_ONLY, ScopedModelView
from .datamodel import PAGE_SIZES, paginate
from .enterprise import ENTERPRISE_LABELS, PROJECT_LABELS
from .formatters import choice, money


def file_link(stored_file):
    """文件查看: opens the file inline through the scoped file view."""
    if stored_file is None:
        return ""
    return Markup('<a href="%s" target="_blank" rel="noopener">%s</a>') % (
        url_for("FileView.view", file_id=stored_file.id),
        _("文件查看"),
    )


def _service_error(exc):
    """Map a service error to the page: 403/404 abort, anything else a flash message."""
    if exc.status in (403, 404):
        abort(exc.status)
    flash(str(exc.message), "danger")


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
    base_permissions = ["can_read"]
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
        (
            _("基本信息"),
            {
                "fields": [
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
                    "first_login_at",
                ]
            },
        ),
        (_("证照资料"), {"fields": FILE_COLUMNS}),
    ]
    search_columns = ["name", "credit_code", "region_code"]
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

# (key, label, kind) of the list and the export, in the manual's order.
PROJECT_COLUMNS = [
    ("name", _("项目名称"), "text"),
    ("address", _("项目地址"), "text"),
    ("enterprise_name", _("投保单位"), "text"),
    ("insurer", _("保险机构"), "text"),
    ("start_date", _("承保时间"), "date"),
    ("scale_content", _("建设规模及内容"), "text"),
    ("investment", _("投资规模(万元)"), "money"),
    ("premium", _("保费(元)"), "money"),
    ("insurance_status", _("投保状态"), "status"),
    ("contact", _("联系方式"), "text"),
]


def _export_getter(key, kind):
    if kind == "status":
        return lambda row: str(ProjectInsuranceStatus.label(row.insurance_status))
    return lambda row: getattr(row, key)


EXPORT_COLUMNS = [(label, _export_getter(key, kind)) for key, label, kind in PROJECT_COLUMNS]


def region_prefix(code):
    """行政区划代码 filter → code prefix: 230000 → 23, 230100 → 2301, a county its full code."""
    code = (code or "").strip()
    if not code.isdigit():
        return None
    region = db.session.get(Region, code) if len(code) == 6 else None
    return region.prefix if region is not None else code


def project_filters(args):
    return {
        "region": (args.get("region") or "").strip(),
        "name": (args.get("name") or "").strip(),
        "enterprise": (args.get("enterprise") or "").strip(),
        "status": (args.get("status") or "").strip(),
    }


def dept_project_ids(filters):
    """The ids of the 项目信息 list (its filter and order, Enterprise joined only to search by its name):
    what the count and deep pages walk."""
    stmt = scoped_select(Project, None, Project.id)
    prefix = region_prefix(filters["region"])
    if filters["region"] and prefix is None:
        stmt = stmt.where(false())
    elif prefix:
        stmt = stmt.where(Project.region_code.like(prefix + "%"))
    if filters["name"]:
        stmt = stmt.where(Project.name.contains(filters["name"], autoescape=True))
    if filters["enterprise"]:
        stmt = stmt.join(Enterprise, Enterprise.id == Project.enterprise_id).where(
            Enterprise.name.contains(filters["enterprise"], autoescape=True)
        )
    if filters["status"] in ProjectInsuranceStatus.values():
        stmt = stmt.where(Project.insurance_status == filters["status"])
    return stmt.order_by(Project.id.desc())


def dept_project_query(filters, ids=None):
    """The 项目信息 list's rows: projects in the user's scope with their latest application and policy.
    The list and its export both use it (``ids``: ``dept_project_ids(filters)`` when already built)."""
    latest = (
        select(func.max(Application.id))
        .where(Application.project_id == Project.id)
        .correlate(Project)
        .scalar_subquery()
    )
    ids = dept_project_ids(filters) if ids is None else ids
    stmt = ids.add_columns(
        Project.name,
        Project.address,
        Enterprise.name.label("enterprise_name"),
        InsuranceCompany.short_name.label("insurer"),
        Policy.start_date,
        Project.scale_content,
        Project.investment,
        func.coalesce(Policy.premium, 0).label("premium"),
        Project.insurance_status,
        func.coalesce(Application.contact_phone, Enterprise.contact_mobile).label("contact"),
        Policy.policy_file_id,
        Project.region_code,
        Project.project_code,
    )
    if not filters["enterprise"]:
        stmt = stmt.join(Enterprise, Enterprise.id == Project.enterprise_id)
    return (
        stmt.outerjoin(Application, Application.id == latest)
        .outerjoin(InsuranceCompany, InsuranceCompany.id == Application.insurer_id)
        .outerjoin(Policy, Policy.application_id == Application.id)
    )


class DeptProjectView(ScopedModelView):
    """项目信息 for departments: the manual's columns, filters, 共 N 项 with paging, export, e-policy."""

    route_base = "/dept/projects"
    datamodel = SQLAInterface(Project)
    class_permission_name = "DeptProject"
    method_permission_name = dict(READ_ONLY, export="export")
    base_permissions = ["can_read", "can_export"]
    list_title = _("项目信息")
    show_title = _("项目详情")
    list_columns = ["name", "address", "enterprise", "scale_content", "investment", "insurance_status"]
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
    label_columns = dict(PROJECT_LABELS, enterprise=_("投保单位"))
    formatters_columns = {"insurance_status": choice(ProjectInsuranceStatus), "investment": money}
    base_order = ("id", "desc")

    @expose("/list/")
    @has_access
    def list(self):
        filters = project_filters(request.args)
        size = request.args.get("psize", type=int)
        size = size if size in PAGE_SIZES else PAGE_SIZES[0]
        # ?page= is 1-based here (the manual's pager); paginate() counts from 0
        ids = dept_project_ids(filters)
        pager = paginate(
            dept_project_query(filters, ids), request.args.get("page", 1, type=int) - 1, size, scalars=False, ids=ids
        )
        rows = [dict(r._mapping) for r in pager.rows]
        return self.render_template(
            "department/projects.html",
            title=self.list_title,
            rows=rows,
            pager=pager,
            total=pager.count,
            page=pager.page + 1,
            pages=pager.pages,
            size=size,
            sizes=PAGE_SIZES,
            filters=filters,
            columns=PROJECT_COLUMNS,
            statuses=ProjectInsuranceStatus.choices(),
            status_of=choice(ProjectInsuranceStatus),
            can_export=self.appbuilder.sm.has_access("can_export", self.class_permission_name),
        )

    @expose("/export/")
    @has_access
    def export(self):
        """The list's own query, all filtered rows (not just the page), as xlsx or csv."""
        from app.views.jobs import export_or_job

        return export_or_job("dept_projects")
