"""`flask backup create` / `flask backup restore` (issue 10, item 3) and `flask audit purge` (item 6).

Each test works on its own database (SQLite, and PostgreSQL with TEST_DATABASE_URL) and storage root:
backup, delete rows and files, restore, then compare row counts and file hashes with the originals.
"""

import hashlib
import io
import json
import os
import shutil
import tarfile
from datetime import timedelta

import pytest
from ops_support import KINDS, dispose, fresh_database, make_app, table_digests
from PIL import Image
from sqlalchemy import text

from app.demo.insurance import demo_pdf

PDF = demo_pdf("licence")  # well-formed: uploads are read by a real parser


def _png(colour):
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "PNG")
    return out.getvalue()


def _populate(kind, tmp_path, demo):
    """A migrated database with reference (and demo) data, three stored files and an audit event."""
    from app.cli import initialise
    from app.extensions import db
    from app.models import AuditEvent, Enterprise
    from app.storage import store_bytes

    storage = tmp_path / "files"
    with fresh_database(kind, tmp_path) as url:
        app = make_app(url, storage)
        with app.app_context():
            initialise(demo=demo, echo=lambda m: None)
            enterprise = db.session.query(Enterprise).order_by(Enterprise.id).first()
            for name, data in (("licence.pdf", PDF), ("red.png", _png("red")), ("blue.png", _png("blue"))):
                store_bytes(db.session, data, name, "business_license", owner=enterprise)
            db.session.add(AuditEvent(action="login", username="enterprise_demo", ip="10.0.0.1"))
            db.session.commit()
        yield app, storage
        dispose(app)


@pytest.fixture(params=KINDS)
def populated(request, tmp_path):
    """With the demo data: rows in most tables."""
    yield from _populate(request.param, tmp_path, demo=True)


@pytest.fixture(params=KINDS)
def small(request, tmp_path):
    """Reference data only (faster) for the refusal and purge cases."""
    yield from _populate(request.param, tmp_path, demo=False)


def _state(app, storage):
    from app.extensions import db

    with app.app_context(), db.engine.connect() as connection:
        digests = {name: value[:2] for name, value in table_digests(connection).items()}
        files = dict(connection.execute(text("SELECT key, sha256 FROM stored_file")).fetchall())
    on_disk = {}
    for folder, _dirs, names in os.walk(storage):
        for name in names:
            with open(os.path.join(folder, name), "rb") as fh:
                on_disk[name] = hashlib.sha256(fh.read()).hexdigest()
    return digests, files, on_disk


