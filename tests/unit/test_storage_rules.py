"""The upload rules that need no app: magic bytes, names, storage keys."""

import io
import logging

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy.orm import sessionmaker

from app import storage
from app.storage import PDF, XLSX, UploadError, check_name, clean_name, sniff


@pytest.mark.parametrize(
    "head,expected",
    [
        (b"%PDF-1.7\n", PDF),
        (b"%PDF", None),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"\xff\xd8", None),
        (b"\x89PNG\r\n\x1a\n\x00", "image/png"),
        (b"\x89PNG\r\n", None),
        (b"PK\x03\x04rest", "application/zip"),
        (b"PK\x05\x06", None),
        (b"", None),
        (b"MZ\x90", None),
    ],
)
def test_sniff_reads_the_magic_bytes_only(head, expected):
    assert sniff(head) == expected


@pytest.mark.parametrize(
    "name,expected",
    [
        ("证照.png", "证照.png"),
        ("C:\\Users\\张三\\scan.pdf", "scan.pdf"),
        ("../../etc/passwd", "passwd"),
        ("  .hidden.pdf ", "hidden.pdf"),
        ("a\u202egnp.exe", "agnp.exe"),
        ("a\u061cb\u200e.pdf", "ab.pdf"),
        ("tab\there.pdf", "tabhere.pdf"),
        ("", "file"),
        (None, "file"),
        ("...", "file"),
        ("dir/", "file"),
        ("a.abcdefghijk", "a.abcdefghijk"),
    ],
)
def test_clean_name_keeps_a_display_name(name, expected):
    assert clean_name(name) == expected


def test_clean_name_shortens_a_long_name_keeping_its_extension():
    assert clean_name("图" * 150 + ".pdf") == "图" * 110 + ".pdf"
    assert clean_name("图" * 150 + ".abcdefghijk") == "图" * 110 + ".abcdefgh"
    assert clean_name("图" * 150) == "图" * 120
    assert clean_name("图" * 120) == "图" * 120
    assert clean_name("图" * 116 + ".pdf") == "图" * 116 + ".pdf"
    assert clean_name("图" * 117 + ".pdf") == "图" * 110 + ".pdf"


@pytest.mark.parametrize(
    "name,ctype,message",
    [
        ("a/b.pdf", PDF, "文件名不能包含路径"),
        ("a\\b.pdf", PDF, "文件名不能包含路径"),
        ("..", None, "文件名不能包含路径"),
        (" . ", None, "文件名不能包含路径"),
        ("a\x00.pdf", PDF, "文件名含有控制字符或方向控制符"),
        ("a\u061c.pdf", PDF, "文件名含有控制字符或方向控制符"),
        ("a\u2066.pdf", PDF, "文件名含有控制字符或方向控制符"),
        ("图" * 197 + ".pdf", PDF, "文件名过长，最多 200 个字符"),
        ("scan.PNG", PDF, "文件扩展名与文件内容不符"),
        ("scan.pdf", "image/png", "文件扩展名与文件内容不符"),
        ("book.xls", XLSX, "文件扩展名与文件内容不符"),
    ],
)
def test_check_name_refuses_with_its_reason(name, ctype, message):
    with pytest.raises(UploadError) as info:
        check_name(name, ctype)
    assert str(info.value.message) == message


@pytest.mark.parametrize(
    "name,ctype",
    [
        ("图" * 196 + ".pdf", PDF),
        ("scan.PDF", PDF),
        ("photo.JPEG", "image/jpeg"),
        ("photo.jpe", "image/jpeg"),
        ("photo.jpg", "image/jpeg"),
        ("无扩展名", PDF),
        ("book.xlsx", XLSX),
        ("any.thing", None),
        ("any.thing", "application/octet-stream"),
        ("", PDF),
        (None, PDF),
        ("...a", PDF),
    ],
)
def test_check_name_accepts(name, ctype):
    check_name(name, ctype)


def test_storage_keys_are_the_ones_store_bytes_writes():
    assert storage.KEY_RE.match("ab" * 20 + ".pdf")
    assert storage.KEY_RE.match("0" * 40)
    assert not storage.KEY_RE.match("0" * 39 + ".pdf")
    assert not storage.KEY_RE.match("0" * 40 + ".toolongext")
    assert not storage.KEY_RE.match("G" * 40 + ".pdf")
    assert not storage.KEY_RE.match("0" * 40 + ".pdf.part")


