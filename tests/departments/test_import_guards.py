"""The registry import's guards: the archive checked before the file is kept, the sheet bounded before a
reader allocates anything, the reader (calamine) kept in a sandboxed child, previews that expire.

Hostile workbooks are built here byte by byte (a few hundred bytes each); each is refused with its own
message and, for the sheet bounds, before calamine is even called (it is replaced by a function that
fails the test). Real producers' files (openpyxl, LibreOffice) read the same.
"""

import io
import os
import shutil
import subprocess
import time
import zipfile

import pytest
from factories.registry import HEADERS, HUMA
from openpyxl import Workbook
from sqlalchemy import delete, func, select
from werkzeug.datastructures import FileStorage

from app.demo.data import make_credit_code
from app.extensions import db
from app.models import AppUser, RegistryProject
from app.services import registry_import
from app.services.base import Invalid, NotFound
from app.storage import get_storage
from app.untrusted import sandbox, xlsx

MB = 1024 * 1024

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="项目表" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
SHARED = '<Relationship Id="rId2" Type="{}/sharedStrings" Target="sharedStrings.xml"/>'.format(
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/>{}</Relationships>'
)


def cell(ref, text):
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def header_row():
    return '<row r="1">' + "".join(cell(f"{chr(65 + i)}1", h) for i, h in enumerate(HEADERS)) + "</row>"


