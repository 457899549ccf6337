"""No request a user or a crawler can make answers 500.

- Every list of every demo role: each sort header both ways, each page-size link, and junk arguments
  (``endpoint``, ``fmt``, an unknown filter index, a negative page, a huge page size).
- Every URL rule with an argument (web and REST API): ids 0, -1, 2³¹, 2⁶³ and 10²⁰ and a non-number,
  GET and POST, as the administrator and as a party user: an id that cannot be a row answers 404.
"""

import html
import re

import pytest

from app.demo import DEMO_ACCOUNTS

BAD_IDS = ["0", "-1", str(2**31), str(2**63), str(10**20), "abc"]
ID_ARG = re.compile(r"(^pk$|_id$|^hid$|^id$)")
# Arguments that are not row ids, with a value that names nothing.
OTHER_ARGS = {"filename": "nothing.txt", "locale": "xx", "version": "v9", "action": "nothing", "name": "nothing"}
SKIP_ENDPOINTS = {"static", "appbuilder.static", "AuthDBView.logout", "LocaleView.index"}


def _lists(app):
    from app.views.base import ScopedModelView

    return [v for v in app.appbuilder.baseviews if isinstance(v, ScopedModelView)]


def _links(page, view_name):
    hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', page)]
    return sorted({h for h in hrefs if f"_oc_{view_name}=" in h or f"psize_{view_name}=" in h})


@pytest.mark.parametrize("username", [a[0] for a in DEMO_ACCOUNTS])
def test_every_list_link_and_junk_argument_answers_without_error(app, as_user, username):
    client = as_user(username)
    visited = 0
    for view in _lists(app):
        name = type(view).__name__
        url = f"{view.route_base}/list/"
        first = client.get(url)
        if first.status_code in (302, 403, 404):
            continue  # not this role's list
        assert first.status_code == 200, (username, url, first.status_code)
        page = first.get_data(as_text=True)
        for link in _links(page, name):
            response = client.get(link)
            assert response.status_code == 200, (username, link, response.status_code)
            for again in _links(response.get_data(as_text=True), name):  # both directions of a sort
                if f"_oc_{name}=" in again and again != link:
                    assert client.get(again).status_code == 200, (username, again)
                    break
        junk = (
            f"{url}?endpoint=x&fmt=x&_flt_9_x=y&page=-1&psize=100000"
            f"&page_{name}=-1&psize_{name}=100000&_oc_{name}=nothing&_od_{name}=sideways&after_{name}=abc"
        )
        response = client.get(junk)
        assert response.status_code in (200, 400), (username, junk, response.status_code)
        bad_filter = client.get(f"{url}?_flt_99_status=x")
        assert bad_filter.status_code == 400, (username, url, bad_filter.status_code)
        assert "未知的查询条件" in bad_filter.get_data(as_text=True)
        visited += 1
    assert visited, f"{username} opened no list"


def _argument_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS or not rule.arguments:
            continue
        yield rule


def _urls(rule):
    """The rule's URL with each bad id in every id argument (other arguments: a value naming nothing)."""
    from werkzeug.routing import BuildError

    ids = [a for a in rule.arguments if ID_ARG.search(a)]
    if not ids:
        return
    for bad in BAD_IDS:
        values = {a: (bad if a in ids else OTHER_ARGS.get(a, "nothing")) for a in rule.arguments}
        try:
            yield bad, rule.build(values, append_unknown=False)[1]
        except (BuildError, ValueError):
            continue  # the converter itself refuses the value (an <int:…> argument and "-1" / "abc")


@pytest.mark.parametrize("username", ["admin", "insurer_picc"])
def test_ids_that_cannot_be_rows_answer_404(app, as_user, username):
    client = as_user(username)
    checked = 0
    for rule in _argument_rules(app):
        for bad, url in _urls(rule):
            for method in sorted(rule.methods & {"GET", "POST"}):
                response = client.open(url, method=method)
                assert response.status_code < 500, (username, method, url, response.status_code)
                if method == "GET" and username == "admin" and not url.startswith("/api/"):
                    assert response.status_code in (404, 400, 405), (method, url, bad, response.status_code)
                checked += 1
    assert checked > 100


def test_api_ids_and_queries_that_cannot_be_rows(app, as_user):
    from factories.api import jwt_headers

    client = app.test_client()
    headers = jwt_headers(client, "insurer_picc")
    for resource in ("applications", "policies", "claims", "orders", "reports", "projects", "enterprises"):
        for bad in BAD_IDS[:5]:
            response = client.get(f"/api/v1/{resource}/{bad}", headers=headers)
            assert response.status_code == 404, (resource, bad, response.status_code)
        for q in ("(page:1e%2B5)", "(((((((", "(filters:!((col:nothing,opr:eq,value:1)))"):
            response = client.get(f"/api/v1/{resource}/?q={q}", headers=headers)
            assert 400 <= response.status_code < 500, (resource, q, response.status_code)