def test_local_storage_paths_stay_under_the_root(tmp_path):
    local = storage.LocalStorage(str(tmp_path))
    assert local.path("abcdef.pdf") == str(tmp_path / "ab" / "abcdef.pdf")
    for bad in ("", None, "a/b", "a\\b", ".x", "..", "../x"):
        with pytest.raises(ValueError):
            local.path(bad)


def test_local_storage_writes_reads_and_deletes(tmp_path):
    local = storage.LocalStorage(str(tmp_path / "store"))
    assert list(local.scan()) == []  # no root yet: nothing, no error
    local.write("cd1234", b"bytes")
    assert local.read("cd1234") == b"bytes" and local.exists("cd1234")
    assert not (tmp_path / "store" / "cd" / "cd1234.part").exists()
    (tmp_path / "store" / "loose").write_bytes(b"12")
    (tmp_path / "store" / "cd" / "sub").mkdir()
    entries = list(local.scan())
    assert [(e.folder, e.name, e.size) for e in entries] == [("cd", "cd1234", 5), ("", "loose", 2)]
    local.remove(entries[0])
    local.remove(entries[0])  # gone already: fine
    local.delete("cd1234")
    assert not local.exists("cd1234")
    local.probe()
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["cd", "loose"]


def test_probe_refuses_a_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError):
        storage.LocalStorage(str(tmp_path / "unmounted")).probe()
    assert not (tmp_path / "unmounted").exists()


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    local = storage.LocalStorage(str(tmp_path))

    def full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage.os, "replace", full)
    with pytest.raises(OSError):
        local.write("ef5678", b"bytes")
    assert list((tmp_path / "ef").iterdir()) == []


@pytest.mark.parametrize("size,expected", [((5000, 10), (4096, 8)), ((4096, 30), (4096, 30)), ((10, 4097), (10, 4096))])
def test_an_image_is_re_encoded_within_the_longest_edge(size, expected):
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(out, "PNG")
    data, ctype, _exif = storage._reencode_image(out.getvalue(), "image/png")
    assert ctype == "image/png"
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == expected


def test_an_unusable_root_is_reported_not_fatal(tmp_path, caplog):
    (tmp_path / "plain-file").write_bytes(b"")
    app = Flask("storage-test")
    app.config.update(FILE_STORAGE_ROOT=str(tmp_path / "plain-file" / "files"))
    with caplog.at_level(logging.ERROR):
        storage.init_storage(app, sessionmaker())
    assert "file storage root" in caplog.text and "unusable" in caplog.text
    with pytest.raises(OSError):
        app.extensions["azx_storage"].probe()


def test_an_existing_root_is_used_as_it_is(tmp_path, caplog):
    (tmp_path / "files").mkdir()
    app = Flask("storage-test")
    app.config.update(FILE_STORAGE_ROOT=str(tmp_path / "files"))
    with caplog.at_level(logging.ERROR):
        storage.init_storage(app, sessionmaker())
    assert caplog.text == ""
    app.extensions["azx_storage"].probe()


def test_an_unknown_backend_refuses_to_start(tmp_path):
    app = Flask("storage-test")
    app.config.update(FILE_STORAGE_ROOT=str(tmp_path), FILE_STORAGE_BACKEND="s3")
    with pytest.raises(RuntimeError, match="FILE_STORAGE_BACKEND='s3' is unknown"):
        storage.init_storage(app, sessionmaker())


def _png(size, mode="L"):
    out = io.BytesIO()
    Image.new(mode, size).save(out, "PNG")
    return out.getvalue()


def test_an_image_of_exactly_the_pixel_cap_is_accepted_and_one_more_is_not():
    assert storage.MAX_PIXELS == 8000 * 5000 == 53 * 754_717 - 1
    data, _ctype, _exif = storage._reencode_image(_png((8000, 5000)), "image/png")
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (4096, 2560)
    with pytest.raises(UploadError) as info, pytest.warns(Image.DecompressionBombWarning):
        storage._reencode_image(_png((53, 754_717)), "image/png")
    assert str(info.value.message) == "图片像素过大"


