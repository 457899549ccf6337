"""Hostile uploads: a corpus generated here, against app.storage and against every upload form.

Each item is refused with a clear Chinese message; nothing is left on disk (FILE_STORAGE_ROOT is
walked) and no StoredFile row is written. Stored files live under random keys, never under the
name the browser sent, and that name is rendered escaped.
"""

import io
import os
import re
import struct
import zipfile
import zlib

import pytest
from conftest import jpeg_bytes, png_bytes
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import StoredFile
from app.storage import UPLOAD_RULES, UploadError, get_storage, store_bytes, store_upload

MB = 1024 * 1024


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


def pdf_with(body: bytes) -> bytes:
    return b"%PDF-1.4\n" + body + b"\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def pdf_objstm_js():
    """JavaScript hidden inside a compressed object stream."""
    inner = zlib.compress(b"5 0 << /S /JavaScript /JS (app.alert(1)) >>")
    return pdf_with(
        b"1 0 obj << /Type /Catalog /OpenAction 5 0 R >> endobj\n"
        b"4 0 obj << /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length "
        + str(len(inner)).encode()
        + b" >>\nstream\n"
        + inner
        + b"\nendstream\nendobj"
    )


def zip_of(members: dict) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def docx():
    return zip_of(
        {"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>", "_rels/.rels": "<Relationships/>"}
    )


def xlsm():
    return zip_of(
        {"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>", "xl/vbaProject.bin": b"\x00" * 64}
    )


def zip_bomb_xlsx():
    return zip_of(
        {
            "[Content_Types].xml": "<Types/>",
            "xl/workbook.xml": "<workbook/>",
            "xl/worksheets/sheet1.xml": "0" * (30 * MB),
        }
    )


# (id, file name, bytes, upload kind)
CORPUS = [
    ("jpeg-named-png", "licence.png", jpeg_bytes(), "business_license"),
    ("png-named-pdf", "licence.pdf", png_bytes(), "business_license"),
    ("exe-named-pdf", "policy.pdf", b"MZ\x90\x00\x03" + b"\x00" * 200, "policy_file"),
    ("oversize", "big.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * MB + 16), "business_license"),
    ("oversize-pdf", "big.pdf", b"%PDF-1.4\n" + b"0" * (20 * MB + 16) + b"\n%%EOF", "policy_file"),
    ("pixel-bomb", "bomb.png", pixel_bomb(), "hazard_photo"),
    ("pixel-bomb-moderate", "bomb2.png", pixel_bomb(9000, 9000), "hazard_photo"),
    ("truncated-jpeg", "cut.jpg", truncated_jpeg(), "hazard_photo"),
    (
        "pdf-javascript",
        "a.pdf",
        pdf_with(b"1 0 obj << /Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj"),
        "policy_file",
    ),
    (
        "pdf-javascript-escaped",
        "b.pdf",
        pdf_with(b"1 0 obj << /OpenAction << /S /J#61vaScript /J#53 (x) >> >> endobj"),
        "policy_file",
    ),
    ("pdf-javascript-objstm", "c.pdf", pdf_objstm_js(), "policy_file"),
    (
        "pdf-embedded-file",
        "d.pdf",
        pdf_with(
            b"1 0 obj << /Type /Catalog /Names << /EmbeddedFiles 2 0 R >> >> "
            b"endobj\n3 0 obj << /Type /EmbeddedFile /Length 1 >>\nstream\nx\n"
            b"endstream\nendobj"
        ),
        "policy_file",
    ),
    ("pdf-launch", "e.pdf", pdf_with(b"1 0 obj << /OpenAction << /S /Launch /F (cmd.exe) >> >> endobj"), "report_pdf"),
    ("pdf-truncated", "f.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n", "policy_file"),
    ("zip", "archive.zip", zip_of({"a.txt": "hello"}), "contract"),
    ("zip-named-pdf", "contract.pdf", zip_of({"a.txt": "hello"}), "contract"),
    ("docx", "contract.docx", docx(), "contract"),
    ("docx-as-xlsx", "projects.xlsx", docx(), "registry_import"),
    ("xlsm-macro", "projects.xlsx", xlsm(), "registry_import"),
    ("xlsx-zip-bomb", "projects.xlsx", zip_bomb_xlsx(), "registry_import"),
    ("html", "page.html", b"<!doctype html><html><script>alert(1)</script></html>", "business_license"),
    ("html-named-pdf", "scan.pdf", b"<html><body onload=alert(1)></body></html>", "business_license"),
    ("svg", "logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "hazard_photo"),
    ("svg-named-png", "logo.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "hazard_photo"),
    ("empty", "empty.png", b"", "hazard_photo"),
    ("name-traversal", "../../etc/passwd.png", png_bytes(), "hazard_photo"),
    ("name-windows-traversal", "..\\..\\boot.png", png_bytes(), "hazard_photo"),
    ("name-nul", "photo\x00.png", png_bytes(), "hazard_photo"),
    ("name-300", "图" * 296 + ".png", png_bytes(), "hazard_photo"),
    ("name-rtl", "invoice\u202egnp.exe.png", png_bytes(), "hazard_photo"),
    ("name-newline", "a\r\nContent-Type: text/html.png", png_bytes(), "hazard_photo"),
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


def _is_clear(message):
    text = str(message)
    return bool(re.search(r"[\u4e00-\u9fff]", text)) and len(text) >= 4


@pytest.mark.parametrize("case,name,data,kind", CORPUS, ids=[c[0] for c in CORPUS])
def test_store_upload_refuses(app, case, name, data, kind):
    with app.test_request_context():
        disk, rows = _disk(app), _count()
        upload = FileStorage(stream=io.BytesIO(data), filename=name, content_type="image/png")
        with pytest.raises(UploadError) as info:
            store_upload(db.session, upload, kind, user_id=None)
        db.session.rollback()
        assert _is_clear(info.value.message), info.value.message
        assert _count() == rows
        assert _disk(app) == disk


@pytest.mark.parametrize("case,name,data,kind", CORPUS, ids=[c[0] for c in CORPUS])
def test_store_bytes_refuses(app, case, name, data, kind):
    with app.test_request_context():
        disk, rows = _disk(app), _count()
        with pytest.raises(UploadError):
            store_bytes(db.session, data, name, kind)
        db.session.rollback()
        assert _count() == rows and _disk(app) == disk


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
        for case, name, data, _kind in FORM_CORPUS:
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
