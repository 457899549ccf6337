"""The insurance main path in a real browser: an enterprise adds a project and applies with uploads;
the insurer rejects with an opinion; the enterprise corrects and resubmits; the insurer approves,
issues the policy and adds a claim; the 保单台帐 shows the policy."""

import re
import uuid

from app.demo.insurance import APPLICATION_UPLOADS, demo_pdf


def _pdf(name):
    return {
        "name": name,
        "mimeType": "application/pdf",
        "buffer": demo_pdf(name.encode("ascii", "ignore").decode() or "scan"),
    }


def _switch(page, login, live_url, username):
    page.goto(live_url + "/logout/")  # the menu's 退出 asks first; the confirmation POSTs
    if page.locator("#logout-confirm").count():
        page.click("#logout-confirm")
    login(page, username)


def _open_row_action(page, live_url, list_path, name, action):
    page.goto(f"{live_url}{list_path}?project={name}")
    row = page.locator("tr", has_text=name).first
    row.get_by_role("link", name=action, exact=True).click()
    page.wait_for_load_state("networkidle")


def _review_as_insurer(page, login, live_url, name, verdict, opinion=""):
    _switch(page, login, live_url, "insurer_picc")
    _open_row_action(page, live_url, "/applications/list/", name, "审核")
    page.check(f"input[name=verdict][value={verdict}]")
    page.fill("#opinion", opinion)
    page.get_by_role("button", name="确定").click()
    page.wait_for_load_state("networkidle")


def _submit_application(page, name):
    page.get_by_role("button", name="提交保单").click()
    page.wait_for_load_state("networkidle")
    assert "待复审" in page.locator("#project-list tr", has_text=name).inner_text()


def test_apply_reject_resubmit_approve_issue_claim_ledger(page, login, live_url):
    name = "浏览器测试项目" + uuid.uuid4().hex[:6]
    policy_no = "PB" + uuid.uuid4().hex[:10].upper()

    # The enterprise adds the project (新增项目) …
    login(page, "enterprise_demo")
    page.get_by_role("link", name="项目信息").first.click()
    page.get_by_role("link", name="新增项目").click()
    page.select_option("#f-region_code", "230110")
    page.fill("#f-project_code", "2410-230110-04-01-123456")
    page.fill("#f-name", name)
    page.fill("#f-investment", "1500")
    page.fill("#f-builder_name", "哈尔滨市香坊区教育局")
    page.fill("#f-address", "哈尔滨市香坊区和平路1号")
    page.fill("#f-planned_start", "2026-03-01")
    page.fill("#f-planned_end", "2027-10-31")
    page.get_by_role("button", name="确认").click()
    row = page.locator("#project-list tr", has_text=name)
    assert "未投保" in row.inner_text()

    # … and applies online (填报) with the six uploads and the stamped agreement.
    row.get_by_role("link", name="填报").click()
    page.select_option("#f-insurer", label="人保财险")
    page.check("input[name=plan_id] >> nth=0")
    for slot, filename in APPLICATION_UPLOADS.items():
        page.set_input_files(f"#f-{slot}", files=[_pdf(filename)])
    page.check("#f-agreed")
    _submit_application(page, name)

    # The insurer rejects with an opinion.
    _review_as_insurer(page, login, live_url, name, "reject", "中标通知书扫描件不清晰，请重新上传")
    page.goto(f"{live_url}/applications/list/?project={name}")
    assert "复审不通过" in page.locator("#application-list tr", has_text=name).inner_text()

    # The enterprise sees the opinion, corrects and resubmits.
    _switch(page, login, live_url, "enterprise_demo")
    page.goto(f"{live_url}/projects/list/?q={name}")
    page.locator("#project-list tr", has_text=name).get_by_role("link", name="填报").click()
    assert "中标通知书扫描件不清晰" in page.locator("#rejected-opinion").inner_text()
    page.set_input_files("#f-contract", files=[_pdf("contract-clear.pdf")])
    _submit_application(page, name)

    # The insurer approves and issues the policy (提交).
    _review_as_insurer(page, login, live_url, name, "approve")
    _open_row_action(page, live_url, "/applications/list/", name, "提交")
    assert page.input_value("#f-project_name") == name
    assert float(page.input_value("#f-premium")) > 0
    page.fill("#f-policy_no", policy_no)
    page.set_input_files("#f-policy_file", files=[_pdf("policy.pdf")])
    page.set_input_files("#f-agreement_file", files=[_pdf("agreement.pdf")])
    page.check("input[name=agreed]")
    page.get_by_role("button", name="提交", exact=True).click()
    page.wait_for_load_state("networkidle")
    assert policy_no in page.content()

    # … and adds a claim (理赔 → 新增理赔).
    page.get_by_role("link", name="理赔", exact=True).click()
    page.get_by_role("link", name="新增理赔").click()
    form = page.locator("#claim-new form")
    form.locator("input[name=injured_count]").fill("1")
    form.locator("input[name=settled_amount]").fill("3200.50")
    form.locator("input[name=settled_date]").fill("2026-11-01")
    form.locator("textarea[name=remark]").fill("高处坠落，1人受伤")
    form.get_by_role("button", name="确定").click()
    page.wait_for_load_state("networkidle")
    assert "高处坠落" in page.locator("#claim-list").inner_text()
    assert "3,200.50" in page.locator("#claims-total").inner_text()

    # The ledger shows the policy with its CB- number.
    page.goto(f"{live_url}/ledger/list/?project={name}")
    ledger_row = page.locator("#ledger-list tr", has_text=name).inner_text()
    assert policy_no in ledger_row and re.search(r"CB-\d{8}-\d{6}-[0-9A-F]{7}", ledger_row)
    assert page.external_requests == []