# Each kind of upload: the types it takes and its cap in MB, written out here so that a change to the
# rules must be made twice, on purpose (docs/security.md, 2. Uploads).
DOC = {"PDF", "JPG", "PNG"}
IMG = {"JPG", "PNG"}
RULES = {
    "business_license": (DOC, 10),
    "qualification": (DOC, 10),
    "legal_id_qr": (DOC, 10),
    "legal_id_front": (DOC, 10),
    "legal_id_back": (DOC, 10),
    "safety_permit": (DOC, 10),
    "contract": (DOC, 20),
    "construction_qualification": (DOC, 10),
    "agreement": (DOC, 20),
    "policy_file": ({"PDF"}, 20),
    "agreement_file": (DOC, 20),
    "expert_id": (DOC, 10),
    "expert_cert": (DOC, 10),
    "signin_photo": (IMG, 15),
    "hazard_photo": (IMG, 10),
    "rectification_photo": (IMG, 10),
    "report_pdf": ({"PDF"}, 50),
    "report_scan": (DOC, 20),
    "registry_import": ({"XLSX"}, 30),
}


def test_the_upload_rules_are_the_documented_ones():
    assert storage.MB == 1_048_576
    actual = {
        kind: ({storage.EXTENSIONS[t].lstrip(".").upper() for t in types}, cap / storage.MB)
        for kind, (types, cap) in storage.UPLOAD_RULES.items()
    }
    assert actual == RULES


@pytest.mark.parametrize("kind", sorted(RULES))
def test_a_file_over_its_kinds_cap_is_refused_and_one_at_it_is_not_for_its_size(kind):
    types, mb = RULES[kind]
    with pytest.raises(UploadError) as info:
        storage.store_bytes(None, b"\0" * (mb * 1_048_576 + 1), "a.pdf", kind)
    assert str(info.value.message) == f"文件过大，最大 {mb} MB"
    with pytest.raises(UploadError) as info:
        storage.store_bytes(None, b"\0" * (mb * 1_048_576), "a.pdf", kind)
    assert str(info.value.message) == "文件类型不允许：仅接受 " + "、".join(sorted(types))


def test_scan_follows_no_symbolic_link(tmp_path):
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "secret").write_bytes(b"not the store's")
    (outside / "deep" / "more").write_bytes(b"nor this")
    root = tmp_path / "store"
    local = storage.LocalStorage(str(root))
    local.write("ab12", b"mine")
    (root / "link-to-file").symlink_to(outside / "secret")
    (root / "li").symlink_to(outside / "deep", target_is_directory=True)
    (root / "ab" / "ab-link").symlink_to(outside / "secret")
    assert [(e.folder, e.name) for e in local.scan()] == [("ab", "ab12")]


def test_a_workbook_kind_takes_no_image_even_from_the_zip_rule():
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "PNG")
    for name, data in (("a.png", out.getvalue()), ("a.pdf", b"%PDF-1.4\n%%EOF")):
        with pytest.raises(UploadError) as info:
            storage.store_bytes(None, data, name, "registry_import")
        assert str(info.value.message) == "文件类型不允许：仅接受 XLSX"


@pytest.mark.parametrize("given_back", [b"\0" * 16, b"\xff" * 16], ids=["lower", "higher"])
def test_probe_fails_when_the_volume_gives_back_other_bytes(tmp_path, monkeypatch, given_back):
    real_open = open

    def lossy(path, mode="r", *args, **kwargs):
        if "r" in mode:
            return io.BytesIO(given_back)
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(storage, "open", lossy, raising=False)
    with pytest.raises(OSError, match="storage read back differs"):
        storage.LocalStorage(str(tmp_path)).probe()
    assert list(tmp_path.iterdir()) == []


def test_a_session_ending_outside_the_app_forgets_its_files_without_failing():
    """A script's session (no app context, so no store to reach): the keys are dropped, the sweep removes
    what was written."""
    from types import SimpleNamespace

    for end in (storage._drop_new_files, storage._finish_files):
        session = SimpleNamespace(info={"azx_new_files": ["ab" * 20], "azx_doomed_files": ["cd" * 20]})
        end(session)
        assert session.info == {}


class _Stream(io.BytesIO):
    """An upload's stream that remembers how much was asked of it."""

    def __init__(self, data):
        super().__init__(data)
        self.asked = []

    def read(self, size=-1):
        self.asked.append(size)
        return super().read(size)