def _invoke(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def test_backup_delete_restore_gives_back_rows_and_files(populated, tmp_path):
    app, storage = populated
    before_digests, before_files, before_disk = _state(app, storage)
    count = len(before_files)  # the three stored here and the demo data's documents
    assert count >= 3 and before_disk == before_files

    code, output = _invoke(app, "backup", "create", "--out", str(tmp_path / "bk"))
    assert code == 0, output
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert manifest["files"]["count"] == count and manifest["files"]["missing"] == []
    assert manifest["row_counts"]["stored_file"] == count
    assert {t: c for t, (c, _d) in before_digests.items()} == manifest["row_counts"]
    with tarfile.open(tmp_path / "bk" / "files.tar") as tar:
        assert sorted(m.name.split("/")[1] for m in tar.getmembers()) == sorted(before_files)

    # Lose data: rows of several tables and every file.
    from app.extensions import db

    with app.app_context():
        for table in ("stored_file", "audit_event", "flow_event"):
            if db.engine.dialect.name == "postgresql":
                # rows elsewhere (applications, policies …) point at stored files: they go too
                db.session.execute(text(f"TRUNCATE {table} CASCADE"))
            else:
                db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()
    shutil.rmtree(storage)
    os.makedirs(storage)
    damaged = _state(app, storage)
    assert damaged[1] == {} and damaged[2] == {}

    code, output = _invoke(app, "backup", "restore", str(tmp_path / "bk"), "--yes")
    assert code == 0, output
    after_digests, after_files, after_disk = _state(app, storage)
    assert after_digests == before_digests  # row counts and every row's content
    assert after_files == before_files
    assert after_disk == before_files


def test_restore_refuses_a_tampered_backup_and_changes_nothing(small, tmp_path):
    app, storage = small
    out = tmp_path / "bk"
    assert _invoke(app, "backup", "create", "--out", str(out))[0] == 0
    before = _state(app, storage)
    dump = out / json.loads((out / "manifest.json").read_text())["database"]["file"]
    with open(dump, "r+b") as fh:
        fh.seek(200)
        fh.write(b"tampered")
    code, output = _invoke(app, "backup", "restore", str(out), "--yes")
    assert code != 0 and "sha256" in output
    (out / "manifest.json").unlink()
    code, output = _invoke(app, "backup", "restore", str(out), "--yes")
    assert code != 0 and "manifest.json" in output
    assert _state(app, storage) == before


def test_restore_refuses_tar_entries_outside_the_store(small, tmp_path):
    from app.cli.ops import sha256_of

    app, storage = small
    out = tmp_path / "bk"
    assert _invoke(app, "backup", "create", "--out", str(out))[0] == 0
    tar_path = out / "files.tar"
    with tarfile.open(tar_path, "a") as tar:
        info = tarfile.TarInfo("../../evil.sh")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"boom"))
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"].update(sha256=sha256_of(tar_path), bytes=os.path.getsize(tar_path))  # a forged manifest
    (out / "manifest.json").write_text(json.dumps(manifest))
    code, output = _invoke(app, "backup", "restore", str(out), "--yes")
    assert code != 0 and "unexpected entries" in output
    assert not (tmp_path / "evil.sh").exists()


def test_backup_reports_files_missing_from_the_store(small, tmp_path):
    app, storage = small
    from app.extensions import db

    with app.app_context():
        key = db.session.execute(text("SELECT key FROM stored_file ORDER BY id LIMIT 1")).scalar()
    os.remove(os.path.join(storage, key[:2], key))
    code, output = _invoke(app, "backup", "create", "--out", str(tmp_path / "bk"))
    assert code == 1 and "missing" in output
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert manifest["files"]["missing"] == [key] and manifest["files"]["count"] == 2


def test_backup_refuses_a_non_empty_directory(small, tmp_path):
    app, _storage = small
    (tmp_path / "bk").mkdir()
    (tmp_path / "bk" / "other").write_text("x")
    code, output = _invoke(app, "backup", "create", "--out", str(tmp_path / "bk"))
    assert code != 0 and "not empty" in output


def test_audit_purge_deletes_only_events_older_than_the_retention(small):
    from app.extensions import db
    from app.models import AuditEvent
    from app.models.base import utcnow

    app, _storage = small
    with app.app_context():
        db.session.execute(text("DELETE FROM audit_event"))
        now = utcnow()
        for days in (400, 200, 181, 179, 10, 0):
            db.session.add(AuditEvent(action="login", username=f"u{days}", created_at=now - timedelta(days=days)))
        db.session.commit()
    code, output = _invoke(app, "audit", "purge")  # AUDIT_RETENTION_DAYS, 180 by default
    assert code == 0 and "deleted: 3" in output
    code, output = _invoke(app, "audit", "purge", "--days", "30")
    assert code == 0 and "deleted: 1" in output
    code, output = _invoke(app, "audit", "purge", "--days", "30")  # again: nothing more to do
    assert code == 0 and "deleted: 0" in output
    assert _invoke(app, "audit", "purge", "--days", "0")[0] != 0  # refusing to wipe everything
    with app.app_context():
        left = db.session.query(AuditEvent.username, AuditEvent.action).order_by(AuditEvent.id).all()
    assert [u for u, a in left if a == "login"] == ["u10", "u0"]
    assert [a for u, a in left if a == "audit_purge"] == ["audit_purge", "audit_purge"]
