"""资料下载: every file of an application (and its policy) in one zip, named in readable Chinese."""

import os
import tempfile
import zipfile

from app.models.enums import FileKind
from app.models.insurance import APPLICATION_FILE_SLOTS
from app.services.applications import slot_label
from app.storage import EXTENSIONS, get_storage

POLICY_SLOTS = ("policy_file", "agreement_file")


def _safe(text):
    return "".join("_" if ch in '/\\:*?"<>|' or not ch.isprintable() else ch for ch in str(text)).strip() or "资料"


def application_files(application):
    """(label, StoredFile) for every file the application and its policy carry, in the manual's order."""
    entries = [(str(slot_label(slot)), getattr(application, slot + "_file")) for slot in APPLICATION_FILE_SLOTS]
    policy = application.policy
    if policy is not None:
        entries += [(str(FileKind.label(slot)), getattr(policy, slot)) for slot in POLICY_SLOTS]
    return [(label, f) for label, f in entries if f is not None]


def bundle_name(application):
    return f"{_safe(application.project.name)}-资料.zip"


def build_bundle(application):
    """A temporary file holding the zip (the caller streams and closes it) and its download name.

    Entries are "<项目名称>/<资料名称>.<ext>", e.g. "哈尔滨市某学校教学楼/营业执照.pdf".
    """
    storage = get_storage()
    folder = _safe(application.project.name)
    out = tempfile.TemporaryFile()
    used = set()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for label, stored in application_files(application):
            ext = EXTENSIONS.get(stored.content_type) or os.path.splitext(stored.original_name)[1]
            name = f"{folder}/{_safe(label)}{ext}"
            n = 2
            while name in used:
                name = f"{folder}/{_safe(label)}({n}){ext}"
                n += 1
            used.add(name)
            with storage.open(stored.key) as src, zf.open(name, "w") as dst:
                for chunk in iter(lambda: src.read(1024 * 1024), b""):
                    dst.write(chunk)
    out.seek(0)
    return out, bundle_name(application)
