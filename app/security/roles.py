"""The role matrix, as data (Airflow's ROLE_CONFIGS, Superset's sync_role_definitions).

``ROLES`` maps each built-in role to the permissions it holds on each resource (a view's
``class_permission_name``) and to the menu items it sees. ``sync_roles`` writes this into FAB's
database-stored roles at start and through ``flask roles sync``; administrators can still add roles
of their own in FAB's security pages (those are left untouched). Admin gets every permission.
"""

from typing import Any

from app.models.enums import PartyKind as P
from app.workflows import permissions_of


def N_(text):
    """Marks a label for translation (rendered through gettext by the menu templates)."""
    return text


# Menu items: name (the permission key) -> (label, category). Categories are shared across roles;
# each role sees only the items it holds menu_access on. Labels are the manual's.
CATEGORIES = {
    "cat_info": N_("信息管理"),
    "cat_prevention": N_("事故预防"),
    "cat_reference": N_("基础数据"),
    "cat_audit": N_("审计"),
}

# The platform administrator's own top-level menus; every party's menus, which the administrator also
# sees, are gathered under one 业务菜单 (templates/appbuilder/navbar_menu.html) so the bar fits one row.
ADMIN_MENU_TOP = ("Security", "cat_reference", "cat_audit", "my_jobs")


def is_platform_admin(user):
    """The platform administrator: the Admin role, bound to no party."""
    from flask import current_app

    admin_role = current_app.config.get("AUTH_ROLE_ADMIN", "Admin")
    return (
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.party_kind is None
        and any(r.name == admin_role for r in user.roles)
    )


MENU = {
    # enterprise
    "ent_info": (N_("企业信息"), None),
    "ent_projects": (N_("项目信息"), None),
    "ent_todo": (N_("待办任务"), "cat_prevention"),
    "ent_done": (N_("已办任务"), "cat_prevention"),
    # insurer and broker
    "ins_applications": (N_("投保信息"), "cat_info"),
    "ins_policies": (N_("保单信息"), "cat_info"),
    "ins_ledger": (N_("保单台帐"), "cat_info"),
    "insured_projects": (N_("投保项目"), "cat_prevention"),
    "ins_orders": (N_("派单管理"), "cat_prevention"),
    "ins_experts": (N_("专业技术人员"), "cat_prevention"),
    "ins_report_review": (N_("报告审核"), "cat_prevention"),
    "ins_reports": (N_("查看报告"), "cat_prevention"),
    "ins_member": (N_("会员信息"), "cat_prevention"),
    # prevention org
    "org_received": (N_("承接项目"), None),
    "org_orders": (N_("派单管理"), None),
    "org_experts": (N_("专业技术人员"), None),
    "org_report_review": (N_("报告审核"), None),
    # expert
    "exp_todo": (N_("待办任务"), None),
    "exp_done": (N_("已办任务"), None),
    # department
    "dept_enterprises": (N_("企业信息"), "cat_info"),
    "dept_projects": (N_("项目信息"), "cat_info"),
    "dept_statistics": (N_("统计报告"), "cat_info"),
    "dept_dashboard": (N_("数据大屏"), "cat_info"),
    "dept_reports": (N_("报告列表"), "cat_prevention"),
    # admin: reference data and audit
    "ref_regions": (N_("行政区划"), "cat_reference"),
    "ref_companies": (N_("保险机构"), "cat_reference"),
    "ref_plans": (N_("投保方案"), "cat_reference"),
    "ref_float_rules": (N_("保费浮动比例"), "cat_reference"),
    "ref_service_items": (N_("服务项目"), "cat_reference"),
    "ref_hazard_categories": (N_("隐患类别"), "cat_reference"),
    "ref_titles": (N_("职称"), "cat_reference"),
    "ref_major_hazards": (N_("重大事故隐患判定标准"), "cat_reference"),
    "ref_orgs": (N_("事故预防机构"), "cat_reference"),
    "ref_departments": (N_("职能部门"), "cat_reference"),
    "ref_enterprises": (N_("建筑施工企业"), "cat_reference"),
    "ref_registry": (N_("住建厅项目表"), "cat_reference"),
    "ref_settings": (N_("系统参数"), "cat_reference"),
    "ref_api_keys": (N_("API密钥"), "cat_reference"),
    "audit_flow": (N_("流程记录"), "cat_audit"),
    "audit_log": (N_("安全审计"), "cat_audit"),
    "sec_accounts": (N_("账号管理"), "cat_audit"),
    # every role that exports or imports: its own jobs
    "my_jobs": (N_("我的导出/导入"), None),
}

# Every signed-in user may change his or her own password and read his or her own profile.
SELF_SERVICE = [
    ("can_this_form_get", "ResetMyPasswordView"),
    ("can_this_form_post", "ResetMyPasswordView"),
    ("can_userinfo", "UserDBModelView"),
    ("resetmypassword", "UserDBModelView"),
    ("can_download", "File"),
]

INSURER_MENUS = [
    "ins_applications",
    "ins_policies",
    "ins_ledger",
    "insured_projects",
    "ins_orders",
    "ins_experts",
    "ins_report_review",
    "ins_reports",
    "ins_member",
]

