"""File storage behind one small interface, and the upload rules every feature shares.

Files are written under random keys below FILE_STORAGE_ROOT by the backend named in
FILE_STORAGE_BACKEND ("local", the only one so far: a folder). When several workers or machines serve
the app, FILE_STORAGE_ROOT is one shared volume (NFS, CephFS, a mounted block device on a single
machine) mounted at the same path everywhere: every process reads what any other wrote, because the
key is the only name and writes are atomic renames (see docs/deploy.md). A file saved during a
database transaction is tied to it: it is written under its key before the row commits, so a
committed row always has its bytes; when the transaction rolls back the file is deleted, and a file
is marked for deletion and removed only after the commit, so no row ever points at nothing. A process
killed between the write and the commit leaves bytes no row names: ``sweep`` (``flask files sweep``,
hourly) removes them once they are an hour old, with expired import previews (docs/decisions.md).

Content checks of uploads: the magic bytes first (``sniff``), then a real parser for PDFs and
workbooks (app/untrusted), images decoded and re-encoded here.
"""

import hashlib
import io
import os
import re
import secrets
from collections import namedtuple
from datetime import UTC, datetime

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _
from PIL import Image, UnidentifiedImageError
from sqlalchemy import event, select

from app import clock
from app.models import StoredFile
from app.untrusted import pdf as untrusted_pdf
from app.untrusted import xlsx as untrusted_xlsx

MB = 1024 * 1024
IMAGE_TYPES = {"image/jpeg", "image/png"}
PDF = "application/pdf"
MAX_PIXELS = 40_000_000
MAX_EDGE = 4096

# kind -> (allowed content types, size cap in bytes)
_DOC = ({PDF, "image/jpeg", "image/png"}, 10 * MB)
_IMG = ({"image/jpeg", "image/png"}, 10 * MB)
UPLOAD_RULES = {
    "business_license": _DOC,
    "qualification": _DOC,
    "legal_id_qr": _DOC,
    "legal_id_front": _DOC,
    "legal_id_back": _DOC,
    "safety_permit": _DOC,
    "contract": ({PDF, "image/jpeg", "image/png"}, 20 * MB),
    "construction_qualification": _DOC,
    "agreement": ({PDF, "image/jpeg", "image/png"}, 20 * MB),
    "policy_file": ({PDF}, 20 * MB),
    "agreement_file": ({PDF, "image/jpeg", "image/png"}, 20 * MB),
    "expert_id": _DOC,
    "expert_cert": _DOC,
    "signin_photo": ({"image/jpeg", "image/png"}, 15 * MB),
    "hazard_photo": _IMG,
    "rectification_photo": _IMG,
    "report_pdf": ({PDF}, 50 * MB),
    "report_scan": ({PDF, "image/jpeg", "image/png"}, 20 * MB),
    "registry_import": ({"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}, 30 * MB),
}
EXTENSIONS = {
    PDF: ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}


class UploadError(ValueError):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def sniff(head: bytes) -> str | None:
    """The content type by magic number; the file name and the browser's claim are ignored."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    return None


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _check_pdf(data: bytes):
    """Active content has no place in a licence scan or a policy: refused, not sanitised (app/untrusted/pdf.py:
    qpdf reads the file in a sandboxed child and every object is walked)."""
    try:
        untrusted_pdf.check(data)
    except untrusted_pdf.Refused as exc:
        raise UploadError(exc.message) from exc


def _check_xlsx(data: bytes):
    """A zip is an Excel workbook only with its parts, no macros or external links, and sane proportions."""
    try:
        untrusted_xlsx.check_archive(data)
    except untrusted_xlsx.Refused as exc:
        raise UploadError(exc.message) from exc


# File names: a display name only, yet a hostile one is refused outright rather than quietly changed.
MAX_NAME = 200
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_NAME_EXTENSIONS = {PDF: {".pdf"}, "image/jpeg": {".jpg", ".jpeg", ".jpe"}, "image/png": {".png"}, XLSX: {".xlsx"}}


def check_name(name: str, content_type: str | None = None):
    """Refuse path parts, control and bidi characters, over-long names and an extension that lies."""
    name = name or ""
    if "/" in name or "\\" in name or name.strip() in (".", ".."):
        raise UploadError(_("文件名不能包含路径"))
    if any(not ch.isprintable() or ch in _BIDI for ch in name):
        raise UploadError(_("文件名含有控制字符或方向控制符"))
    if len(name) > MAX_NAME:
        raise UploadError(_("文件名过长，最多 %(n)s 个字符", n=MAX_NAME))
    ext = os.path.splitext(name)[1].lower()
    if content_type and ext and ext not in _NAME_EXTENSIONS.get(content_type, {ext}):
        raise UploadError(_("文件扩展名与文件内容不符"))


def _reencode_image(data: bytes, content_type: str) -> tuple[bytes, str, dict]:
    # WeasyPrint sets Pillow's global LOAD_TRUNCATED_IMAGES on import; uploads must still refuse
    # truncated files, so decode with it off.
    from PIL import ImageFile

    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        return _decode_and_reencode(data, content_type)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _decode_and_reencode(data: bytes, content_type: str) -> tuple[bytes, str, dict]:
    """Decode fully (truncated files fail here), cap the pixels, strip everything but the picture.

    Returns the new bytes, the content type and the EXIF tags the caller may want (sign-in photos).
    """
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise UploadError(_("图片像素过大"))
            exif = img.getexif()
            img.load()
            img = img.convert("RGB") if content_type == "image/jpeg" else img.convert("RGBA")
            img.thumbnail((MAX_EDGE, MAX_EDGE))
            out = io.BytesIO()
            if content_type == "image/jpeg":
                img.save(out, "JPEG", quality=85)
            else:
                img.save(out, "PNG", optimize=True)
            return out.getvalue(), content_type, exif
    except Image.DecompressionBombError as exc:
        raise UploadError(_("图片像素过大")) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, UploadError):
            raise
        raise UploadError(_("图片无法读取或已损坏")) from exc


def clean_name(name: str) -> str:
    """A display name only (never a path): no directories, control or bidi characters, ≤ 120 chars."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in _BIDI)
    name = name.strip().lstrip(".")
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:110] + "." + ext[:8]) if dot else name[:120]
    return name or "file"


