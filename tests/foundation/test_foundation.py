"""The skeleton: app boots from migrations, every demo account logs in and sees exactly its menu."""

import pytest

from app.security.roles import CATEGORIES, MENU, ROLES

ACCOUNTS = {
    "admin": "Admin",
    "dept_province": "Department",
    "dept_harbin": "Department",
    "enterprise_demo": "Enterprise",
    "enterprise_demo2": "Enterprise",
    "insurer_picc": "Insurer",
    "insurer_pingan": "Insurer",
    "broker_kunlun": "Broker",
    "org_demo": "PreventionOrg",
    "expert_demo": "Expert",
}


def _menu_names(app, username):
    from app.extensions import db
    from app.models import AppUser

    with app.test_request_context():
        from flask import g
        from flask_login import login_user

        user = db.session.query(AppUser).filter_by(username=username).one()
        login_user(user)
        g.user = user
        names = set()
        for item in app.appbuilder.menu.get_list():
            for child in item.childs or [item]:
                if child.name in MENU and app.appbuilder.sm.has_access("menu_access", child.name):
                    names.add(child.name)
        return names


@pytest.mark.parametrize("username,role", sorted(ACCOUNTS.items()))
def test_each_role_sees_exactly_its_menu(app, username, role):
    names = _menu_names(app, username)
    if role == "Admin":
        assert names == set(MENU)
    else:
        assert names == MENUS[role]