# Each built-in role acts for one kind of party. Besides what is listed here it holds the permission of
# every workflow transition its party may fire (app/workflows: the same table decides the button, the
# service's check and this grant).
ROLES: dict[str, dict[str, Any]] = {
    "Enterprise": {
        "party": P.ENTERPRISE,
        "permissions": {
            "MyEnterprise": ["read", "write"],
            "Project": ["read", "write"],
            "Application": ["read", "write"],
            "EnterpriseTask": ["read"],
        },
        "menus": ["ent_info", "ent_projects", "ent_todo", "ent_done"],
    },
    "Insurer": {
        "party": P.INSURER,
        "permissions": {
            "Application": ["read", "export", "download"],
            "Policy": ["read", "download", "claim"],
            "Ledger": ["read", "export"],
            "InsuredProject": ["read", "dispatch"],
            "DispatchOrder": ["read", "export"],
            "Expert": ["read", "write"],
            "ReportReview": ["read"],
            "Report": ["read", "download"],
            "MemberInfo": ["read", "write"],
        },
        "menus": INSURER_MENUS,
    },
    "Broker": {
        "party": P.BROKER,
        "permissions": {
            "Application": ["read", "export", "download"],
            "Policy": ["read", "download"],
            "Ledger": ["read", "export"],
            "InsuredProject": ["read"],
            "DispatchOrder": ["read", "export"],
            "Expert": ["read"],
            "ReportReview": ["read"],
            "Report": ["read", "download"],
            "MemberInfo": ["read", "write"],
        },
        "menus": INSURER_MENUS,
    },
    "PreventionOrg": {
        "party": P.ORG,
        "permissions": {
            "ReceivedOrder": ["read"],
            "DispatchOrder": ["read", "export"],
            "Expert": ["read", "write"],
            "ReportReview": ["read"],
            "Report": ["read", "download"],
        },
        "menus": ["org_received", "org_orders", "org_experts", "org_report_review"],
    },
    "Expert": {
        "party": P.EXPERT,
        "permissions": {
            "ExpertTask": ["read"],
        },
        "menus": ["exp_todo", "exp_done"],
    },
    "Department": {
        "party": P.DEPARTMENT,
        "permissions": {
            "Enterprise": ["read"],
            "DeptProject": ["read", "export"],
            "Statistics": ["read", "export"],
            "Dashboard": ["read"],
            "InsuredProject": ["read"],
            "Report": ["read", "download"],
            "Registry": ["read", "import"],
        },
        "menus": [
            "dept_enterprises",
            "dept_projects",
            "dept_statistics",
            "dept_dashboard",
            "insured_projects",
            "dept_reports",
        ],
    },
}

# REST API (app/api): each role reads what its party sees (the scope narrows the rows) and writes as the
# workflows allow it; API keys act as Insurer or Broker service users. Admin issues keys ("ApiKeyAdmin").
_API_DOCS = {"OpenApi": ["get"], "SwaggerView": ["show"]}
_API_READ = {
    r: ["read"]
    for r in (
        "ApiEnterprise",
        "ApiProject",
        "ApiApplication",
        "ApiPolicy",
        "ApiClaim",
        "ApiDispatchOrder",
        "ApiServiceReport",
        "ApiDeletion",
    )
}
API_PERMISSIONS = {
    "Insurer": {
        "ApiApplication": ["read", "review", "issue"],
        "ApiPolicy": ["read", "claim"],
        "ApiClaim": ["read", "write"],
        "ApiDispatchOrder": ["read", "dispatch"],
        "ApiWebhook": ["read", "write"],
    },
    "Broker": {"ApiApplication": ["read", "review"], "ApiWebhook": ["read", "write"]},
    "PreventionOrg": {"ApiDispatchOrder": ["read", "accept"]},
    "Enterprise": {"ApiApplication": ["read", "withdraw"]},
    "Expert": {},
    "Department": {},
}
for _role, _perms in API_PERMISSIONS.items():
    ROLES[_role]["permissions"].update(_API_DOCS, **_API_READ)
    ROLES[_role]["permissions"].update(_perms)

# 我的导出/导入 (app/views/jobs.py): the roles that export or import see their own jobs.
for _role in ("Insurer", "Broker", "PreventionOrg", "Department"):
    ROLES[_role]["permissions"]["MyJobs"] = ["read"]
    ROLES[_role]["menus"] = [*ROLES[_role]["menus"], "my_jobs"]

MENU_CATEGORY_OF = {name: cat for name, (_label, cat) in MENU.items()}


def role_permission_pairs(role_name):
    """(permission, view_menu) pairs a built-in role must hold, in FAB's naming."""
    spec = ROLES[role_name]
    pairs = set(SELF_SERVICE)
    for resource, perms in spec["permissions"].items():
        pairs.update(("can_" + p, resource) for p in perms)
    for resource, perms in permissions_of(spec["party"]).items():
        pairs.update(("can_" + p, resource) for p in perms)
    for menu in spec["menus"]:
        pairs.add(("menu_access", menu))
        cat = MENU_CATEGORY_OF.get(menu)
        if cat:
            pairs.add(("menu_access", cat))
    return pairs


def sync_roles(security_manager):
    """Create the built-in roles and set their permissions exactly to the matrix."""
    sm = security_manager
    session = sm.session
    for role_name in ROLES:
        role = sm.find_role(role_name) or sm.add_role(role_name)
        wanted = []
        for perm, view in sorted(role_permission_pairs(role_name)):
            pv = sm.find_permission_view_menu(perm, view) or sm.add_permission_view_menu(perm, view)
            wanted.append(pv)
        role.permissions = wanted
    from flask_appbuilder.security.sqla.models import PermissionView

    sm.find_role(sm.auth_role_public) or sm.add_role(sm.auth_role_public)
    admin = sm.find_role(sm.auth_role_admin) or sm.add_role(sm.auth_role_admin)
    admin.permissions = session.query(PermissionView).all()
    session.commit()
