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
        assert names == set(ROLES[role]["menus"])


@pytest.mark.parametrize("username", sorted(ACCOUNTS))
def test_login_lands_on_own_first_page_in_chinese(as_user, username):
    client = as_user(username)
    response = client.get("/", follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    role = ACCOUNTS[username]
    if role != "Admin":
        for menu in ROLES[role]["menus"]:
            assert str(MENU[menu][0]) in html
    assert "退出" in html or "注销" in html or "Logout" not in html


def test_roles_are_synced_into_the_database(app):
    with app.app_context():
        sm = app.appbuilder.sm
        for role_name in ROLES:
            role = sm.find_role(role_name)
            assert role is not None
            held = {(pv.permission.name, pv.view_menu.name) for pv in role.permissions}
            from app.security.roles import role_permission_pairs

            assert held == role_permission_pairs(role_name)


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
    assert client.get("/dept/projects/list/").status_code == 200
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
