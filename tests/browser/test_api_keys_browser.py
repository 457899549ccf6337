"""The administrator issues an API key in the browser, sees it once, finds it in the list, uses it,
revokes it; Swagger UI renders the API description from local files."""

import json
import urllib.error
import urllib.request

import pytest


def _get(url, key):
    request = urllib.request.Request(url, headers={"X-API-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


@pytest.mark.browser
def test_admin_issues_uses_and_revokes_a_key(page, login, live_url):
    login(page, "admin")
    page.goto(live_url + "/admin/api-keys/list/")
    page.get_by_text("签发API密钥").first.click()
    page.fill("input[name=name]", "浏览器测试密钥")
    page.select_option("select[name=company_id]", label="中国人民财产保险股份有限公司黑龙江省分公司")
    page.get_by_role("button", name="签发").click()
    key = page.locator("#api-key-value").inner_text().strip()
    assert key.startswith("azx_") and "只显示这一次" in page.content()

    status, body = _get(live_url + "/api/v1/policies/", key)
    assert status == 200 and "result" in body

    page.goto(live_url + "/admin/api-keys/list/")
    row = page.locator("tr", has_text="浏览器测试密钥").first
    assert key not in page.content() and key[:10] in row.inner_text()
    row.locator("input[type=checkbox]").check()
    page.locator(".azx-actions button.dropdown-toggle").first.click()
    page.locator("a.revoke_menu_item").click()
    with page.expect_navigation(url="**/admin/api-keys/list/"):
        page.locator("#modal-confirm-ok").click()
    assert "已吊销 1 个密钥" in page.content()
    assert _get(live_url + "/api/v1/policies/", key)[0] == 401
    assert page.external_requests == []


@pytest.mark.browser
def test_swagger_ui_renders_the_api(page, login, live_url):
    login(page, "insurer_picc")
    page.goto(live_url + "/swagger/v1")
    page.wait_for_selector(".opblock-tag", timeout=20000)
    text = page.locator("#swagger-ui").inner_text()
    for tag in ("Applications", "Policies", "Claims", "Dispatch orders"):
        assert tag in text
    assert page.external_requests == []
