"""A city department opens the 数据大屏 (the map draws from the app's own files, nothing leaves
127.0.0.1) and exports the 投保 statistics workbook."""

import io

from openpyxl import load_workbook


def test_city_department_dashboard_and_insurance_workbook(page, login, live_url):
    login(page, "dept_harbin")
    page.goto(live_url + "/dashboard/")
    page.wait_for_selector("body[data-dashboard-ready='1']")
    assert page.locator("#dashboard-map canvas").count() >= 1
    assert page.locator("#dashboard-hazards canvas").count() >= 1
    for label in ("项目总数", "注册比率", "投保比率", "投保笔数", "出险笔数", "赔款金额"):
        assert page.locator("#dashboard-figures").get_by_text(label).count() >= 1
    cities = page.locator("#city-table tbody tr[data-code]")
    assert cities.count() == 1 and cities.first.get_attribute("data-code") == "230100"
    assert page.console_errors == []

    page.goto(live_url + "/statistics/")
    page.check("input[name=type][value=insurance]")
    page.fill("#month", "2026-11")
    page.click("#statistics-form button[type=submit]")
    page.wait_for_selector("#statistics-table")
    assert "截止2026年11月30日数据" in page.content()
    with page.expect_download() as download_info:
        page.click("#statistics-export")
    download = download_info.value
    wb = load_workbook(io.BytesIO(open(download.path(), "rb").read()))
    assert wb.sheetnames == ["截止本月累计", "本月", "项目明细"]
    first = next(wb["截止本月累计"].iter_rows(values_only=True))
    assert first[0].startswith("截止2026年11月30日数据")
    assert page.console_errors == []
    assert page.external_requests == []


def test_province_imports_the_registry_with_progress(page, login, live_url, tmp_path):
    from openpyxl import Workbook

    from app.demo.data import make_credit_code

    wb = Workbook()
    ws = wb.active
    ws.append(
        [
            "项目代码",
            "项目名称",
            "行政区划代码",
            "施工企业名称",
            "统一社会信用代码",
            "建设单位名称",
            "投资规模(万元)",
            "是否有效",
        ]
    )
    for i in range(30):
        ws.append(
            [
                f"BROWSER-{i:03d}",
                f"浏览器导入项目{i}",
                "230103",
                "企业",
                make_credit_code("230103", 70000000 + i),
                "",
                100 + i,
                "是",
            ]
        )
    path = tmp_path / "住建厅项目表.xlsx"
    wb.save(path)

    login(page, "dept_province")
    page.goto(live_url + "/dashboard/")
    page.click("text=住建厅项目表导入")
    page.set_input_files("#registry-upload input[type=file]", str(path))
    page.click("#registry-upload button[type=submit]")
    page.wait_for_selector("#registry-summary")
    assert "新增 30，更新 0，未变化 0" in page.inner_text("#registry-summary")
    page.click("#registry-confirm button[type=submit]")
    page.wait_for_selector("#registry-result.alert-success")
    assert "导入完成：新增 30，更新 0，未变化 0" in page.inner_text("#registry-result")
    assert page.inner_text("#registry-progress-bar") == "100%"
    page.goto(live_url + "/dashboard/")
    assert int(page.inner_text("#figure-project_total .value")) >= 30
    assert page.console_errors == []
    assert page.external_requests == []
