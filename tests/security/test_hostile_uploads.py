"""Hostile uploads: a corpus generated here, against app.storage and against every upload form.

Each item is refused with its own reason — the message is asserted, written out here rather than
taken from the code — nothing is left on disk (FILE_STORAGE_ROOT is walked) and no StoredFile row is
written. The PDFs are well-formed files (a cross-reference table with true offsets, built below or by
pikepdf), so each is refused for what it holds, not for being malformed; the three a byte search
missed (a fake stream around /OpenAction, an object stream whose dictionary runs past 2,048 bytes, an
ASCIIHex object stream) are among them. Benign files of real producers (WeasyPrint, LibreOffice,
pikepdf, Pillow) are accepted. Stored files live under random keys, never under the name the browser
sent, and that name is rendered escaped.
"""

import base64
import binascii
import io
import os
import re
import shutil
import struct
import subprocess
import zipfile
import zlib

import pikepdf
import pytest
from conftest import jpeg_bytes, png_bytes
from werkzeug.datastructures import FileStorage

from app.demo.insurance import demo_pdf
from app.extensions import db
from app.models import StoredFile
from app.storage import (
    UPLOAD_RULES,
    UploadError,
    discard,
    get_storage,
    store_bytes,
    store_merged_upload,
    store_upload,
)

MB = 1024 * 1024

# The messages, as a user reads them.
ONLY_PDF = "文件类型不允许：仅接受 PDF"
ONLY_DOC = "文件类型不允许：仅接受 JPG、PDF、PNG"
ONLY_IMAGE = "文件类型不允许：仅接受 JPG、PNG"
ONLY_XLSX = "文件类型不允许：仅接受 XLSX"
EXT_LIES = "文件扩展名与文件内容不符"
PDF_JS = "PDF 文件含有 JavaScript 脚本，不允许上传"
PDF_LAUNCH = "PDF 文件含有启动外部程序的动作（Launch），不允许上传"
PDF_EMBEDDED = "PDF 文件含有嵌入文件（附件），不允许上传"
PDF_XFA = "PDF 文件含有 XFA 表单，不允许上传"
PDF_RICHMEDIA = "PDF 文件含有多媒体内容（RichMedia），不允许上传"
PDF_SUBMIT = "PDF 文件含有提交或导入数据的动作（SubmitForm、ImportData），不允许上传"
PDF_GOTOE = "PDF 文件含有打开嵌入文档的动作（GoToE），不允许上传"
PDF_AUTO = "PDF 文件含有打开或浏览时自动执行的动作，不允许上传"
PDF_ENCRYPTED = "PDF 文件已加密，不允许上传，请上传未加密的文件"
PDF_BROKEN = "PDF 文件不完整或已损坏"
PDF_TOO_LARGE = "PDF 文件压缩内容过大，不允许上传"
XLSX_MACRO = "Excel 文件含有宏，不允许上传"
XLSX_EXTERNAL = "Excel 文件含有外部链接或数据连接，不允许上传"
XLSX_RATIO = "Excel 文件的压缩比异常（疑似压缩炸弹），不允许上传"
XLSX_CORRUPT = "Excel 文件已损坏"
BAD_IMAGE = "图片无法读取或已损坏"
TOO_MANY_PIXELS = "图片像素过大"
CONTROL = "文件名含有控制字符或方向控制符"
PATH = "文件名不能包含路径"