class LocalStorage:
    def __init__(self, root):
        self.root = root

    def path(self, key):
        if not key or "/" in key or "\\" in key or key.startswith("."):
            raise ValueError("bad storage key")
        return os.path.join(self.root, key[:2], key)

    def write(self, key, data: bytes):
        path = self.path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".part"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            # a failed write (disk full, I/O error) leaves nothing behind
            for leftover in (tmp, path):
                try:
                    os.remove(leftover)
                except OSError:
                    pass
            raise

    def open(self, key):
        return open(self.path(key), "rb")

    def read(self, key) -> bytes:
        with self.open(key) as fh:
            return fh.read()

    def delete(self, key):
        try:
            os.remove(self.path(key))
        except FileNotFoundError:
            pass

    def exists(self, key):
        return os.path.exists(self.path(key))

    def modified(self, key):
        """When the file was written (seconds since the epoch)."""
        return os.path.getmtime(self.path(key))

    def scan(self):
        """Every file in the store, folder by folder: Entry(folder, name, size, modified); the root's own
        files have the folder "". Nothing is followed outside the root (no symbolic links)."""
        if not os.path.isdir(self.root):
            return
        with os.scandir(self.root) as top:
            entries = sorted(top, key=lambda e: e.name)
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                yield _entry("", entry)
            elif entry.is_dir(follow_symlinks=False):
                with os.scandir(entry.path) as folder:
                    files = sorted(folder, key=lambda e: e.name)
                for item in files:
                    if item.is_file(follow_symlinks=False):
                        yield _entry(entry.name, item)

    def remove(self, entry):
        """Delete a file found by scan(); gone already is fine (another machine swept it)."""
        try:
            os.remove(os.path.join(self.root, entry.folder, entry.name))
        except FileNotFoundError:
            pass

    def probe(self):
        """Write, read back and delete a small file at the root (health check); raises OSError.

        The root itself is never created here: a shared volume that is not mounted must fail.
        """
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"storage root missing: {self.root}")
        token = secrets.token_hex(8).encode()
        path = os.path.join(self.root, f".probe-{os.getpid()}-{token.decode()}")
        try:
            with open(path, "wb") as fh:
                fh.write(token)
            with open(path, "rb") as fh:
                if fh.read() != token:
                    raise OSError("storage read back differs")
        finally:
            try:
                os.remove(path)
            except OSError:
                pass


Entry = namedtuple("Entry", "folder name size modified")


def _entry(folder, dir_entry):
    stat = dir_entry.stat(follow_symlinks=False)
    return Entry(folder, dir_entry.name, stat.st_size, stat.st_mtime)


