"""The prevention chain in the browser, across the roles: the insurer dispatches an insured project,
the org accepts and assigns, the expert accepts, signs in with a GPS photo, records a hazard and
submits; the enterprise rectifies; the expert accepts the rectification; the org and the insurer pass
the report (the org first returns it with an opinion the expert reads, then opens the order by its
派单号 and downloads the draft report before passing it); the order is 已完成 and its PDF downloads;
the department sees it in 报告列表. And the expert's sign-in page at a phone viewport."""

import os
import re
import subprocess
import tempfile
from datetime import timedelta

import pytest

from app import clock

ENTERPRISE_USERS = {
    "黑龙江龙建路桥建设有限公司": "enterprise_demo",
    "齐齐哈尔市鹤城建筑工程有限公司": "enterprise_demo2",
}


def _jpeg(path, lat=None, lon=None, colour=(120, 140, 160)):
    from app.demo.prevention import photo_bytes

    with open(path, "wb") as fh:
        fh.write(photo_bytes(os.path.basename(path), colour, lat, lon))
    return path


@pytest.fixture(scope="module")
def photos():
    tmp = tempfile.mkdtemp(prefix="azx-photos-")
    yield {
        "site": _jpeg(os.path.join(tmp, "site.jpg"), 45.7567, 126.6424),
        "hazard": _jpeg(os.path.join(tmp, "hazard.jpg"), colour=(170, 90, 60)),
        "fixed": _jpeg(os.path.join(tmp, "fixed.jpg"), colour=(60, 150, 80)),
    }


def _accept_dialogs(page):
    page.on("dialog", lambda dialog: dialog.accept())


def _row(page, order_no):
    return page.locator("tr", has_text=order_no).first


def _logout(page, live_url):
    page.goto(live_url + "/logout/")  # the menu's 退出 asks first; the confirmation POSTs
    if page.locator("#logout-confirm").count():
        page.click("#logout-confirm")


