"""Exports and workbooks as a clerk prints them: every list export and every 统计报告 workbook is opened
by LibreOffice (headless, the office suite of the department's PCs) and printed to PDF; the PDF is read
back with poppler: a 20-row ledger prints on one landscape page, no cell shows ###, the header repeats
on every page of a long export, the footnote is printed, dates are real dates."""

import io
import os
import shutil
import subprocess
import uuid
from datetime import date, datetime
from decimal import Decimal

import pytest
from factories import insurance as f
from factories.departments import world  # noqa: F401  (the module-scoped fixture)
from factories.jobs import follow_job
from openpyxl import load_workbook

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = pytest.mark.skipif(
    SOFFICE is None or shutil.which("pdftotext") is None,
    reason="LibreOffice (libreoffice-calc-nogui) and poppler-utils are installed by .ci/run",
)


def to_pdf(tmp_path, files):
    """{name: xlsx bytes} → {name: (page count, [text of each page], page size text)} via LibreOffice."""
    src = tmp_path / "xlsx"
    out = tmp_path / "pdf"
    src.mkdir(exist_ok=True)
    out.mkdir(exist_ok=True)
    paths = []
    for name, data in files.items():
        path = src / f"{name}.xlsx"
        path.write_bytes(data)
        paths.append(str(path))
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf", "--outdir", str(out)]
        + paths,
        check=True,
        capture_output=True,
        timeout=240,
    )
    result = {}
    for name in files:
        pdf = out / f"{name}.pdf"
        assert pdf.exists(), f"LibreOffice did not print {name}"
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        pages = int(next(line for line in info.splitlines() if line.startswith("Pages:")).split()[1])
        size = next(line for line in info.splitlines() if line.startswith("Page size:"))
        texts = [
            subprocess.run(
                ["pdftotext", "-layout", "-f", str(p), "-l", str(p), str(pdf), "-"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for p in range(1, pages + 1)
        ]
        result[name] = (pages, texts, size)
    return result


def fits_one_page_wide(ws):
    setup = ws.page_setup  # fitToWidth is omitted when it is 1 (the default)
    return (
        setup.orientation == "landscape"
        and ws.sheet_properties.pageSetUpPr.fitToPage
        and setup.fitToWidth in (None, 1)
        and setup.fitToHeight == 0
    )


def landscape(size_line):
    # "Page size:      841.89 x 595.276 pts (A4)"
    w, h = (float(x) for x in size_line.split(":")[1].split("pts")[0].split("x"))
    return w > h


def test_a_20_row_ledger_prints_on_one_landscape_page(app, as_user, tmp_path):
    tag = "打印" + uuid.uuid4().hex[:6]
    with app.app_context():
        for i in range(20):
            f.make_application("insured", name=f"{tag}黑龙江省某某建设集团有限公司第{i:02d}号综合楼工程")
    client = as_user("insurer_picc")
    response = client.get(f"/ledger/export/?fmt=xlsx&project={tag}")
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(response.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "保单台帐" and "项目名称：" + tag in rows[1][0] and "insurer_picc" in rows[1][0]
    assert len(rows) == 3 + 20
    header = rows[2]
    created, premium, start = header.index("创建时间"), header.index("保费"), header.index("生效日期")
    assert isinstance(rows[3][created], datetime) and isinstance(rows[3][start], datetime)  # date cells
    assert ws.cell(row=4, column=premium + 1).number_format == "#,##0.00"
    assert ws.cell(row=4, column=start + 1).number_format == "yyyy-mm-dd"
    assert ws.freeze_panes == "A4" and ws.auto_filter.ref.startswith("A3")
    assert fits_one_page_wide(ws)
    assert ws.print_title_rows == "$3:$3"

    pages, texts, size = to_pdf(tmp_path, {"ledger": response.data})["ledger"]
    assert pages == 1, f"a 20-row ledger printed on {pages} pages"
    assert landscape(size)
    text = texts[0]
    assert "###" not in text
    for label in ("项目号", "创建时间", "单位名称", "项目名称", "保单号", "保费", "生效日期", "终止日期"):
        assert label in text, label
    assert text.count(tag) == 21  # every name printed whole (and once in the filter line)
    assert "第 1 页，共 1 页" in text


def test_a_long_export_repeats_its_header_on_every_page(app, tmp_path):
    """The writer itself, 400 rows: several printed pages, each with the header row; money, counts,
    dates and times never print as ### at the widths the writer chose."""
    from app.reports.export import Column, write_xlsx

    columns = [
        Column("项目名称", kind="text"),
        Column("保费(元)", kind="money"),
        Column("人数", kind="count"),
        Column("比率", kind="ratio"),
        Column("生效日期", kind="date"),
        Column("创建时间", kind="datetime"),
    ]
    rows = (
        [
            f"项目{i:04d}",
            Decimal("1234567.89") + i,
            100000 + i,
            0.1234,
            date(2026, 1, 1),
            datetime(2026, 11, 29, 8, i % 60),
        ]
        for i in range(400)
    )
    path = tmp_path / "long.xlsx"
    with app.test_request_context():
        write_xlsx(str(path), columns, rows, title="长表", subtitle="筛选条件：全部")
    pages, texts, _size = to_pdf(tmp_path, {"long": path.read_bytes()})["long"]
    assert pages >= 4
    for number, text in enumerate(texts, start=1):
        assert "项目名称" in text and "保费(元)" in text and "创建时间" in text, f"page {number} lacks the header"
        assert "###" not in text
        assert f"第 {number} 页，共 {pages} 页" in text
    assert "1,234,567.89" in texts[0] and "100,000" in texts[0] and "12.34%" in texts[0]
    assert "2026-01-01" in texts[0] and "2026-11-29 16:00:00" in texts[0]  # stored UTC, shown in Beijing time


def _statistics_workbooks(client):
    out = {}
    for report in ("insurance", "prevention", "claims"):
        response = follow_job(client, client.get(f"/statistics/export/?type={report}&month=2031-03"))
        assert response.status_code == 200
        out[f"statistics-{report}"] = response.data
    return out


def test_every_list_export_and_every_workbook_prints(app, as_user, world, tmp_path):
    files = {}
    insurer = as_user("insurer_picc")
    files["applications"] = insurer.get("/applications/export/?fmt=xlsx").data
    files["ledger-all"] = insurer.get("/ledger/export/?fmt=xlsx").data
    files["orders"] = insurer.get("/orders/export/?fmt=xlsx").data
    department = as_user("dept_mohe_stats")
    files["dept-projects"] = department.get("/dept/projects/export/?fmt=xlsx").data
    files.update(_statistics_workbooks(department))
    for name, data in files.items():
        assert data[:2] == b"PK", name
    printed = to_pdf(tmp_path, files)
    for name, (pages, texts, size) in printed.items():
        assert landscape(size), name
        joined = "\n".join(texts)
        assert "###" not in joined, name
        assert f"第 1 页，共 {pages} 页" in texts[0], name
    # 统计报告: the summary's group headers over 本期 / 去年同期 / 增减, the footnote inside the print area
    pages, texts, _size = printed["statistics-insurance"]
    first = texts[0]
    assert "截止2031年03月31日数据" in first and "保单数" in first and "去年同期" in first and "增减" in first
    assert "人保财险" in first and "合计" in first and "合翔保险经纪" in first  # all 26 rows on its page
    assert "经纪公司行统计载明该经纪公司的保单" in first
    # the summary fits one page wide: every metric group is on the first page
    for label in ("保单占比", "保费数", "保费占比", "事故预防费", "事故预防费已使用"):
        assert label in first, label


def test_statistics_workbook_cells_as_a_clerk_reads_them(as_user, world):
    client = as_user("dept_mohe_stats")
    wb = load_workbook(io.BytesIO(_statistics_workbooks(client)["statistics-prevention"]))
    ws = wb["截止本月累计"]
    assert fits_one_page_wide(ws)
    assert ws.freeze_panes == "C6"  # 序号 and 保险机构 fixed, under the two header rows
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert "C4:E4" in merged and "F4:H4" in merged  # 派单数 over 本期 / 去年同期 / 增减 …
    assert ws["C4"].value == "派单数" and [ws.cell(5, c).value for c in (3, 4, 5)] == ["本期", "去年同期", "增减"]
    area = ws.print_area
    footnote_row = next(r for r in range(1, ws.max_row + 1) if str(ws.cell(r, 1).value or "").startswith("经纪公司行"))
    assert area.endswith(f"${footnote_row}")
    detail = wb["项目明细"]
    header = [c.value for c in detail[4]]
    day = header.index("派单日期") + 1
    assert detail.cell(5, day).is_date and detail.cell(5, day).number_format == "yyyy-mm-dd"
    assert os.path.basename(str(detail.print_title_rows)) == "$4:$4"
