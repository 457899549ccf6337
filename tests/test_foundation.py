"""The skeleton: app boots from migrations, every demo account logs in and sees exactly its menu."""
import pytest

from app.security.roles import CATEGORIES, MENU, ROLES

ACCOUNTS = {
    "admin": "Admin", "dept_province": "Department", "dept_harbin": "Department",
    "enterprise_demo": "Enterprise", "enterprise_demo2": "Enterprise", "insurer_picc": "Insurer",
    "insurer_pingan": "Insurer", "broker_kunlun": "Broker", "org_demo": "PreventionOrg", "expert_demo": "Expert",
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