@pytest.mark.parametrize("username", sorted(ACCOUNTS))
def test_login_lands_on_own_first_page_in_chinese(as_user, username):
    client = as_user(username)
    response = client.get("/", follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    role = ACCOUNTS[username]
    if role != "Admin":
        for menu in sorted(MENUS[role]):
            assert str(MENU[menu][0]) in html
    assert "退出" in html or "注销" in html or "Logout" not in html


# The role matrix, written down by hand (the manual's menus per role and what each role may do):
# what the database grants must be exactly this. A change to app/security/roles.py (or to the
# workflows it takes permissions from) must be mirrored here deliberately.
API_READ = {
    r: {"read"}
    for r in (
        "ApiApplication",
        "ApiClaim",
        "ApiDispatchOrder",
        "ApiEnterprise",
        "ApiPolicy",
        "ApiProject",
        "ApiServiceReport",
        "ApiDeletion",  # tombstones of rows that left the reader's view (sync)
    )
}
API_DOCS = {"OpenApi": {"get"}, "SwaggerView": {"show"}}
MATRIX = {
    "Enterprise": {
        "ApiApplication": {"withdraw"},
        "Application": {"read", "write"},
        "EnterpriseTask": {"read", "rectify"},
        "MyEnterprise": {"read", "write"},
        "Project": {"read", "write"},
    },
    "Insurer": {
        "ApiApplication": {"issue", "read", "review"},
        "ApiClaim": {"read", "write"},
        "ApiDispatchOrder": {"dispatch", "read"},
        "ApiPolicy": {"claim", "read"},
        "ApiWebhook": {"read", "write"},
        "Application": {"download", "export", "issue", "read", "review"},
        "DispatchOrder": {"assign", "dispatch", "export", "read"},
        "Expert": {"read", "write"},
        "InsuredProject": {"dispatch", "read"},
        "Ledger": {"export", "read"},
        "MemberInfo": {"read", "write"},
        "MyJobs": {"read"},
        "Policy": {"claim", "download", "read", "surrender"},
        "Report": {"download", "read"},
        "ReportReview": {"read", "review"},
    },
    "Broker": {
        "ApiApplication": {"read", "review"},
        "ApiWebhook": {"read", "write"},
        "Application": {"download", "export", "read", "review"},
        "DispatchOrder": {"export", "read"},
        "Expert": {"read"},
        "InsuredProject": {"read"},
        "Ledger": {"export", "read"},
        "MemberInfo": {"read", "write"},
        "MyJobs": {"read"},
        "Policy": {"download", "read"},
        "Report": {"download", "read"},
        "ReportReview": {"read"},
    },
    "PreventionOrg": {
        "ApiDispatchOrder": {"accept", "read"},
        "DispatchOrder": {"assign", "export", "read"},
        "Expert": {"read", "write"},
        "MyJobs": {"read"},
        "ReceivedOrder": {"accept", "read"},
        "Report": {"download", "read"},
        "ReportReview": {"read", "review"},
    },
    "Expert": {
        "ExpertTask": {"handle", "read"},
    },
    "Department": {
        "Dashboard": {"read"},
        "DeptProject": {"export", "read"},
        "Enterprise": {"read"},
        "InsuredProject": {"read"},
        "MyJobs": {"read"},
        "Registry": {"import", "read"},
        "Report": {"download", "read"},
        "Statistics": {"export", "read"},
    },
}
MENUS = {
    "Enterprise": {"ent_info", "ent_projects", "ent_todo", "ent_done"},
    "Insurer": {
        "ins_applications",
        "ins_policies",
        "ins_ledger",
        "insured_projects",
        "ins_orders",
        "ins_experts",
        "ins_report_review",
        "ins_reports",
        "ins_member",
        "my_jobs",
    },
    "PreventionOrg": {"org_received", "org_orders", "org_experts", "org_report_review", "my_jobs"},
    "Expert": {"exp_todo", "exp_done"},
    "Department": {
        "dept_enterprises",
        "dept_projects",
        "dept_statistics",
        "dept_dashboard",
        "insured_projects",
        "dept_reports",
        "my_jobs",
    },
}
MENUS["Broker"] = MENUS["Insurer"]
CATEGORY = {
    "ent_todo": "cat_prevention",
    "ent_done": "cat_prevention",
    "ins_applications": "cat_info",
    "ins_policies": "cat_info",
    "ins_ledger": "cat_info",
    "insured_projects": "cat_prevention",
    "ins_orders": "cat_prevention",
    "ins_experts": "cat_prevention",
    "ins_report_review": "cat_prevention",
    "ins_reports": "cat_prevention",
    "ins_member": "cat_prevention",
    "dept_enterprises": "cat_info",
    "dept_projects": "cat_info",
    "dept_statistics": "cat_info",
    "dept_dashboard": "cat_info",
    "dept_reports": "cat_prevention",
}
SELF_SERVICE = {
    ("can_this_form_get", "ResetMyPasswordView"),
    ("can_this_form_post", "ResetMyPasswordView"),
    ("can_userinfo", "UserDBModelView"),
    ("resetmypassword", "UserDBModelView"),
    ("can_download", "File"),
}


def _expected_pairs(role):
    grants = dict(API_DOCS, **API_READ)
    for resource, perms in MATRIX[role].items():
        grants[resource] = grants.get(resource, set()) | perms
    pairs = set(SELF_SERVICE) | {("can_" + p, r) for r, perms in grants.items() for p in perms}
    pairs |= {("menu_access", m) for m in MENUS[role]}
    pairs |= {("menu_access", CATEGORY[m]) for m in MENUS[role] if m in CATEGORY}
    return pairs


def test_the_built_in_roles_are_exactly_these():
    assert set(ROLES) == set(MATRIX) == set(MENUS)


@pytest.mark.parametrize("role_name", sorted(MATRIX))
def test_role_matrix_in_the_database(app, role_name):
    with app.app_context():
        role = app.appbuilder.sm.find_role(role_name)
        held = {(pv.permission.name, pv.view_menu.name) for pv in role.permissions}
    missing, extra = _expected_pairs(role_name) - held, held - _expected_pairs(role_name)
    assert (missing, extra) == (set(), set())


def test_permission_checks_are_cached_per_request(app, as_user):
    from sqlalchemy import event

    from app.extensions import db

    client = as_user("insurer_picc")
    client.get("/applications/list/")
    with app.app_context():
        engine = db.engine
    statements = []

    def count(conn, cursor, statement, *args):
        if "ab_permission" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/applications/list/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) <= 2, statements