def test_dispatch_to_completed_across_the_roles(page, login, live_url, photos):
    _accept_dialogs(page)
    # 1. insurer: 投保项目 → tick one insured project → 派单
    login(page, "insurer_picc")
    page.goto(live_url + "/insured-projects/list/")
    boxes = page.locator("input.azx-row-check")
    if boxes.count() == 0:
        pytest.skip("no insured demo policy of 人保财险 (the insurance demo stage is not present)")
    boxes.first.check()
    page.click("#azx-select-submit")
    page.wait_for_selector("#azx-dispatch-form")
    page.select_option("#target", label="黑龙江安建安全技术服务有限公司")
    page.locator("input[name=service_item_ids]").nth(1).check()
    page.locator("input[name=service_item_ids]").nth(3).check()
    today = clock.today()
    page.fill("#start_date", today.isoformat())
    page.fill("#end_date", (today + timedelta(days=20)).isoformat())
    page.fill("#deadline", (today + timedelta(days=5)).isoformat())
    page.select_option("#required_title_id", index=2)
    page.fill("#fee", "300")
    page.click("#azx-dispatch-submit")
    page.wait_for_url(re.compile(r".*/orders/list/.*"))
    flash = page.locator(".alert-success").inner_text()
    order_no = re.search(r"PD\d{14}", flash).group(0)
    assert "未接单" in _row(page, order_no).inner_text()
    _row(page, order_no).get_by_role("link", name="详情").click()
    page.wait_for_selector("table.azx-kv")
    enterprise_name = page.locator("table.azx-kv tr", has_text="施工企业").locator("td").first.inner_text().strip()
    enterprise_user = ENTERPRISE_USERS[enterprise_name]
    _logout(page, live_url)

    # 2. org: 承接项目 → 同意 → 派单 to the expert
    login(page, "org_demo")
    page.goto(live_url + "/org/received/list/")
    row = _row(page, order_no)
    row.wait_for()
    for column in ("项目名称", "项目代码", "截止日期", "服务项目", "状态", "操作"):
        assert page.locator("th", has_text=column).count() >= 1
    row.get_by_role("button", name="同意").click()
    page.wait_for_load_state("networkidle")
    assert "已接单" in _row(page, order_no).inner_text()
    _row(page, order_no).get_by_role("link", name="派单").click()
    page.select_option("#expert_id", index=1)
    page.click("#azx-assign-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    _logout(page, live_url)

    # 3. expert: 待办任务 → 同意 → 处理: 签到, hazard, record, 提交报告
    login(page, "expert_demo")
    page.goto(live_url + "/expert/todo/list/")
    _row(page, order_no).get_by_role("button", name="同意").click()
    page.wait_for_load_state("networkidle")
    _row(page, order_no).get_by_role("link", name="处理").click()
    page.set_input_files("#azx-photo", photos["site"])
    page.click("#azx-signin-submit")
    page.wait_for_selector(".alert-success")
    assert "签到成功" in page.content() and "照片定位" in page.content()
    page.select_option("#level", value="general")
    page.select_option("#category_id", index=9)
    page.fill("#description", "作业井四周封闭不严")
    page.fill("#suggestion", "临边防护设施宜定型化、工具式")
    page.set_input_files("#hazard-photos", photos["hazard"])
    page.click("#azx-hazard-form button[type=submit]")
    page.wait_for_selector("#hazard-1")
    page.fill("#service_record", "检查了基坑、脚手架、临时用电和消防设施。")
    page.click("#azx-record-form button[type=submit]")
    page.wait_for_selector(".alert-success")
    page.click("#azx-submit-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/expert/todo/list/.*"))
    _logout(page, live_url)

    # 4. enterprise: 待办任务 → 整改 each hazard → 提交整改
    login(page, enterprise_user)
    page.goto(live_url + "/enterprise/todo/list/")
    _row(page, order_no).get_by_role("link", name="整改").click()
    page.wait_for_selector("table.azx-hazards")
    for header in ("序号", "级别", "隐患类别", "隐患描述", "整改建议", "整改情况", "验收信息", "更新时间"):
        assert page.locator("table.azx-hazards th", has_text=header).count() >= 1
    form = page.locator("form.azx-rectify-form").first
    form.locator("textarea[name=text]").fill("已完成临边封闭")
    form.locator("input[type=file]").set_input_files(photos["fixed"])
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".alert-success")
    page.click("#azx-rectification-submit button[type=submit]")
    page.wait_for_url(re.compile(r".*/enterprise/todo/list/.*"))
    _logout(page, live_url)

    # 5. expert: 验收
    login(page, "expert_demo")
    page.goto(live_url + "/expert/todo/list/")
    _row(page, order_no).get_by_role("link", name="验收").click()
    page.locator("form.azx-verify-form button[value='1']").first.click()
    page.wait_for_selector(".alert-success")
    _logout(page, live_url)

    # 6. org: 报告审核 → 不通过 with an opinion; the expert reads it on 处理 and in 待办任务, uploads the
    #    signed report (a photo of the stamped paper, merged into a PDF) and submits again
    login(page, "org_demo")
    page.goto(live_url + "/report-review/list/")
    _row(page, order_no).get_by_role("link", name="审核").click()
    page.check("input[name=verdict][value=fail]")
    page.fill("#opinion", "请补充临时用电检查记录")
    page.click("#azx-review-form button[type=submit]")
    page.wait_for_selector(".alert-success")
    _logout(page, live_url)
    login(page, "expert_demo")
    page.goto(live_url + "/expert/todo/list/")
    assert "请补充临时用电检查记录" in _row(page, order_no).inner_text()  # the 退回意见 column
    _row(page, order_no).get_by_role("link", name="处理").click()
    returned = page.locator("#azx-returned").inner_text()
    assert "请补充临时用电检查记录" in returned and "黑龙江安建安全技术服务有限公司" in returned
    page.set_input_files("#azx-signed-report-file", photos["fixed"])
    page.click("#azx-report-upload-form button[type=submit]")
    page.wait_for_selector(".alert-success")
    assert "事故预防服务报告_签字版" in page.locator("#azx-signed-report").inner_text()
    page.fill("#service_record", "检查了基坑、脚手架、临时用电（配电箱、漏电保护）和消防设施。")
    page.click("#azx-record-form button[type=submit]")
    page.wait_for_selector(".alert-success")
    page.click("#azx-submit-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/expert/todo/list/.*"))
    _logout(page, live_url)

    # 7. org, then insurer: 报告审核; the org opens the order by its 派单号 and downloads the draft
    #    report (and the signed one) before passing it
    for reviewer in ("org_demo", "insurer_picc"):
        login(page, reviewer)
        page.goto(live_url + "/report-review/list/")
        if reviewer == "org_demo":
            _row(page, order_no).get_by_role("link", name=order_no).click()
            page.wait_for_url(re.compile(r".*/report-review/show/\d+"))
            assert order_no in page.locator("table.azx-kv").first.inner_text()
            assert "（草稿）" in page.locator("#azx-report-pdf").inner_text()
            with page.expect_download() as download:
                page.click("#azx-report-pdf")
            text = subprocess.run(
                ["pdftotext", "-enc", "UTF-8", download.value.path(), "-"], capture_output=True, check=True
            ).stdout.decode()
            assert "草稿" in text and order_no in text
            with page.expect_download() as signed:
                page.locator("#azx-signed-report").get_by_role("link", name="下载").first.click()
            with open(signed.value.path(), "rb") as fh:
                assert fh.read(5) == b"%PDF-"
            page.goto(live_url + "/report-review/list/")
        _row(page, order_no).get_by_role("link", name="审核").click()
        page.check("input[name=verdict][value=pass]")
        page.fill("#opinion", "报告合格")
        page.click("#azx-review-form button[type=submit]")
        page.wait_for_selector(".alert-success")
        if reviewer == "org_demo":
            _logout(page, live_url)

    # 8. insurer: 查看报告 → 已完成, the PDF downloads
    page.goto(live_url + "/reports/list/")
    assert "已完成" in _row(page, order_no).inner_text()
    _row(page, order_no).get_by_role("link", name="详情").click()
    page.wait_for_selector("#azx-report-pdf")
    with page.expect_download() as download:
        page.click("#azx-report-pdf")
    path = download.value.path()
    with open(path, "rb") as fh:
        assert fh.read(5) == b"%PDF-"
    page.goto(live_url + f"/orders/list/?_flt_0_order_no={order_no}")
    _row(page, order_no).get_by_role("link", name="流程").click()
    timeline = page.locator("#azx-timeline").inner_text()  # waits for the page
    for step in ("派单", "同意", "签到", "提交报告", "整改", "验收", "通过"):
        assert step in timeline, step
    _logout(page, live_url)

    # 9. the department's 报告列表
    login(page, "dept_province")
    page.goto(live_url + "/reports/list/")
    assert order_no in page.content()
    assert page.external_requests == []


def test_expert_sign_in_page_on_a_phone(phone_page, login, live_url, photos):
    page = phone_page
    login(page, "expert_demo")
    page.goto(live_url + "/expert/todo/list/")
    rows = page.locator("tr", has_text="服务中")
    if rows.count() == 0:
        pytest.skip("no order in service for expert_demo (the insurance demo stage is not present)")
    rows.first.get_by_role("link", name="处理").click()
    page.wait_for_selector("#azx-signin-form")
    photo = page.locator("#azx-photo")
    assert photo.get_attribute("accept") == "image/*" and photo.get_attribute("capture") == "environment"
    assert photo.is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 2, f"the page scrolls sideways on a phone ({width}px)"
    button = page.locator("#azx-signin-submit").bounding_box()
    assert button["width"] >= 300  # a full-width button a thumb can hit
    page.set_input_files("#azx-photo", photos["site"])
    page.click("#azx-signin-submit")
    page.wait_for_selector(".alert-success")
    assert "签到成功" in page.content()