BACKENDS = {"local": LocalStorage}


def get_storage() -> LocalStorage:
    return current_app.extensions["azx_storage"]


def init_storage(app, session_factory):
    backend = app.config.get("FILE_STORAGE_BACKEND", "local")
    if backend not in BACKENDS:
        raise RuntimeError(f"FILE_STORAGE_BACKEND={backend!r} is unknown; choose one of {sorted(BACKENDS)}")
    root = app.config["FILE_STORAGE_ROOT"]
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as exc:  # reported by /health instead of refusing to start
        app.logger.error("file storage root %s unusable: %s", root, exc)
    app.extensions["azx_storage"] = BACKENDS[backend](root)
    # Once per session factory (several apps in one process share it); the storage is the current app's.
    if not event.contains(session_factory, "after_rollback", _drop_new_files):
        event.listen(session_factory, "after_rollback", _drop_new_files)
        event.listen(session_factory, "after_commit", _finish_files)


def _drop_new_files(session):
    keys = session.info.pop("azx_new_files", [])
    session.info.pop("azx_doomed_files", None)
    if keys and has_app_context():
        for key in keys:
            get_storage().delete(key)


def _finish_files(session):
    session.info.pop("azx_new_files", None)
    keys = session.info.pop("azx_doomed_files", [])
    if keys and has_app_context():
        for key in keys:
            get_storage().delete(key)