@pytest.mark.parametrize("kind", ["hazard_photo", "report_scan"])
def test_an_upload_is_read_up_to_its_cap_and_one_byte(kind):
    from werkzeug.datastructures import FileStorage

    _types, mb = RULES[kind]
    cap = mb * 1_048_576
    for store in (storage.store_upload, storage.store_merged_upload):
        stream = _Stream(b"\x89PNG\r\n\x1a\n" + b"\0" * (cap + 4096))
        upload = FileStorage(stream=stream, filename="big.png")
        with pytest.raises(UploadError) as info:
            if store is storage.store_upload:
                store(None, upload, kind)
            else:
                store(None, [upload], kind, "merged.pdf")
        assert str(info.value.message).endswith(f"文件过大，最大 {mb} MB")
        assert stream.asked == [cap + 1]


def test_discard_dooms_the_bytes_and_deletes_the_row_and_none_is_nothing():
    from types import SimpleNamespace

    deleted = []
    session = SimpleNamespace(info={}, delete=deleted.append)
    storage.discard(session, None)
    assert session.info == {} and deleted == []
    row = SimpleNamespace(key="ef" * 20 + ".pdf")
    storage.discard(session, row)
    assert session.info == {"azx_doomed_files": [row.key]} and deleted == [row]


def test_a_jpeg_is_re_encoded_at_quality_85():
    def jpeg(**options):
        out = io.BytesIO()
        Image.new("RGB", (64, 48), (120, 40, 200)).save(out, "JPEG", **options)
        return out.getvalue()

    data, ctype, _exif = storage._reencode_image(jpeg(quality=30), "image/jpeg")
    assert ctype == "image/jpeg"
    with Image.open(io.BytesIO(data)) as mine, Image.open(io.BytesIO(jpeg(quality=85))) as expected:
        assert mine.format == "JPEG" and mine.quantization == expected.quantization


def test_probe_raises_the_writes_error_not_the_cleanups(tmp_path, monkeypatch):
    def full(path, mode="r", *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage, "open", full, raising=False)
    with pytest.raises(OSError) as info:
        storage.LocalStorage(str(tmp_path)).probe()
    assert info.value.errno == 28


def test_the_sweep_looks_keys_up_in_batches_and_misses_none(monkeypatch):
    """Five candidates with rows, looked up two at a time: none is taken for an orphan."""
    from types import SimpleNamespace

    monkeypatch.setattr(storage, "SWEEP_BATCH", 2)
    names = [f"{i:02d}" + "a" * 38 + ".pdf" for i in range(5)]
    entries = [storage.Entry(n[:2], n, 1, 0.0) for n in names]
    # left alone and counted: keys outside their folder, a name that is no key, a file at the root
    entries += [storage.Entry("zz", "ab" * 20 + ".pdf", 1, 0.0), storage.Entry("00", "cd" * 20 + ".pdf", 1, 0.0)]
    entries.append(storage.Entry("ab", "notes.txt", 1, 0.0))
    entries.append(storage.Entry("", "README", 1, 0.0))
    asked = []

    class Result:
        def __init__(self, keys):
            self.keys = keys

        def scalars(self):
            return self.keys

    def execute(stmt):
        keys = list(stmt.whereclause.right.value)
        asked.append(keys)
        return Result([k for k in keys if k in names])

    removed = []
    store = SimpleNamespace(scan=lambda: iter(entries), remove=removed.append)
    monkeypatch.setattr(storage, "get_storage", lambda: store)
    session = SimpleNamespace(execute=execute, rollback=lambda: None)
    swept, others = storage.sweep(session, grace=10, now=100.0, log=logging.getLogger("t"))
    assert swept == [] and others == 4 and removed == []
    assert asked == [names[0:2], names[2:4], names[4:5]]
    # one without a row: an orphan, removed (not a dry run unless asked)
    orphan = storage.Entry("ff", "ff" * 20 + ".png", 1, 0.0)
    entries.append(orphan)
    swept, others = storage.sweep(session, grace=10, now=100.0, log=logging.getLogger("t"))
    assert swept == [storage.Swept("orphan", orphan)] and removed == [orphan]


def test_a_png_keeps_its_transparency():
    out = io.BytesIO()
    Image.new("RGBA", (8, 8), (10, 20, 30, 0)).save(out, "PNG")
    data, _ctype, _exif = storage._reencode_image(out.getvalue(), "image/png")
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG" and img.mode == "RGBA" and img.getpixel((3, 3)) == (10, 20, 30, 0)
