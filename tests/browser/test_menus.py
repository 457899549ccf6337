"""Every demo account logs in through the browser and sees its own menu, in Chinese, and no other
role's items."""

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


def _visible_menu_labels(page):
    return page.eval_on_selector_all(".navbar-nav li a", "els => els.map(e => e.textContent.trim()).filter(Boolean)")


@pytest.mark.parametrize("username", sorted(ACCOUNTS))
def test_account_sees_its_own_menu(page, login, username):
    login(page, username)
    texts = " | ".join(_visible_menu_labels(page))
    role = ACCOUNTS[username]
    wanted = set(MENU) if role == "Admin" else set(ROLES[role]["menus"])
    for name in wanted:
        assert MENU[name][0] in texts, f"{username} misses {MENU[name][0]}"
    if role != "Admin":
        own_labels = {MENU[n][0] for n in wanted} | {CATEGORIES[c] for c in CATEGORIES}
        foreign = {MENU[n][0] for n in set(MENU) - wanted} - own_labels
        for label in foreign:
            assert label not in texts, f"{username} sees {label}"
    assert page.external_requests == []
