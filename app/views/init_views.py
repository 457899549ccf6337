"""Every view is registered here, inside the app factory, in menu order."""

from app.api.registry import register_api
from app.security.roles import CATEGORIES, MENU

from . import (
    api_keys,
    auth,
    department,
    enterprise,
    files,
    insurance,
    prevention,
    reference,
    registry_import,
    statistics,
)


def _share_permissions(modules):
    """Views that share a permission resource (待办任务 and 已办任务 are both ExpertTask) declare the union
    of their permissions: FAB otherwise removes, while registering one view, what another view of the same
    resource needs, and warns about it at every start."""
    from flask_appbuilder import BaseView

    by_resource = {}
    for module in modules:
        for view in vars(module).values():
            if (
                isinstance(view, type)
                and issubclass(view, BaseView)
                and view.__module__.startswith("app.views")
                and getattr(view, "class_permission_name", None)
                and getattr(view, "method_permission_name", None)
            ):
                by_resource.setdefault(view.class_permission_name, set()).add(view)
    for views in by_resource.values():
        names = {"can_" + name for view in views for name in view.method_permission_name.values()}
        for view in views:
            view.base_permissions = sorted(names)


def register_views(appbuilder):
    from flask import current_app

    from .base import install_list_links

    install_list_links(current_app)
    _share_permissions(
        (api_keys, auth, department, enterprise, files, insurance, prevention, reference, registry_import, statistics)
    )

    def add(view, menu_name):
        label, category = MENU[menu_name]
        kwargs = {"label": label}
        if category:
            kwargs.update(category=category, category_label=CATEGORIES[category])
        return appbuilder.add_view(view, menu_name, **kwargs)

    def also(view_instance, menu_name):
        label, category = MENU[menu_name]
        kwargs = {"label": label}
        if category:
            kwargs.update(category=category, category_label=CATEGORIES[category])
        appbuilder.add_link(menu_name, href=f"{type(view_instance).__name__}.{view_instance.default_view}", **kwargs)

    ent = enterprise
    my_enterprise = add(ent.MyEnterpriseView, "ent_info")
    add(ent.ProjectView, "ent_projects")

    add(insurance.ApplicationView, "ins_applications")
    add(insurance.PolicyView, "ins_policies")
    add(insurance.LedgerView, "ins_ledger")
    add(department.EnterpriseView, "dept_enterprises")
    add(department.DeptProjectView, "dept_projects")
    add(statistics.StatisticsView, "dept_statistics")
    add(statistics.DashboardView, "dept_dashboard")

    add(prevention.EnterpriseTodoView, "ent_todo")
    add(prevention.EnterpriseDoneView, "ent_done")
    add(prevention.InsuredProjectView, "insured_projects")
    orders = add(prevention.DispatchOrderView, "ins_orders")
    experts = add(prevention.ExpertView, "ins_experts")
    review = add(prevention.ReportReviewView, "ins_report_review")
    reports = add(prevention.ReportView, "ins_reports")
    add(insurance.MemberInfoView, "ins_member")
    also(reports, "dept_reports")

    add(prevention.ReceivedOrderView, "org_received")
    also(orders, "org_orders")
    also(experts, "org_experts")
    also(review, "org_report_review")

    add(prevention.ExpertTodoView, "exp_todo")
    add(prevention.ExpertDoneView, "exp_done")

    for view, name in (
        (reference.RegionAdminView, "ref_regions"),
        (reference.CompanyAdminView, "ref_companies"),
        (reference.PlanAdminView, "ref_plans"),
        (reference.FloatRuleAdminView, "ref_float_rules"),
        (reference.ServiceItemAdminView, "ref_service_items"),
        (reference.HazardCategoryAdminView, "ref_hazard_categories"),
        (reference.TitleLevelAdminView, "ref_titles"),
        (reference.MajorHazardAdminView, "ref_major_hazards"),
        (reference.OrgAdminView, "ref_orgs"),
        (reference.DepartmentAdminView, "ref_departments"),
        (reference.EnterpriseAdminView, "ref_enterprises"),
        (reference.RegistryProjectView, "ref_registry"),
        (reference.SettingAdminView, "ref_settings"),
        (reference.FlowEventView, "audit_flow"),
        (auth.AuditEventView, "audit_log"),
        (auth.AccountAdminView, "sec_accounts"),
    ):
        add(view, name)
    add(api_keys.ApiKeyView, "ref_api_keys")

    appbuilder.add_view_no_menu(files.FileView)
    auth.register_login_views(appbuilder)
    appbuilder.add_view_no_menu(registry_import.RegistryImportView)
    register_api(appbuilder)
    return my_enterprise
