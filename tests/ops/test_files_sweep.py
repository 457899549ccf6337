"""Files without rows: a worker killed between writing a policy's files and committing leaves bytes no
row names; ``flask files sweep`` removes them once they are an hour old, reports them, removes expired
import previews and interrupted writes, leaves everything else, and does nothing the second time.

The worker is a real process (the app on the test database and store) issuing a policy through the
service; it is stopped with SIGKILL inside the commit, after the files were written.
"""

import json
import os
import signal
import subprocess
import sys
import tarfile
import time

import pytest
from factories.ops import REPO
from sqlalchemy import select

from app.extensions import db
from app.models import StoredFile
from app.storage import get_storage

WORKER = r"""
import json, sys, time
sys.path[:0] = [sys.argv[2], sys.argv[2] + "/tests"]
from sqlalchemy import event
from app import create_app

app = create_app(json.loads(sys.argv[1]))
with app.app_context():
    from factories import insurance as f
    from app.extensions import db
    from app.services import policies

    application = f.make_application("approved")
    insurer = f.user("insurer_picc")

    def hang(session):
        # the files are written and the rows flushed; the commit has not happened
        print(json.dumps(session.info.get("azx_new_files", [])), flush=True)
        time.sleep(600)

    event.listen(db.session, "before_commit", hang)
    policies.issue_policy(application.id, insurer, f.issue_data(application), f.policy_files())
"""


def _age(path, hours):
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def _sweep(app, *args):
    result = app.test_cli_runner().invoke(args=["files", "sweep", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def killed_worker(app, tmp_path):
    """The storage keys a SIGKILLed worker wrote without committing."""
    config = dict(app.config["AZX_TEST_CONFIG"], FAB_UPDATE_PERMS=False, AZX_SYNC_ROLES=False)
    log = open(tmp_path / "worker.log", "w")
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, json.dumps(config), REPO],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        line = worker.stdout.readline()
        assert line, (tmp_path / "worker.log").read_text()[-3000:]
        keys = json.loads(line)
        assert len(keys) == 2  # 保单 and 用户协议
        with app.app_context():
            assert all(os.path.exists(get_storage().path(key)) for key in keys)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        log.close()
    assert worker.returncode == -signal.SIGKILL
    return keys


def test_a_killed_worker_leaves_files_the_sweep_removes(app, killed_worker, tmp_path):
    keys = killed_worker
    with app.app_context():
        storage = get_storage()
        assert db.session.execute(select(StoredFile).where(StoredFile.key.in_(keys))).first() is None
        for key in keys:  # the process died: nothing cleaned up after it
            assert os.path.exists(storage.path(key))

        # younger than an hour: its transaction might still be running, so it stays
        first = _sweep(app)
        assert not any(key in first for key in keys)
        assert all(os.path.exists(storage.path(key)) for key in keys)

        kept = db.session.execute(select(StoredFile.key).order_by(StoredFile.id)).scalars().first()
        for key in [*keys, kept]:
            _age(storage.path(key), 2)
        preview_old = f"ri1-{'a' * 40}.xlsx"
        preview_new = f"ri1-{'b' * 40}.xlsx"
        storage.write(preview_old, b"PK old preview")
        storage.write(preview_new, b"PK new preview")
        _age(storage.path(preview_old), 25)
        partial = storage.path("c" * 40 + ".pdf") + ".part"
        os.makedirs(os.path.dirname(partial), exist_ok=True)
        with open(partial, "wb") as fh:
            fh.write(b"half a write")
        _age(partial, 2)
        stranger = os.path.join(storage.root, "notes.txt")  # not ours to judge: left alone
        with open(stranger, "w") as fh:
            fh.write("operator's note")
        _age(stranger, 100)

        dry = _sweep(app, "--dry-run")
        assert all(f"would remove orphan {key[:2]}/{key}" in dry for key in keys)
        assert all(os.path.exists(storage.path(key)) for key in keys)

        output = _sweep(app)
        lines = output.splitlines()
        for key in keys:
            assert any(line.startswith(f"removed orphan {key[:2]}/{key} (") for line in lines), output
            assert not os.path.exists(storage.path(key))
        assert f"removed expired ri/{preview_old} (14 bytes)" in lines
        assert f"removed partial cc/{'c' * 40}.pdf.part (12 bytes)" in lines
        assert lines[-1].startswith("files sweep: removed 1 expired, 2 orphan, 1 partial (")
        assert storage.exists(kept) and storage.exists(preview_new) and os.path.exists(stranger)
        assert not os.path.exists(storage.path(preview_old)) and not os.path.exists(partial)

        again = _sweep(app)
        assert again.splitlines()[0].startswith("files sweep: removed nothing (0 bytes)")
        assert storage.exists(kept) and storage.exists(preview_new)
        os.remove(stranger)
        storage.delete(preview_new)


def test_the_sweep_is_logged(app, caplog):
    with app.app_context():
        storage = get_storage()
        key = "d" * 40 + ".png"
        storage.write(key, b"orphan bytes")
        _age(storage.path(key), 3)
        with caplog.at_level("INFO"):
            _sweep(app)
        assert not storage.exists(key)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith(f"files sweep: removed orphan dd/{key} (12 bytes, written ") for m in messages), messages
    assert any(m.startswith("files sweep: removed 1 orphan (12 bytes)") for m in messages), messages


def test_backups_pack_only_what_rows_name(app, killed_worker, tmp_path):
    """The backup's file list comes from the rows: the orphans of the killed worker are not in it, and
    every file a row names is."""
    from app.cli.ops import create_backup

    with app.app_context():
        manifest = create_backup(str(tmp_path / "backup"), echo=lambda m: None)
        named = set(db.session.execute(select(StoredFile.key)).scalars())
        db.session.rollback()
    with tarfile.open(tmp_path / "backup" / "files.tar") as tar:
        packed = {name.split("/", 1)[1] for name in tar.getnames()}
    assert manifest["files"]["missing"] == [] and packed == named
    assert not set(killed_worker) & packed


def test_each_age_limit_is_exclusive(app):
    """A file exactly as old as its limit stays; a second older, it goes (dry run: nothing else in the
    shared test store is touched)."""
    import logging
    import secrets

    from app.storage import sweep

    with app.app_context():
        store = get_storage()
        orphan = secrets.token_hex(20) + ".pdf"
        store.write(orphan, b"orphan")
        folder = os.path.join(store.root, orphan[:2])
        partial = secrets.token_hex(20) + ".pdf.part"
        probe = f".probe-0-{secrets.token_hex(8)}"
        preview = f"preview-{secrets.token_hex(8)}.json"
        paths = {
            orphan: os.path.join(folder, orphan),
            partial: os.path.join(folder, partial),
            probe: os.path.join(store.root, probe),
            preview: os.path.join(store.root, preview),
        }
        written = 1_700_000_000
        for name, path in paths.items():
            if name != orphan:
                with open(path, "wb") as fh:
                    fh.write(b"x")
            os.utime(path, (written, written))
        expiring = [(lambda name: name == preview, 600)]

        def swept(age):
            # the default grace, an hour: what `flask files sweep` and the hourly job use
            found, _others = sweep(
                db.session, expiring=expiring, dry_run=True, now=written + age, log=logging.getLogger("t")
            )
            return {(item.reason, item.entry.name) for item in found if item.entry.name in paths}

        try:
            assert swept(600) == set()
            assert swept(601) == {("expired", preview)}
            assert swept(3600) == {("expired", preview)}
            assert swept(3601) == {("expired", preview), ("orphan", orphan), ("partial", partial), ("probe", probe)}
        finally:
            for path in paths.values():
                os.remove(path)
