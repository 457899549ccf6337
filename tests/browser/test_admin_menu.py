"""The administrator's menu fits one row at 1280 px, without an entry twice."""


def test_admin_menu_one_row_at_1280(new_page, login):
    page = new_page({"width": 1280, "height": 800})
    login(page, "admin")
    tops = page.eval_on_selector_all(
        ".navbar-collapse > ul.navbar-nav > li", "els => els.map(e => Math.round(e.getBoundingClientRect().top))"
    )
    labels = page.eval_on_selector_all(
        ".navbar-collapse > ul.navbar-nav:not(.navbar-right) > li > a",
        "els => els.map(e => e.textContent.trim()).filter(Boolean)",
    )
    height = page.eval_on_selector(".navbar", "e => e.getBoundingClientRect().height")
    print("tops", tops, "labels", labels, "height", height)
    assert len(set(tops)) == 1, (tops, labels)
    assert len(labels) == len(set(labels)), labels
    assert height < 70, height