def test_the_menu_bar_follows_a_role_edit_at_once(app, as_user):
    """The bar is rendered once per permission set (app/web/page.py), so a menu taken from a role is gone
    from the very next page, and given back it returns."""
    from app.extensions import db

    client = as_user("insurer_picc")

    def bar():
        html = client.get("/applications/list/").get_data(as_text=True)
        return html[html.index('aria-label="主菜单"') : html.index('id="user-menu"')]

    assert 'href="/ledger/list/"' in bar() and 'href="/policies/list/"' in bar()
    with app.app_context():
        sm = app.appbuilder.sm
        role, ledger = sm.find_role("Insurer"), sm.find_permission_view_menu("menu_access", "ins_ledger")
        sm.del_permission_role(role, ledger)
        db.session.commit()
    assert 'href="/ledger/list/"' not in bar() and 'href="/policies/list/"' in bar()
    with app.app_context():
        sm.add_permission_role(sm.find_role("Insurer"), sm.find_permission_view_menu("menu_access", "ins_ledger"))
        db.session.commit()
    assert 'href="/ledger/list/"' in bar()


def test_categories_have_chinese_labels():
    assert CATEGORIES["cat_prevention"] == "事故预防"
    assert CATEGORIES["cat_info"] == "信息管理"


def test_an_admin_defined_role_works_with_the_scope(app):
    """A read-only auditor role made in FAB's security pages, bound to the Harbin department."""
    from werkzeug.security import generate_password_hash

    from app.extensions import db
    from app.models import AppUser, Department
    from app.models.base import utcnow

    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.add_role("HarbinAuditor")
        for perm, view in (("can_read", "DeptProject"), ("menu_access", "dept_projects"), ("menu_access", "cat_info")):
            sm.add_permission_role(role, sm.find_permission_view_menu(perm, view))
        from app.models import Project

        dept = db.session.query(Department).filter_by(region_code="230100").one()
        ent = db.session.query(AppUser).filter_by(username="enterprise_demo").one().enterprise
        for code, name in (("230103", "审计测试哈尔滨项目"), ("230202", "审计测试齐齐哈尔项目")):
            db.session.add(
                Project(enterprise_id=ent.id, region_code=code, project_code="AUDIT-" + code, name=name, investment=10)
            )
        db.session.add(
            AppUser(
                username="auditor_harbin",
                first_name="审计",
                last_name="员",
                email="auditor@example.invalid",
                active=True,
                roles=[role],
                party_kind="department",
                department_id=dept.id,
                password=generate_password_hash("Audit@2026x"),
                password_changed_at=utcnow(),
            )
        )  # else the first-login change is due
        db.session.commit()
    client = app.test_client()
    client.post("/login/", data={"username": "auditor_harbin", "password": "Audit@2026x"})
    page = client.get("/dept/projects/list/", query_string={"name": "审计测试"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "审计测试哈尔滨项目" in html and "审计测试齐齐哈尔项目" not in html  # its department's rows only
    assert client.get("/applications/list/").status_code in (302, 403)
    with app.test_request_context():
        from app.models import Project
        from app.security.scope import criterion

        user = db.session.query(AppUser).filter_by(username="auditor_harbin").one()
        names = {p.name for p in db.session.query(Project).filter(criterion(Project, user))}
        assert "审计测试哈尔滨项目" in names and "审计测试齐齐哈尔项目" not in names


def test_english_is_selectable(as_user):
    client = as_user("insurer_picc")
    zh = client.get("/applications/list/").get_data(as_text=True)
    assert "投保信息" in zh and "事故预防" in zh
    client.get("/lang/en")
    en = client.get("/applications/list/").get_data(as_text=True)
    assert "Applications" in en and "Accident prevention" in en
