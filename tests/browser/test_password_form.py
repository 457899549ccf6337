"""重设密码 for every role: the user menu leads to the one password form, which states the policy,
refuses the demo password and changes the password; the new one signs in."""

import pytest
from sqlalchemy import create_engine, text
from werkzeug.security import generate_password_hash

DEMO_PASSWORD = "Demo@2026"

ACCOUNTS = [
    "admin",
    "dept_province",
    "enterprise_demo",
    "insurer_picc",
    "broker_kunlun",
    "org_demo",
    "expert_demo",
]


def _restore_demo_password(database_url, username):
    """The demo password is seeded directly (the policy refuses it as a new one): put it back so the
    other browser tests still sign in."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE ab_user SET password = :p WHERE username = :u"),
            {"p": generate_password_hash(DEMO_PASSWORD), "u": username},
        )
    engine.dispose()


@pytest.mark.parametrize("username", ACCOUNTS)
def test_each_role_changes_its_password_from_the_user_menu(page, new_page, login, live_database_url, username):
    login(page, username)
    page.click("#user-menu > a.dropdown-toggle")
    entry = page.locator("#user-menu-password")
    assert entry.inner_text().strip() == "重设密码"
    entry.click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/account/password")
    policy = page.locator("#password-policy").inner_text()
    assert "12" in policy and "常见" in policy
    new = "Renewed#2026Pw"
    try:
        # the demo password is on the common list: refused, nothing changed
        page.fill("#old_password", DEMO_PASSWORD)
        page.fill("#new_password", DEMO_PASSWORD)
        page.fill("#confirm_password", DEMO_PASSWORD)
        page.click("#password-save")
        page.wait_for_load_state("networkidle")
        assert "常见或已公开" in " ".join(page.locator(".alert-danger").all_inner_texts())
        page.fill("#old_password", DEMO_PASSWORD)
        page.fill("#new_password", new)
        page.fill("#confirm_password", new)
        page.click("#password-save")
        page.wait_for_load_state("networkidle")
        assert "/account/password" not in page.url
        assert "密码已修改" in page.content()
        fresh = new_page()
        login(fresh, username, new)
        assert fresh.locator("#user-menu").count() == 1
    finally:
        _restore_demo_password(live_database_url, username)
    assert page.external_requests == []
