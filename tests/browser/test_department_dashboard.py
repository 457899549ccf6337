"""A city department opens the 数据大屏 (the map draws from the app's own files, nothing leaves
127.0.0.1) and exports the 投保 statistics workbook (a job: its progress page, then the file); the wall
display fills 1920×1080 and 1366×768 without a scrollbar and stacks on a phone; 统计报告 reads at 1280 px."""

import io
import re

from factories.registry import HEADERS
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
    with page.expect_download(timeout=60000) as download_info:
        page.click("#statistics-export")  # the job's progress page, which starts the download when done
    download = download_info.value
    assert download.suggested_filename == "投保统计_202611.xlsx"
    wb = load_workbook(io.BytesIO(open(download.path(), "rb").read()))
    assert wb.sheetnames == ["截止本月累计", "本月", "项目明细"]
    first = next(wb["截止本月累计"].iter_rows(values_only=True))
    assert first[0].startswith("截止2026年11月30日数据")
    assert re.search(r"/my/jobs/\d+", page.url)
    page.wait_for_selector("#job[data-status=done]")
    page.goto(live_url + "/my/jobs/")
    assert "投保统计 2026-11" in page.inner_text("#job-list")
    assert page.console_errors == []
    assert page.external_requests == []


def test_province_imports_the_registry_with_progress(page, login, live_url, tmp_path):
    from openpyxl import Workbook

    from app.demo.data import make_credit_code

    wb = Workbook()
    ws = wb.active
    ws.append(HEADERS)
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
    page.wait_for_selector("#job[data-status=done]", timeout=60000)
    assert "导入完成：共 30 行，新增 30，更新 0，未变化 0" in page.inner_text("#job-result")
    assert page.inner_text("#job-progress-bar") == "100%"
    page.goto(live_url + "/dashboard/")
    assert int(page.inner_text("#figure-project_total .value")) >= 30
    assert page.console_errors == []
    assert page.external_requests == []


def _overflow(page):
    return page.evaluate(
        """() => ({sw: document.documentElement.scrollWidth, sh: document.documentElement.scrollHeight,
                  w: window.innerWidth, h: window.innerHeight})"""
    )


def _open_wall(new_page, live_url, login, viewport, **context_args):
    pg = new_page(viewport, timeout=20000, **context_args)
    login(pg, "dept_province")
    pg.goto(live_url + "/dashboard/wall")
    pg.wait_for_selector("body[data-dashboard-ready='1']")
    return pg


def test_the_wall_display_fills_the_screen_without_scrolling(new_page, live_url, login):
    for viewport in ({"width": 1920, "height": 1080}, {"width": 1366, "height": 768}):
        pg = _open_wall(new_page, live_url, login, viewport)
        try:
            size = _overflow(pg)
            assert size["sw"] <= size["w"] and size["sh"] <= size["h"], (viewport, size)
            assert pg.evaluate("getComputedStyle(document.body).overflow") == "hidden"
            background = pg.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background in ("rgba(0, 0, 0, 0)", "rgb(11, 26, 46)") or "gradient" in pg.evaluate(
                "getComputedStyle(document.body).backgroundImage"
            )
            for label in ("项目总数", "注册比率", "投保比率", "投保笔数", "出险笔数", "赔款金额"):
                assert pg.locator("#dashboard-figures .wall-card-label", has_text=label).count() == 1, label
            # the figures are large: at least 3 % of the screen height
            value_px = pg.evaluate(
                "parseFloat(getComputedStyle(document.querySelector('#figure-project_total .value')).fontSize)"
            )
            assert value_px >= 0.03 * viewport["height"], value_px
            # every panel lies inside the screen, the 13 cities and the total in the table
            for selector in ("#dashboard-map canvas", "#dashboard-hazards canvas", "#dashboard-rate canvas"):
                box = pg.locator(selector).first.bounding_box()
                assert box and box["height"] > 80 and box["y"] + box["height"] <= viewport["height"] + 1, selector
            assert pg.locator("#city-table tbody tr[data-code]").count() == 13
            last = pg.locator("#city-table tbody tr").last.bounding_box()
            assert last["y"] + last["height"] <= viewport["height"], last
            # one legend (a piecewise scale), labels laid out apart: the map's option says so
            option = pg.evaluate(
                """() => { const c = echarts.getInstanceByDom(document.getElementById('dashboard-map'));
                           const o = c.getOption();
                           return {maps: o.visualMap.length, type: o.visualMap[0].type,
                                   layout: o.series[1].labelLayout, labels: o.series[1].data.length}; }"""
            )
            assert option["maps"] == 1 and option["type"] == "piecewise"
            assert option["layout"]["moveOverlap"] == "shiftY" and option["labels"] == 13
            pg.screenshot(path=f"/tmp/wall-{viewport['width']}.png")
            html = pg.content()
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script on the wall"
            assert pg.console_errors == []
            assert pg.external_requests == []
        finally:
            pg.context.close()


def test_the_wall_refreshes_by_itself(new_page, live_url, login):
    pg = _open_wall(new_page, live_url, login, {"width": 1920, "height": 1080})
    try:
        refresh = int(pg.get_attribute("#wall", "data-refresh"))
        assert refresh >= 5
        with pg.expect_response(lambda r: r.url.endswith("/dashboard/data"), timeout=(refresh + 10) * 1000):
            pass
        assert pg.inner_text("#wall-updated").startswith("更新于")
    finally:
        pg.context.close()


def test_the_wall_and_the_dashboard_stack_on_a_phone(new_page, live_url, login):
    pg = _open_wall(
        new_page, live_url, login, {"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    try:
        size = _overflow(pg)
        wide = pg.evaluate(
            """() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)
                       .slice(0, 8).map(e => e.tagName + '.' + e.className)"""
        )
        assert size["sw"] <= 390, (size, wide)
        widest = pg.evaluate(
            """() => Math.max(...[...document.querySelectorAll('.wall *')].map(e => e.getBoundingClientRect().right))"""
        )
        assert widest <= 391, widest
        pg.goto(live_url + "/dashboard/")
        pg.wait_for_selector("body[data-dashboard-ready='1']")
        size = _overflow(pg)
        wide = pg.evaluate(
            """() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)
                       .slice(0, 8).map(e => e.tagName + '.' + e.className)"""
        )
        assert size["sw"] <= 390, (size, wide)
        assert pg.external_requests == []
    finally:
        pg.context.close()


def test_statistics_page_reads_at_1280(new_page, live_url, login):
    pg = new_page({"width": 1280, "height": 900})
    try:
        login(pg, "dept_province")
        pg.goto(live_url + "/statistics/?type=insurance&month=2026-11")
        pg.wait_for_selector("#statistics-table")
        assert _overflow(pg)["sw"] <= 1280  # the page itself does not scroll sideways
        scroller = pg.evaluate(
            """() => { const s = document.getElementById('statistics-scroll');
                       return {sw: s.scrollWidth, cw: s.clientWidth}; }"""
        )
        assert scroller["sw"] > scroller["cw"]  # the figures scroll inside their box
        name = pg.locator("#statistics-table tbody tr").first.locator("td").nth(1)
        box = name.bounding_box()
        assert box["width"] >= 100 and box["height"] < 40  # 保险机构 on one line, not a character per line
        pg.evaluate("document.getElementById('statistics-scroll').scrollLeft = 2000")
        after = name.bounding_box()
        assert abs(after["x"] - box["x"]) < 2  # fixed while the figures scroll
        assert "经纪公司行统计载明" in pg.inner_text("#statistics-footnote")
    finally:
        pg.context.close()