def workbook(sheet_data, dimension=None, shared_strings=None, extra=None):
    """An xlsx holding one sheet whose <sheetData> is ``sheet_data``."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"{dim}<sheetData>{sheet_data}</sheetData></worksheet>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.format(SHARED if shared_strings else ""))
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        if shared_strings:
            archive.writestr("xl/sharedStrings.xml", shared_strings)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def good_row(n, i, code=None):
    values = [
        code or f"GUARD-{i:04d}",
        f"导入守卫项目{i}",
        HUMA,
        "企业",
        make_credit_code(HUMA, 70000000 + i),
        "",
        "10",
        "是",
    ]
    return f'<row r="{n}">' + "".join(cell(f"{chr(65 + j)}{n}", v) for j, v in enumerate(values)) + "</row>"


@pytest.fixture
def admin(app):
    with app.test_request_context():
        yield db.session.query(AppUser).filter_by(username="admin").one()


@pytest.fixture
def no_calamine(monkeypatch):
    """calamine must not be reached: the bounds refuse first (the fork child inherits the patch)."""

    def reached(*args, **kwargs):
        raise AssertionError("calamine was called on a sheet the bounds should have refused")

    monkeypatch.setattr(xlsx.python_calamine.CalamineWorkbook, "from_filelike", reached)


@pytest.fixture
def cleanup(app):
    yield
    with app.app_context():
        db.session.execute(delete(RegistryProject).where(RegistryProject.name.like("导入守卫项目%")))
        db.session.commit()


def _previews():
    root = get_storage().root
    folder = os.path.join(root, "ri")
    return set(os.listdir(folder)) if os.path.isdir(folder) else set()


def _upload(data, name="项目表.xlsx"):
    return FileStorage(io.BytesIO(data), filename=name)


# --- the archive, before the file is kept -------------------------------------------------------------

ARCHIVES = [
    (
        "zip-bomb",
        workbook(header_row(), extra={"xl/media/filler.xml": "0" * (30 * MB)}),
        "Excel 文件的压缩比异常（疑似压缩炸弹），不允许上传",
    ),
    (
        "vba-project",
        workbook(header_row(), extra={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\0" * 60}),
        "Excel 文件含有宏，不允许上传",
    ),
    (
        "external-link",
        workbook(header_row(), extra={"xl/externalLinks/externalLink1.xml": "<externalLink/>"}),
        "Excel 文件含有外部链接或数据连接，不允许上传",
    ),
    (
        "not-a-workbook",
        workbook(header_row()).replace(b"xl/workbook.xml", b"xl/notebook.xml"),
        "文件类型不允许：仅接受 XLSX",
    ),
]


@pytest.mark.parametrize("case,data,message", ARCHIVES, ids=[a[0] for a in ARCHIVES])
def test_store_file_refuses_the_archive_and_keeps_nothing(app, admin, case, data, message):
    before = _previews()
    with pytest.raises(Invalid) as info:
        registry_import.store_file(_upload(data), admin)
    assert str(info.value.message) == message
    assert _previews() == before


def test_the_upload_page_shows_the_archive_refusal(as_user):
    client = as_user("dept_province")
    data = workbook(header_row(), extra={"xl/vbaProject.bin": b"\0" * 64})
    client.post("/registry-import/upload", data={"file": (io.BytesIO(data), "项目表.xlsx")})
    assert "Excel 文件含有宏，不允许上传" in client.get("/registry-import/").get_data(as_text=True)


# --- the sheet, before a reader allocates it ------------------------------------------------------------

BOUNDS = [
    ("cell-ZZZZ2", header_row() + '<row r="2">' + cell("ZZZZ2", "x") + "</row>", "工作表中的单元格位置 ZZZZ2 无效"),
    (
        "fifty-ZZZZ-rows",
        header_row()
        + "".join(f'<row r="{n}">' + cell(f"A{n}", "x") + cell(f"ZZZZ{n}", "y") + "</row>" for n in range(2, 52)),
        "工作表中的单元格位置 ZZZZ2 无效",
    ),
    ("cell-ZZZZZ", header_row() + '<row r="2">' + cell("ZZZZZ2", "x") + "</row>", "工作表中的单元格位置 ZZZZZ2 无效"),
    (
        "overlong-row",
        header_row() + '<row r="2">' + cell("A" + "9" * 12, "x") + "</row>",
        "工作表中的单元格位置 A999999999999 无效",
    ),
    (
        "last-cell-of-excel",
        header_row() + '<row r="1048576">' + cell("XFD1048576", "x") + "</row>",
        "工作表超过 32 列（单元格 XFD1048576）",
    ),
    ("column-AZ", header_row() + '<row r="2">' + cell("AZ2", "x") + "</row>", "工作表超过 32 列（单元格 AZ2）"),
    (
        "row-past-the-limit",
        header_row() + '<row r="100002">' + cell("A100002", "x") + "</row>",
        "行数超过上限 100000 行，请分批导入",
    ),
    (
        "prefixed-cells",  # not the usual form: read by the XML parser, bounded all the same
        header_row() + '<row r="2"><x:c xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" r="ZZZZ2" '
        't="inlineStr"><x:is><x:t>x</x:t></x:is></x:c></row>',
        "工作表中的单元格位置 ZZZZ2 无效",
    ),
    (
        "cells-without-references",  # calamine places them one after another: 40 of them pass column 32
        header_row() + '<row r="2">' + '<c t="inlineStr"><is><t>x</t></is></c>' * 40 + "</row>",
        "工作表超过 32 列（单元格 AG2）",
    ),
]


@pytest.mark.parametrize("case,sheet_data,message", BOUNDS, ids=[b[0] for b in BOUNDS])
def test_sheet_bounds_refuse_before_calamine(app, admin, no_calamine, case, sheet_data, message):
    result = registry_import.preview(workbook(sheet_data), admin)
    assert [str(m) for m in result.header_errors] == [message]
    assert not result.ok and result.frame is None


def test_declared_dimension_is_bounded(app, admin, no_calamine):
    result = registry_import.preview(workbook(header_row(), dimension="A1:XFD1048576"), admin)
    assert [str(m) for m in result.header_errors] == [
        "工作表声明的范围 A1:XFD1048576 超过上限（最多 100001 行、32 列）"
    ]


def test_shared_strings_count_is_bounded(app, admin, no_calamine):
    """calamine reserves room for the declared count: four billion would abort the process."""
    strings = (
        '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
        ' count="1" uniqueCount="4000000000"><si><t>项目代码</t></si></sst>'
    )
    data = workbook('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared_strings=strings)
    result = registry_import.preview(data, admin)
    assert [str(m) for m in result.header_errors] == ["Excel 文件的共享字符串表声明的数量与内容不符"]


def _calamine_unguarded(data):
    import python_calamine

    with python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)) as book:
        return book.get_sheet_by_index(0).height


def test_calamine_abort_stays_in_the_sandbox():
    """Why calamine runs in a child: given that shared-string table unchecked, it aborts its process."""
    strings = (
        '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
        ' count="1" uniqueCount="4000000000"><si><t>a</t></si></sst>'
    )
    data = workbook('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared_strings=strings)
    with pytest.raises(sandbox.Crashed):
        sandbox.run(_calamine_unguarded, data, timeout=30, memory=512 * MB)
    assert sandbox.run(_calamine_unguarded, workbook(header_row()), timeout=30, memory=512 * MB) == 1


def _allocate(n):
    return len(bytearray(n))


def test_sandbox_caps_memory_and_time():
    assert sandbox.run(_allocate, 10 * MB, timeout=30, memory=256 * MB) == 10 * MB
    with pytest.raises(sandbox.Crashed) as info:
        sandbox.run(_allocate, 2048 * MB, timeout=30, memory=256 * MB)
    assert "memory" in str(info.value)
    started = time.monotonic()
    with pytest.raises(sandbox.Timeout):
        sandbox.run(time.sleep, 60, timeout=1, memory=64 * MB)
    assert time.monotonic() - started < 30  # killed, not waited for
    import multiprocessing

    assert multiprocessing.active_children() == []


def test_sandbox_hands_back_the_childs_exception():
    with pytest.raises(xlsx.Refused) as info:
        sandbox.run(xlsx.check_archive, b"PK\x03\x04 not a zip", timeout=30, memory=64 * MB)
    assert info.value.code == "corrupt" and str(info.value.message) == "Excel 文件已损坏"


# --- what real producers write reads the same -----------------------------------------------------------


def _openpyxl_sheet(rows, leading_blank_rows=0):
    book = Workbook()
    sheet = book.active
    for _ in range(leading_blank_rows):
        sheet.append([])
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _typed_rows():
    """Numbers where a user types numbers: a numeric region code, an integral and a decimal investment,
    a boolean 是否有效."""
    return [
        ["GUARD-T1", "导入守卫项目T1", int(HUMA), "企业", make_credit_code(HUMA, 71000001), "", 100.5, True],
        ["GUARD-T2", "导入守卫项目T2", HUMA, "企业", make_credit_code(HUMA, 71000002), "", 2000, "否"],
    ]


def test_typed_cells_read_as_their_text(app, admin, cleanup):
    result = registry_import.preview(_openpyxl_sheet(_typed_rows()), admin)
    assert result.ok, (result.header_errors, [e.messages for e in result.errors])
    rows = {r["project_code"]: r for r in result.frame}
    assert rows["GUARD-T1"]["region_code"] == HUMA and str(rows["GUARD-T1"]["investment"]) == "100.50"
    assert rows["GUARD-T1"]["valid"] is True and rows["GUARD-T2"]["valid"] is False
    assert str(rows["GUARD-T2"]["investment"]) == "2000.00"


def test_row_numbers_are_excel_rows(app, admin):
    """Two blank rows above the header: the errors name the rows Excel shows."""
    rows = [["GUARD-N1", "导入守卫项目N1", "999999", "企业", make_credit_code(HUMA, 71000003), "", "", ""]]
    result = registry_import.preview(_openpyxl_sheet(rows, leading_blank_rows=2), admin)
    assert [(e.row, e.messages) for e in result.errors] == [(4, ["行政区划代码999999不存在"])]


def test_investment_beyond_the_column_is_a_row_error(app, admin):
    rows = [["GUARD-I1", "导入守卫项目I1", HUMA, "企业", make_credit_code(HUMA, 71000004), "", "1e15", ""]]
    result = registry_import.preview(_openpyxl_sheet(rows), admin)
    assert [(e.row, e.messages) for e in result.errors] == [(2, ["投资规模(万元)：数值过大"])]


def test_a_libreoffice_workbook_reads_like_the_original(app, admin, tmp_path):
    if not shutil.which("soffice"):
        pytest.skip("LibreOffice (soffice) is not installed")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "registry.xlsx").write_bytes(_openpyxl_sheet(_typed_rows()))
    subprocess.run(
        [
            "soffice",
            "--headless",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(tmp_path),
            str(tmp_path / "src" / "registry.xlsx"),
        ],
        check=True,
        capture_output=True,
        timeout=180,
        env=dict(os.environ, HOME=str(tmp_path)),
    )
    converted = (tmp_path / "registry.xlsx").read_bytes()
    assert b"sharedStrings" in converted  # LibreOffice writes shared strings, openpyxl inline ones here
    original = registry_import.preview(_openpyxl_sheet(_typed_rows()), admin)
    again = registry_import.preview(converted, admin)
    assert again.ok and again.total == original.total == 2
    fields = ["project_code", "region_code", "credit_code", "investment", "valid"]
    assert [[r[f] for f in fields] for r in again.frame] == [[r[f] for f in fields] for r in original.frame]


# --- previews expire ------------------------------------------------------------------------------------


def _store(admin, rows):
    return registry_import.store_file(_upload(_openpyxl_sheet(rows)), admin)


def test_an_unconfirmed_preview_expires(app, admin, cleanup):
    rows = [["GUARD-E1", "导入守卫项目E1", HUMA, "企业", make_credit_code(HUMA, 71000005), "", "", ""]]
    token = _store(admin, rows)
    path = get_storage().path(token)
    registry_import.load_file(token, admin)  # fresh: readable
    day_old = time.time() - 25 * 3600
    os.utime(path, (day_old, day_old))
    app.config["IMPORT_PREVIEW_HOURS"] = 48
    try:
        assert registry_import.load_file(token, admin)  # the configured time, not a constant
    finally:
        app.config["IMPORT_PREVIEW_HOURS"] = 24
    with pytest.raises(NotFound) as info:
        registry_import.run_import(token, admin)
    assert str(info.value.message) == "导入文件已过期，请重新上传"
    assert not os.path.exists(path)
    assert db.session.execute(select(func.count()).where(RegistryProject.project_code == "GUARD-E1")).scalar_one() == 0


def test_confirming_an_expired_preview_says_so(app, as_user, cleanup):
    client = as_user("dept_province")
    rows = [["GUARD-E2", "导入守卫项目E2", HUMA, "企业", make_credit_code(HUMA, 71000006), "", "", ""]]
    page = client.post("/registry-import/upload", data={"file": (io.BytesIO(_openpyxl_sheet(rows)), "项目表.xlsx")})
    token = page.get_data(as_text=True).split('name="file_id" value="')[1].split('"')[0]
    with app.app_context():
        old = time.time() - 25 * 3600
        os.utime(get_storage().path(token), (old, old))
    response = client.post("/registry-import/confirm", data={"file_id": token})
    assert response.status_code == 302 and response.location.endswith("/registry-import/")
    assert "导入文件已过期，请重新上传" in client.get(response.location).get_data(as_text=True)
