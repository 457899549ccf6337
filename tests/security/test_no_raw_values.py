"""No raw values: a crawl of every page each demo role reaches from its landing page (menus, lists,
detail pages, their links) fails on a table cell or detail value reading "None", a stored enum value
instead of its label, a number in E-notation, or a label written twice ("验收合格 验收合格")."""

import html
import re
from collections import deque

import pytest

from app.demo import DEMO_ACCOUNTS
from app.extensions import db
from app.models import enums

MAX_PAGES = 160
SKIP = re.compile(
    r"(logout|/lang/|/export|download|/delete|/action|/api/|/static/|\.pdf|\.xlsx|\.csv|/wall|/jobs/|/file)",
    re.I,
)
CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)
TAG = re.compile(r"<[^>]+>")
# FAB's dialog buttons, plain text in its templates (app/templates/appbuilder/general overrides them)
FAB_ENGLISH = [">Cancel<", ">OK<"]
# a number standing alone (not a part of an identifier such as CB-…-5845E15), as Python writes it:
# Decimal("1E+1"), float 1e-05 — always with the exponent's sign, unlike a hex name such as 3339e7
E_NOTATION = re.compile(r"(?<![A-Za-z0-9_.-])\d+(?:\.\d+)?[eE][+-]\d+(?![A-Za-z0-9_-])")
# pages whose cells are names people typed (an account named "expert" is data, not a raw enum): the users
# list, and a role's or group's page, which lists its users
FREE_TEXT = ("/users/", "/roles/", "/groups/")


def _enum_values():
    values = set()
    for name in dir(enums):
        obj = getattr(enums, name)
        if isinstance(obj, type) and issubclass(obj, enums.ChoiceSet) and obj is not enums.ChoiceSet:
            values |= {v for v in obj.values() if isinstance(v, str) and re.fullmatch(r"[a-z_]{3,}", v)}
    return values


def _cells(page):
    for raw in CELL.findall(page):
        text = " ".join(html.unescape(TAG.sub(" ", raw)).split())
        if text:
            yield text


def _links(page):
    for href in re.findall(r'href="([^"#]+)"', page):
        href = html.unescape(href)
        if href.startswith("/") and not SKIP.search(href):
            yield href.split("#")[0]


def _problems(page, enum_values):
    found = []
    for text in _cells(page):
        if text in ("None", "none", "null") or re.search(r"(^|\s)None(\s|$)", text):
            found.append(("None", text))
        elif text in enum_values:
            found.append(("enum", text))
        elif E_NOTATION.search(text):
            found.append(("E-notation", text))
        else:
            words = text.split()
            if len(words) >= 2 and any(a == b and len(a) > 1 for a, b in zip(words, words[1:])):
                found.append(("doubled", text))
    return found


@pytest.mark.parametrize("username", [a[0] for a in DEMO_ACCOUNTS])
def test_no_page_shows_a_raw_value(app, as_user, username):
    client = as_user(username)
    enum_values = _enum_values()
    queue, seen, bad = deque(["/"]), set(), []
    while queue and len(seen) < MAX_PAGES:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url, follow_redirects=True)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        page = response.get_data(as_text=True)
        found = _problems(page, enum_values)
        if response.request.path.startswith(FREE_TEXT):  # where the link led (/back redirects)
            found = [(kind, text) for kind, text in found if kind != "enum"]
        bad += [(url, kind, text[:80]) for kind, text in found]
        bad += [(url, "English", word) for word in FAB_ENGLISH if word in page]
        for link in _links(page):
            path = link.split("?")[0]
            # one page per list's sort/page variants is enough
            if link not in seen and ("?" not in link or sum(u.startswith(path) for u in seen) < 3):
                queue.append(link)
    assert len(seen) > 3, seen
    assert not bad, bad[:15]


@pytest.mark.parametrize(
    "fraction,text", [("0.1", "10"), ("0.10", "10"), ("0.125", "12.5"), ("1", "100"), ("0.0015", "0.15"), ("0", "0")]
)
def test_percentages_read_as_numbers(fraction, text):
    """The premium deviation message and the 出单 page say "偏离超过10%", not "1E+1%"."""
    from decimal import Decimal

    from app.numbers import percent

    assert percent(Decimal(fraction)) == text


def test_plain_formatter_never_shows_none_or_e_notation():
    from decimal import Decimal

    from app.views.formatters import EMPTY, plain

    assert plain(None) == EMPTY and plain("") == EMPTY
    assert plain(Decimal("1E+1")) == "10" and plain(Decimal("0.50")) == "0.50"
    assert plain(0) == 0 and plain("x") == "x"


def test_an_enterprise_with_only_its_required_fields_shows_no_none(app, as_user):
    """详情 of an enterprise that has filled in nothing beyond what is required: empty cells, not "None"
    (the crawl above sees only the complete demo enterprises)."""
    from factories.insurance import make_enterprise_user

    with app.app_context():
        account = make_enterprise_user(region="230103")
        enterprise_id = account.enterprise_id
        db.session.commit()
    page = as_user("dept_province").get(f"/enterprises/show/{enterprise_id}").get_data(as_text=True)
    cells = list(_cells(page))
    assert any("测试建筑工程有限公司" in c for c in cells), cells[:10]
    assert _problems(page, _enum_values()) == []