def _png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def pixel_bomb(width=50000, height=50000):
    """A tiny PNG whose header claims width × height pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def truncated_jpeg():
    from PIL import Image

    out = io.BytesIO()
    Image.effect_noise((400, 400), 64).convert("RGB").save(out, "JPEG", quality=95)
    data = out.getvalue()
    return data[: len(data) // 2]


# --- PDFs, built with a true cross-reference table ---------------------------------------------------

CATALOG, PAGES, PAGE = 1, 2, 3
PAGE_TREE = {
    CATALOG: b"<< /Type /Catalog /Pages 2 0 R >>",
    PAGES: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    PAGE: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
}


def _encode(raw, how):
    if how == "flate":
        return zlib.compress(raw), b"/FlateDecode"
    if how == "hex":
        return binascii.hexlify(raw) + b">", b"/ASCIIHexDecode"
    if how == "a85+flate":
        return base64.a85encode(zlib.compress(raw), adobe=True)[2:], b"[/ASCII85Decode /FlateDecode]"
    raise ValueError(how)


def build_pdf(objects, compressed=None, encoding="flate", dictionary_pad=0, unnamed=(), tail=b""):
    """A PDF of ``objects`` ({number: body}); ``compressed`` ones go into one object stream (encoded by
    ``encoding``, its dictionary padded by ``dictionary_pad`` bytes), and then the table is a
    cross-reference stream, which leaves out the numbers in ``unnamed``. ``tail`` comes after %%EOF."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets, in_stream = {}, {}
    for number, body in sorted(objects.items()):
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    size = max(list(objects) + list(compressed or {})) + 1
    if compressed:
        stream_number, size = size, size + 1
        header, payload = [], b""
        for index, (number, body) in enumerate(sorted(compressed.items())):
            header.append(b"%d %d" % (number, len(payload)))
            payload += body + b"\n"
            in_stream[number] = (stream_number, index)
        head = b" ".join(header) + b"\n"
        data, filters = _encode(head + payload, encoding)
        pad = b" /Pad (" + b"x" * dictionary_pad + b")" if dictionary_pad else b""
        dictionary = b"<< /Type /ObjStm /N %d /First %d /Length %d /Filter %s%s >>" % (
            len(compressed),
            len(head),
            len(data),
            filters,
            pad,
        )
        offsets[stream_number] = out.tell()
        out.write(b"%d 0 obj\n" % stream_number + dictionary + b"\nstream\n" + data + b"\nendstream\nendobj\n")
        xref_number, size = size, size + 1
        offsets[xref_number] = out.tell()
        rows = b""
        for number in range(size):
            if number in offsets:
                rows += struct.pack(">BIH", 1, offsets[number], 0)
            elif number in in_stream and number not in unnamed:
                rows += struct.pack(">BIH", 2, *in_stream[number])
            else:
                rows += struct.pack(">BIH", 0, 0, 65535 if number == 0 else 0)
        data = zlib.compress(rows)
        dictionary = b"<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Filter /FlateDecode /Length %d >>" % (
            size,
            len(data),
        )
        out.write(b"%d 0 obj\n" % xref_number + dictionary + b"\nstream\n" + data + b"\nendstream\nendobj\n")
        out.write(b"startxref\n%d\n%%%%EOF\n" % offsets[xref_number])
    else:
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
        for number in range(1, size):
            out.write(b"%010d 00000 n \n" % offsets[number] if number in offsets else b"0000000000 00000 f \n")
        out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref))
    return out.getvalue() + tail


def with_catalog(extra, more=None, page=b"", **options):
    """The one-page tree with ``extra`` inside the catalog, ``page`` inside the page, ``more`` objects."""
    objects = dict(PAGE_TREE)
    objects[CATALOG] = b"<< /Type /Catalog /Pages 2 0 R " + extra + b" >>"
    objects[PAGE] = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] " + page + b" >>"
    objects.update(more or {})
    return build_pdf(objects, **options)


JS_ACTION = b"<< /S /JavaScript /JS (app.alert(1)) >>"


def encrypted_pdf(user_password=""):
    pdf = pikepdf.open(io.BytesIO(demo_pdf("encrypted")))
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(owner="owner-secret", user=user_password))
    return out.getvalue()