def store_bytes(
    session, data: bytes, original_name: str, kind: str, user_id=None, owner=None, validate=True, keep_exif=False
):
    """Validate and store bytes; return the (pending) StoredFile row. Raises UploadError.

    The caller commits (or rolls back) the surrounding transaction.
    """
    allowed, cap = UPLOAD_RULES[kind]
    if not data:
        raise UploadError(_("文件为空"))
    if len(data) > cap:
        raise UploadError(_("文件过大，最大 %(mb)s MB", mb=cap // MB))
    ctype = sniff(data[:4096])
    if ctype == "application/zip" and kind == "registry_import":
        ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    if ctype not in allowed:
        raise UploadError(
            _(
                "文件类型不允许：仅接受 %(types)s",
                types="、".join(sorted(EXTENSIONS[t].lstrip(".").upper() for t in allowed)),
            )
        )
    check_name(original_name, ctype)
    exif = None
    if validate and ctype in IMAGE_TYPES:
        data, ctype, exif = _reencode_image(data, ctype)
    elif validate and ctype == PDF:
        _check_pdf(data)
    elif validate and ctype == XLSX:
        _check_xlsx(data)
    key = secrets.token_hex(20) + EXTENSIONS.get(ctype, "")
    get_storage().write(key, data)
    session.info.setdefault("azx_new_files", []).append(key)
    row = StoredFile(
        key=key,
        original_name=clean_name(original_name),
        content_type=ctype,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        kind=kind,
        uploaded_by_id=user_id,
    )
    if owner is not None:
        attach(row, owner)
    session.add(row)
    if keep_exif:
        row._exif = exif
    return row


MAX_MERGED_PAGES = 30


def store_merged_upload(session, file_storages, kind, name, user_id=None, owner=None):
    """One PDF from the uploads: a single PDF as it is, or images (a stamped paper report photographed
    page by page) each checked as an image upload, then merged into one PDF by Pillow in the given
    order. Each upload and the result keep the kind's cap. Raises UploadError naming the file."""
    allowed, cap = UPLOAD_RULES[kind]
    files = [f for f in file_storages if f is not None and getattr(f, "filename", "")]
    if not files:
        raise UploadError(_("请选择文件"))
    if len(files) > MAX_MERGED_PAGES:
        raise UploadError(_("最多 %(n)s 页（张图片）", n=MAX_MERGED_PAGES))
    blobs = []
    for fs in files:
        data = fs.stream.read(cap + 1)
        ctype = sniff(data[:4096]) if data else None
        if not data:
            raise UploadError(_("%(name)s：文件为空", name=clean_name(fs.filename)))
        if len(data) > cap:
            raise UploadError(_("%(name)s：文件过大，最大 %(mb)s MB", name=clean_name(fs.filename), mb=cap // MB))
        if ctype not in allowed:
            raise UploadError(_("%(name)s：文件类型不允许：仅接受 PDF、JPG、PNG", name=clean_name(fs.filename)))
        check_name(fs.filename, ctype)
        blobs.append((fs.filename, data, ctype))
    if len(blobs) == 1 and blobs[0][2] == PDF:
        return store_bytes(session, blobs[0][1], blobs[0][0], kind, user_id=user_id, owner=owner)
    if any(ctype == PDF for _n, _d, ctype in blobs):
        raise UploadError(_("PDF 须单独上传；多页的纸质报告请上传各页图片，合并为一个 PDF"))
    pages = []
    for filename, data, ctype in blobs:
        try:
            clean, _ctype, _exif = _reencode_image(data, ctype)
        except UploadError as exc:
            raise UploadError(_("%(name)s：%(msg)s", name=clean_name(filename), msg=exc.message)) from exc
        pages.append(Image.open(io.BytesIO(clean)).convert("RGB"))
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=150.0)
    return store_bytes(session, out.getvalue(), name, kind, user_id=user_id, owner=owner)


def store_upload(session, file_storage, kind, user_id=None, owner=None, keep_exif=False):
    """Store a werkzeug FileStorage (from a form), reading at most the kind's cap + 1 byte."""
    _allowed, cap = UPLOAD_RULES[kind]
    data = file_storage.stream.read(cap + 1)
    return store_bytes(
        session, data, file_storage.filename or "", kind, user_id=user_id, owner=owner, keep_exif=keep_exif
    )


def attach(stored_file, owner):
    """Record the owner row; downloads are scoped through it (app.security.scope.file_visible)."""
    stored_file.owner_type = owner.__tablename__
    stored_file.owner_id = owner.id


def discard(session, stored_file):
    """Delete a file row now and its bytes after the commit."""
    if stored_file is None:
        return
    session.info.setdefault("azx_doomed_files", []).append(stored_file.key)
    session.delete(stored_file)


# ---------------------------------------------------------------- the sweep

KEY_RE = re.compile(r"^[0-9a-f]{40}(\.[a-z0-9]{1,8})?$")  # the keys store_bytes writes
SWEEP_BATCH = 1000  # keys looked up in one query
Swept = namedtuple("Swept", "reason entry")


def sweep(session, *, grace=3600, expiring=(), dry_run=False, now=None, log=None):
    """Remove what no row needs; return (the Swept entries removed — or to remove, with dry_run —,
    the number of other files left alone).

    - "orphan": a stored file's key (``<40 hex>.<ext>`` in its folder) that no stored_file row names,
      written more than ``grace`` seconds ago — bytes of a transaction that never committed (a worker
      killed between the write and the commit; a rollback deletes its own files). The grace keeps
      the files of transactions still running.
    - "expired": a file matched by one of the ``expiring`` (predicate on the name, max age in seconds)
      pairs and older than its age (unconfirmed import previews).
    - "partial": a ``.part`` file (an interrupted write), and "probe": a health-check file, older than
      ``grace``.

    The rows are read before any file is removed; removing twice is harmless, so the sweep can run on
    several machines sharing the volume at once, and again.
    """
    storage = get_storage()
    now = clock.now().timestamp() if now is None else now
    log = log or current_app.logger
    swept, candidates, others = [], [], 0
    for entry in storage.scan():
        age = now - entry.modified
        max_age = next((limit for matches, limit in expiring if matches(entry.name)), None)
        if max_age is not None:
            if age > max_age:
                swept.append(Swept("expired", entry))
        elif entry.folder and entry.name.endswith(".part"):
            if age > grace:
                swept.append(Swept("partial", entry))
        elif not entry.folder and entry.name.startswith(".probe-"):
            if age > grace:
                swept.append(Swept("probe", entry))
        elif KEY_RE.match(entry.name) and entry.folder == entry.name[:2]:
            if age > grace:
                candidates.append(entry)
        else:
            others += 1
    named = set()
    for start in range(0, len(candidates), SWEEP_BATCH):
        chunk = [e.name for e in candidates[start : start + SWEEP_BATCH]]
        named.update(session.execute(select(StoredFile.key).where(StoredFile.key.in_(chunk))).scalars())
    session.rollback()
    swept += [Swept("orphan", e) for e in candidates if e.name not in named]
    for item in swept:
        if not dry_run:
            storage.remove(item.entry)
        log.info(
            "files sweep: %s %s %s/%s (%d bytes, written %s UTC)",
            "would remove" if dry_run else "removed",
            item.reason,
            item.entry.folder or ".",
            item.entry.name,
            item.entry.size,
            datetime.fromtimestamp(item.entry.modified, UTC).strftime("%Y-%m-%d %H:%M:%S"),
        )
    return swept, others