def flate_bomb(megabytes=80):
    """A content stream of a few hundred kilobytes that inflates to ``megabytes`` MB."""
    packer = zlib.compressobj(9)
    chunk = b"\x00" * MB
    data = b"".join(packer.compress(chunk) for _ in range(megabytes)) + packer.flush()
    return with_catalog(
        b"",
        {4: b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"},
        page=b"/Contents 4 0 R",
    )


PDF_CORPUS = [
    ("pdf-javascript", with_catalog(b"/OpenAction " + JS_ACTION), PDF_JS),
    ("pdf-javascript-escaped", with_catalog(b"/OpenAction << /S /J#61vaScript /J#53 (x) >>"), PDF_JS),
    ("pdf-javascript-objstm", with_catalog(b"/OpenAction 5 0 R", compressed={5: JS_ACTION}), PDF_JS),
    # A regex skipped "stream … endstream" as stream data: here they are strings around the action.
    ("pdf-fake-stream", with_catalog(b"/Pad (stream\n) /OpenAction " + JS_ACTION + b" /Pad2 (endstream)"), PDF_JS),
    (
        "pdf-objstm-long-dictionary",  # /ObjStm more than 2,048 bytes before "stream"
        with_catalog(b"/OpenAction 5 0 R", compressed={5: JS_ACTION}, dictionary_pad=3000),
        PDF_JS,
    ),
    ("pdf-objstm-asciihex", with_catalog(b"/OpenAction 5 0 R", compressed={5: JS_ACTION}, encoding="hex"), PDF_JS),
    (
        "pdf-objstm-ascii85-flate-launch",
        with_catalog(b"/OpenAction 5 0 R", compressed={5: b"<< /S /Launch /F (cmd.exe) >>"}, encoding="a85+flate"),
        PDF_LAUNCH,
    ),
    (
        "pdf-objstm-unnamed-slot",  # an object stream slot no table entry names (a repairing viewer finds it)
        with_catalog(b"", compressed={5: b"<< /Producer (x) >>", 6: JS_ACTION}, unnamed={6}),
        PDF_JS,
    ),
    ("pdf-object-outside-table", demo_pdf("hidden") + b"9 0 obj\n" + JS_ACTION + b"\nendobj\n", PDF_JS),
    (
        "pdf-javascript-name-tree",
        with_catalog(b"/Names << /JavaScript 4 0 R >>", {4: b"<< /Names [(a) 5 0 R] >>"}),
        PDF_JS,
    ),
    ("pdf-page-open-action", with_catalog(b"", page=b"/AA << /O " + JS_ACTION + b" >>"), PDF_JS),
    (
        "pdf-link-javascript",  # even on a click
        with_catalog(
            b"",
            {4: b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A " + JS_ACTION + b" >>"},
            page=b"/Annots [4 0 R]",
        ),
        PDF_JS,
    ),
    ("pdf-launch", with_catalog(b"/OpenAction << /S /Launch /F (cmd.exe) >>"), PDF_LAUNCH),
    (
        "pdf-embedded-file",
        with_catalog(
            b"/Names << /EmbeddedFiles << /Names [(a.exe) 4 0 R] >> >>",
            {
                4: b"<< /Type /Filespec /F (a.exe) /EF << /F 5 0 R >> >>",
                5: b"<< /Type /EmbeddedFile /Length 1 >>\nstream\nx\nendstream",
            },
        ),
        PDF_EMBEDDED,
    ),
    (
        "pdf-file-attachment",
        with_catalog(
            b"",
            {4: b"<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 9 9] /FS (a.exe) >>"},
            page=b"/Annots [4 0 R]",
        ),
        PDF_EMBEDDED,
    ),
    (
        "pdf-xfa",
        with_catalog(b"/AcroForm << /Fields [] /XFA 4 0 R >>", {4: b"<< /Length 3 >>\nstream\n<x>\nendstream"}),
        PDF_XFA,
    ),
    (
        "pdf-richmedia",
        with_catalog(b"", {4: b"<< /Type /Annot /Subtype /RichMedia /Rect [0 0 9 9] >>"}, page=b"/Annots [4 0 R]"),
        PDF_RICHMEDIA,
    ),
    (
        "pdf-submit-form",
        with_catalog(
            b"",
            {4: b"<< /Type /Annot /Subtype /Widget /Rect [0 0 9 9] /A << /S /SubmitForm /F (http://x/) >> >>"},
            page=b"/Annots [4 0 R]",
        ),
        PDF_SUBMIT,
    ),
    ("pdf-import-data", with_catalog(b"/OpenAction << /S /ImportData /F (data.fdf) >>"), PDF_SUBMIT),
    ("pdf-goto-embedded", with_catalog(b"/OpenAction << /S /GoToE /T << /R /C /N (a) >> >>"), PDF_GOTOE),
    ("pdf-open-uri", with_catalog(b"/OpenAction << /S /URI /URI (http://tracker.example/) >>"), PDF_AUTO),
    (
        "pdf-open-chain",  # harmless first action, a remote file next
        with_catalog(
            b"/OpenAction << /S /GoTo /D [3 0 R /Fit] /Next 4 0 R >>",
            {4: b"<< /S /GoToR /F (\\\\\\\\host\\\\share\\\\a.pdf) >>"},
        ),
        PDF_AUTO,
    ),
    ("pdf-encrypted", encrypted_pdf(), PDF_ENCRYPTED),
    ("pdf-encrypted-password", encrypted_pdf("user-secret"), PDF_ENCRYPTED),
    ("pdf-truncated", demo_pdf("cut")[:300], PDF_BROKEN),
    ("pdf-no-pages", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n", PDF_BROKEN),
    (
        "pdf-unknown-filter",
        with_catalog(
            b"", {4: b"<< /Length 3 /Filter /BogusDecode >>\nstream\nabc\nendstream"}, page=b"/Contents 4 0 R"
        ),
        PDF_BROKEN,
    ),
    ("pdf-flate-bomb", flate_bomb(), PDF_TOO_LARGE),
]


# --- zips --------------------------------------------------------------------------------------------


def zip_of(members: dict) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


WORKBOOK = {
    "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
    "_rels/.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>',
    "xl/workbook.xml": "<workbook/>",
}


def workbook_with(members: dict) -> bytes:
    return zip_of({**WORKBOOK, **members})


def docx():
    return zip_of(
        {"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>", "_rels/.rels": "<Relationships/>"}
    )


def lying_zip():
    """A workbook whose sheet entry declares 1,000 bytes (and their CRC) but inflates to 5 MB."""
    name = "xl/worksheets/sheet1.xml"
    body = b"<worksheet>" + b" " * (5 * MB) + b"</worksheet>"
    data = bytearray(workbook_with({name: body}))
    fake_size, fake_crc = 1000, zlib.crc32(body[:1000])
    end = data.rfind(b"PK\x05\x06")
    (count,) = struct.unpack_from("<H", data, end + 10)
    (position,) = struct.unpack_from("<I", data, end + 16)
    for _ in range(count):  # the central directory
        name_length, extra, comment = struct.unpack_from("<HHH", data, position + 28)
        (local,) = struct.unpack_from("<I", data, position + 42)
        if data[position + 46 : position + 46 + name_length] == name.encode():
            struct.pack_into("<I", data, position + 16, fake_crc)
            struct.pack_into("<I", data, position + 24, fake_size)
            struct.pack_into("<I", data, local + 14, fake_crc)  # and the local header
            struct.pack_into("<I", data, local + 22, fake_size)
        position += 46 + name_length + extra + comment
    assert zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(name).file_size == fake_size
    return bytes(data)


EXTERNAL_REL = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/oleObject"'
    ' Target="file:///C:/secret.xls" TargetMode="External"/></Relationships>'
)

XLSX_CORPUS = [
    ("docx-as-xlsx", docx(), ONLY_XLSX),
    ("xlsm-macro", workbook_with({"xl/vbaProject.bin": b"\x00" * 64}), XLSX_MACRO),
    (
        "xlsm-content-type",
        zip_of(
            {
                **WORKBOOK,
                "[Content_Types].xml": '<Types><Override PartName="/xl/workbook.xml" ContentType='
                '"application/vnd.ms-excel.sheet.macroEnabled.main+xml"/></Types>',
            }
        ),
        XLSX_MACRO,
    ),
    ("xlsx-activex", workbook_with({"xl/activeX/activeX1.xml": "<ax/>"}), XLSX_MACRO),
    ("xlsx-external-link", workbook_with({"xl/externalLinks/externalLink1.xml": "<externalLink/>"}), XLSX_EXTERNAL),
    ("xlsx-data-connection", workbook_with({"xl/connections.xml": "<connections/>"}), XLSX_EXTERNAL),
    ("xlsx-external-object", workbook_with({"xl/worksheets/_rels/sheet1.xml.rels": EXTERNAL_REL}), XLSX_EXTERNAL),
    ("xlsx-zip-bomb", workbook_with({"xl/worksheets/sheet1.xml": "0" * (30 * MB)}), XLSX_RATIO),  # about 1000:1
    ("xlsx-lying-size", lying_zip(), XLSX_RATIO),
    ("xlsx-duplicate-entry", workbook_with({"xl/WORKBOOK.xml": "<workbook/>"}), XLSX_CORRUPT),
    (
        "xlsx-too-many-entries",
        workbook_with({f"xl/media/image{i}.png": "" for i in range(1001)}),
        "Excel 文件包含的部件过多（最多 1000 个），不允许上传",
    ),
]

# (id, file name, bytes, upload kind, the message)
CORPUS = [
    ("jpeg-named-png", "licence.png", jpeg_bytes(), "business_license", EXT_LIES),
    ("png-named-pdf", "licence.pdf", png_bytes(), "business_license", EXT_LIES),
    # renamed non-PDFs: refused by their magic bytes, whatever the name says
    ("exe-named-pdf", "policy.pdf", b"MZ\x90\x00\x03" + b"\x00" * 200, "policy_file", ONLY_PDF),
    ("text-named-pdf", "保单.pdf", "这是一份保单".encode() * 20, "policy_file", ONLY_PDF),
    ("png-named-pdf-policy", "保单.pdf", png_bytes(), "policy_file", ONLY_PDF),
    (
        "oversize",
        "big.png",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * MB + 16),
        "business_license",
        "文件过大，最大 10 MB",
    ),
    (
        "oversize-pdf",
        "big.pdf",
        b"%PDF-1.4\n" + b"0" * (20 * MB + 16) + b"\n%%EOF",
        "policy_file",
        "文件过大，最大 20 MB",
    ),
    ("pixel-bomb", "bomb.png", pixel_bomb(), "hazard_photo", TOO_MANY_PIXELS),
    ("pixel-bomb-moderate", "bomb2.png", pixel_bomb(9000, 9000), "hazard_photo", TOO_MANY_PIXELS),
    ("truncated-jpeg", "cut.jpg", truncated_jpeg(), "hazard_photo", BAD_IMAGE),
    *[(case, f"{case}.pdf", data, "policy_file", message) for case, data, message in PDF_CORPUS],
    (
        "pdf-launch-report",
        "e.pdf",
        with_catalog(b"/OpenAction << /S /Launch /F (cmd.exe) >>"),
        "report_pdf",
        PDF_LAUNCH,
    ),
    ("zip", "archive.zip", zip_of({"a.txt": "hello"}), "contract", ONLY_DOC),
    ("zip-named-pdf", "contract.pdf", zip_of({"a.txt": "hello"}), "contract", ONLY_DOC),
    ("docx", "contract.docx", docx(), "contract", ONLY_DOC),
    *[(case, "projects.xlsx", data, "registry_import", message) for case, data, message in XLSX_CORPUS],
    ("html", "page.html", b"<!doctype html><html><script>alert(1)</script></html>", "business_license", ONLY_DOC),
    ("html-named-pdf", "scan.pdf", b"<html><body onload=alert(1)></body></html>", "business_license", ONLY_DOC),
    ("svg", "logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "hazard_photo", ONLY_IMAGE),
    (
        "svg-named-png",
        "logo.png",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
        "hazard_photo",
        ONLY_IMAGE,
    ),
    ("empty", "empty.png", b"", "hazard_photo", "文件为空"),
    ("name-traversal", "../../etc/passwd.png", png_bytes(), "hazard_photo", PATH),
    ("name-windows-traversal", "..\\..\\boot.png", png_bytes(), "hazard_photo", PATH),
    ("name-nul", "photo\x00.png", png_bytes(), "hazard_photo", CONTROL),
    ("name-300", "图" * 296 + ".png", png_bytes(), "hazard_photo", "文件名过长，最多 200 个字符"),
    ("name-rtl", "invoice\u202egnp.exe.png", png_bytes(), "hazard_photo", CONTROL),
    ("name-newline", "a\r\nX-Injected: 1.png", png_bytes(), "hazard_photo", CONTROL),
]


def _disk(app):
    root = app.config["FILE_STORAGE_ROOT"]
    found = set()
    for folder, _dirs, files in os.walk(root):
        for name in files:
            found.add(os.path.join(folder, name))
    return found


def _count():
    return db.session.query(StoredFile).count()


@pytest.mark.parametrize("case,name,data,kind,message", CORPUS, ids=[c[0] for c in CORPUS])
def test_store_upload_refuses(app, case, name, data, kind, message):
    with app.test_request_context():
        disk, rows = _disk(app), _count()
        upload = FileStorage(stream=io.BytesIO(data), filename=name, content_type="image/png")
        with pytest.raises(UploadError) as info:
            store_upload(db.session, upload, kind, user_id=None)
        db.session.rollback()
        assert str(info.value.message) == message
        assert _count() == rows
        assert _disk(app) == disk


@pytest.mark.parametrize("case,name,data,kind,message", CORPUS, ids=[c[0] for c in CORPUS])
def test_store_bytes_refuses(app, case, name, data, kind, message):
    with app.test_request_context():
        disk, rows = _disk(app), _count()
        with pytest.raises(UploadError) as info:
            store_bytes(db.session, data, name, kind)
        db.session.rollback()
        assert str(info.value.message) == message
        assert _count() == rows and _disk(app) == disk


def _weasyprint_pdf():
    import weasyprint

    html = "<h1>安全生产责任保险 保险单</h1>" + "".join(
        f"<p>第{i}条 <a href='https://example.com/{i}'>条款</a> " + "保险责任 " * 30 + "</p>" for i in range(60)
    )
    return weasyprint.HTML(string=html).write_pdf()


def _pikepdf_object_streams():
    pdf = pikepdf.open(io.BytesIO(_weasyprint_pdf()))
    out = io.BytesIO()
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return out.getvalue()


def _pillow_scan():
    from PIL import Image

    pages = [Image.effect_noise((620, 877), 40).convert("RGB") for _ in range(3)]
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=75)
    return out.getvalue()


def _libreoffice_pdf(tmp_path):
    if not shutil.which("soffice"):
        pytest.skip("LibreOffice (soffice) is not installed")
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["项目代码", "项目名称"])
    book.active.append(["2301-230103-04-01-000001", "哈尔滨测试项目"])
    book.save(tmp_path / "sheet.xlsx")
    subprocess.run(
        ["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(tmp_path / "sheet.xlsx")],
        check=True,
        capture_output=True,
        timeout=180,
        env=dict(os.environ, HOME=str(tmp_path)),
    )
    return (tmp_path / "sheet.pdf").read_bytes()


BENIGN_PDFS = {
    "demo": lambda tmp: demo_pdf("营业执照"),
    "weasyprint": lambda tmp: _weasyprint_pdf(),
    "pikepdf-object-streams": lambda tmp: _pikepdf_object_streams(),
    "pillow-scan": lambda tmp: _pillow_scan(),
    "libreoffice": _libreoffice_pdf,
    "goto-on-open-and-links": lambda tmp: with_catalog(
        b"/OpenAction [3 0 R /Fit]",
        {4: b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /URI /URI (https://example.com/) >> >>"},
        page=b"/Annots [4 0 R]",
    ),
}


@pytest.mark.parametrize("producer", sorted(BENIGN_PDFS))
def test_ordinary_pdfs_are_accepted(app, tmp_path, producer):
    """No false alarm on what real producers write: links, object streams, images, CJK text."""
    data = BENIGN_PDFS[producer](tmp_path)
    with app.test_request_context():
        row = store_bytes(db.session, data, "保单.pdf", "policy_file")
        assert row.content_type == "application/pdf" and get_storage().read(row.key) == data
        db.session.rollback()


def test_ordinary_workbooks_are_accepted(app):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["项目代码", "项目名称"])
    book.active.cell(row=2, column=1, value="2301-230103-04-01-000001").hyperlink = "https://example.com/"
    out = io.BytesIO()
    book.save(out)
    with app.test_request_context():
        row = store_bytes(db.session, out.getvalue(), "项目表.xlsx", "registry_import")
        assert get_storage().read(row.key) == out.getvalue()
        db.session.rollback()


def test_the_parser_runs_outside_the_worker(app, monkeypatch):
    """qpdf runs in a child process: a parser that dies takes the child, and the upload is refused."""
    from app.untrusted import pdf

    parent = os.getpid()

    def dies(data):
        assert os.getpid() != parent
        os.abort()

    monkeypatch.setattr(pdf, "inspect", dies)
    with app.test_request_context():
        with pytest.raises(UploadError) as info:
            store_bytes(db.session, demo_pdf("x"), "保单.pdf", "policy_file")
        assert str(info.value.message) == PDF_BROKEN
        db.session.rollback()


def test_every_kind_has_a_rule():
    assert all(cap > 0 and types for types, cap in UPLOAD_RULES.values())


def test_stored_name_is_never_a_path(app, world):
    """A good file is stored under a random key; the browser's name is only a label."""
    with app.test_request_context():
        rows = []
        for name in ("证照.png", "scan (1).PNG", "<img src=x onerror=alert(1)>.png"):
            rows.append(store_bytes(db.session, png_bytes(), name, "hazard_photo"))
        db.session.flush()
        keys = [r.key for r in rows]
        assert len(set(keys)) == 3
        for row in rows:
            assert re.fullmatch(r"[0-9a-f]{40}\.png", row.key)
            path = get_storage().path(row.key)
            assert os.path.exists(path)
            assert (
                os.path.dirname(os.path.dirname(path)) == os.path.abspath(app.config["FILE_STORAGE_ROOT"])
                or os.path.dirname(os.path.dirname(path)) == app.config["FILE_STORAGE_ROOT"]
            )
            assert row.original_name not in path
        for bad in ("../x", "..", "a/b", ".hidden", ""):
            with pytest.raises(ValueError):
                get_storage().path(bad)
        db.session.rollback()
        for key in keys:  # rolled back: the bytes are gone too
            assert not get_storage().exists(key)


def test_hostile_name_is_rendered_escaped(app, world, as_user):
    """The name a browser sent reaches a page or a header only escaped."""
    from flask import render_template_string

    evil = "<img src=x onerror=alert(1)>.png"
    with app.test_request_context():
        row = store_bytes(db.session, png_bytes(), evil, "business_license")
        from app.models import Enterprise

        ent = db.session.get(Enterprise, world.ids["A"]["Enterprise"][0])
        from app.storage import attach

        db.session.flush()
        attach(row, ent)
        db.session.commit()
        file_id = row.id
        html = render_template_string("{{ f }}", f=row)
        assert "<img" not in html and "&lt;img" in html
    client = as_user("admin")
    r = client.get(f"/files/{file_id}")
    assert r.status_code == 200
    disposition = r.headers["Content-Disposition"]
    # in a header the name is data, quoted on one line: it must come back exactly, with nothing added
    from werkzeug.http import parse_options_header

    assert "\n" not in disposition and "\r" not in disposition
    kind, options = parse_options_header(disposition)
    assert kind == "attachment" and options.get("filename") == evil
    assert r.headers["X-Content-Type-Options"] == "nosniff"


# --- every upload form in the app ------------------------------------------------------------------------

FILE_INPUT = re.compile(r"<input[^>]*type=[\"']file[\"'][^>]*>", re.I)
NAME_ATTR = re.compile(r"name=[\"']([^\"']+)[\"']")
HIDDEN_OR_TEXT = re.compile(r"<input[^>]*name=[\"']([^\"']+)[\"'][^>]*?(?:value=[\"']([^\"']*)[\"'])?[^>]*>", re.I)


def _upload_forms(app, world):
    """(username, url, file fields, other fields): every page that offers a file input to someone."""
    from werkzeug.routing import BuildError

    users = ["admin"] + [world.users[(k, "A")] for k in ("enterprise", "insurer", "org", "expert", "department")]
    users.append(world.users[("broker", "A")])
    own = world.ids["A"]
    forms = []
    seen = set()
    for username in users:
        client = app.test_client()
        client.post("/login/", data={"username": username, "password": "Demo@2026"})
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or "POST" not in rule.methods:
                continue
            if rule.endpoint.endswith((".static", ".delete")) or "logout" in rule.endpoint or "/action" in rule.rule:
                continue
            view = getattr(app.view_functions[rule.endpoint], "__self__", None)
            model = getattr(getattr(view, "datamodel", None), "obj", None)
            values = {}
            for arg in rule.arguments:
                ids = own.get(model.__name__) if (arg == "pk" and model is not None) else None
                values[arg] = (ids or [1])[0]
            try:
                url = rule.build(values, append_unknown=False)[1]
            except (BuildError, TypeError, ValueError):
                continue
            if (rule.endpoint, username) in seen:
                continue
            r = client.get(url)
            if r.status_code != 200:
                continue
            html = r.get_data(as_text=True)
            inputs = FILE_INPUT.findall(html)
            if not inputs:
                continue
            seen.add((rule.endpoint, username))
            fields = [NAME_ATTR.search(i).group(1) for i in inputs if NAME_ATTR.search(i)]
            others = {
                m.group(1): m.group(2) or ""
                for m in HIDDEN_OR_TEXT.finditer(html)
                if m.group(1) not in fields and 'type="file"' not in m.group(0)
            }
            forms.append((username, url, fields, others))
    return forms


FORM_CORPUS = [
    c
    for c in CORPUS
    if c[0]
    in (
        "jpeg-named-png",
        "exe-named-pdf",
        "pixel-bomb",
        "truncated-jpeg",
        "pdf-javascript",
        "pdf-fake-stream",
        "pdf-objstm-asciihex",
        "pdf-embedded-file",
        "zip",
        "docx",
        "html",
        "svg",
        "name-traversal",
        "name-nul",
        "name-300",
        "name-rtl",
    )
]


def test_every_upload_form_refuses_the_corpus(app, world):
    forms = _upload_forms(app, world)
    if not forms:
        pytest.skip("no page offers a file input yet")
    problems = []
    for username, url, fields, others in forms:
        client = app.test_client()
        client.post("/login/", data={"username": username, "password": "Demo@2026"})
        for case, name, data, _kind, _message in FORM_CORPUS:
            with app.app_context():
                disk, rows = _disk(app), _count()
                db.session.remove()
            form = dict(others)
            for field in fields:
                form[field] = (io.BytesIO(data), name)
            try:
                r = client.post(url, data=form, content_type="multipart/form-data", follow_redirects=True)
            except Exception as exc:
                problems.append(f"{username} {url} {case}: crashed {exc!r}")
                continue
            body = r.get_data(as_text=True)
            with app.app_context():
                if _count() != rows:
                    problems.append(f"{username} {url} {case}: a StoredFile row was written")
                if _disk(app) != disk:
                    problems.append(f"{username} {url} {case}: bytes left on disk")
                db.session.remove()
            if r.status_code >= 500:
                problems.append(f"{username} {url} {case}: answered {r.status_code}")
            elif not re.search(r"(alert-danger|help-block|has-error|invalid-feedback|error)", body):
                problems.append(f"{username} {url} {case}: no message shown")
    assert not problems, "\n".join(problems)


def _pages(*files):
    return [FileStorage(stream=io.BytesIO(data), filename=name) for name, data in files]


@pytest.mark.parametrize(
    "files,message",
    [
        ([], "请选择文件"),
        ([("第1页.png", png_bytes())] * 31, "最多 30 页（张图片）"),
        ([("第1页.png", png_bytes()), ("第2页.png", b"")], "第2页.png：文件为空"),
        # the kind's cap (20 MB for a 报告扫描件) is read plus one byte: one more is too large …
        ([("大.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (20 * MB - 7))], "大.png：文件过大，最大 20 MB"),
        # … exactly the cap is not, and is refused for what it is
        ([("满.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (20 * MB - 8))], "满.png：图片无法读取或已损坏"),
        (
            [("第1页.png", png_bytes()), ("说明.docx", b"PK\x03\x04" + b"\0" * 64)],
            "说明.docx：文件类型不允许：仅接受 PDF、JPG、PNG",
        ),
        ([("第1页.png", png_bytes()), ("第2页.jpg", png_bytes())], "文件扩展名与文件内容不符"),
        (
            [("第1页.png", png_bytes()), ("报告.pdf", demo_pdf("报告"))],
            "PDF 须单独上传；多页的纸质报告请上传各页图片，合并为一个 PDF",
        ),
        ([("第1页.png", png_bytes()), ("坏.jpg", jpeg_bytes()[:40])], "坏.jpg：图片无法读取或已损坏"),
    ],
    ids=["none", "31-pages", "empty-page", "over-cap", "at-cap", "docx", "lying-name", "pdf-among-images", "cut-jpeg"],
)
def test_a_merged_upload_refuses_naming_the_file(app, files, message):
    with app.test_request_context():
        disk, rows = _disk(app), _count()
        with pytest.raises(UploadError) as info:
            store_merged_upload(db.session, _pages(*files), "report_scan", "报告.pdf")
        db.session.rollback()
        assert str(info.value.message) == message
        assert _count() == rows and _disk(app) == disk


def test_a_merged_upload_is_one_pdf_of_the_pages_in_order(app):
    with app.test_request_context():
        pages = _pages(("1.png", png_bytes((40, 20))), ("2.jpg", jpeg_bytes((20, 40))), ("3.png", png_bytes((30, 30))))
        row = store_merged_upload(db.session, pages, "report_scan", "报告.pdf")
        db.session.flush()
        data = get_storage().read(row.key)
        assert row.content_type == "application/pdf" and row.original_name == "报告.pdf" and row.size == len(data)
        with pikepdf.open(io.BytesIO(data)) as pdf:  # each page at 150 dpi: its pixels × 72 / 150 points
            sizes = [tuple(float(v) for v in page.mediabox[2:]) for page in pdf.pages]
        assert sizes == [pytest.approx((w * 72 / 150, h * 72 / 150)) for w, h in [(40, 20), (20, 40), (30, 30)]]
        # a form's empty file fields (no file chosen) are no pages
        pages = [None, FileStorage(stream=io.BytesIO(b""), filename=""), *_pages(("1.png", png_bytes()))]
        with pikepdf.open(
            io.BytesIO(get_storage().read(store_merged_upload(db.session, pages, "report_scan", "r.pdf").key))
        ) as pdf:
            assert len(pdf.pages) == 1
        thirty = store_merged_upload(
            db.session, _pages(*[(f"{i}.png", png_bytes()) for i in range(30)]), "report_scan", "报告.pdf"
        )
        with pikepdf.open(io.BytesIO(get_storage().read(thirty.key))) as pdf:
            assert len(pdf.pages) == 30  # the most a merged upload takes
        single = store_merged_upload(db.session, _pages(("扫描.pdf", demo_pdf("扫描"))), "report_scan", "报告.pdf")
        assert single.original_name == "扫描.pdf"  # a single PDF is stored as it is
        assert get_storage().read(single.key) == demo_pdf("扫描")
        db.session.rollback()


def test_a_discarded_file_loses_its_bytes_at_the_commit_and_keeps_them_on_a_rollback(app):
    with app.test_request_context():
        kept = store_bytes(db.session, png_bytes(), "留.png", "hazard_photo")
        gone = store_bytes(db.session, png_bytes(), "删.png", "hazard_photo")
        db.session.commit()
        discard(db.session, kept)
        db.session.rollback()  # the discard undone: row and bytes stay
        assert get_storage().exists(kept.key)
        discard(db.session, gone)
        assert get_storage().exists(gone.key)  # until the commit
        db.session.commit()
        assert not get_storage().exists(gone.key)
        assert db.session.get(StoredFile, gone.id) is None and get_storage().exists(kept.key)
        discard(db.session, db.session.get(StoredFile, kept.id))
        db.session.commit()
        assert not get_storage().exists(kept.key)
