"""Operations commands: ``flask backup create|restore`` and ``flask audit purge``.

A backup is one directory holding one consistent pair:
- the database: PostgreSQL as ``pg_dump --format=custom`` (database.dump), SQLite as a copy made with
  the sqlite3 online-backup API (database.sqlite3);
- the file store: files.tar with exactly the files the dumped ``stored_file`` rows name;
- manifest.json: sha256 and size of both, the row count of every table, the Alembic revision, and any
  file a row names that was missing from the store. It is written last, so a directory without it is
  an interrupted backup and restore refuses it.

Consistency on PostgreSQL: one REPEATABLE READ transaction exports its snapshot; pg_dump runs on that
snapshot (``--snapshot``) and the row counts and the list of file keys are read in it too, so the
dump, the counts and the tar describe the same instant while the site keeps serving. Files uploaded
after that instant are not in the dump and are not packed; files are deleted only after the commit
that removed their row, so a file the snapshot names is still there unless deleted in the seconds the
backup runs — such a file is listed under ``missing`` and the command exits with status 1.

Restore verifies the manifest (checksums, sizes, tar member names) before it changes anything, then
replaces the database (``pg_restore --clean --if-exists --single-transaction``, or the sqlite3 backup
API into the live file), writes the files back through app.storage and compares row counts and file
hashes with the manifest. Stop the web and the timers while restoring.
"""

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import tarfile
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import delete, text
from sqlalchemy.engine import make_url

from app import clock
from app.extensions import db

FORMAT = 1
MANIFEST = "manifest.json"
PG_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite3"
FILES_TAR = "files.tar"
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")

backup_group = AppGroup("backup", help="Backup and restore of the database and the file store.")
audit_group = AppGroup("audit", help="The security audit log.")


# ---------------------------------------------------------------- helpers


def member_key(name):
    """The storage key of a tar member named "<first two characters>/<key>", or None if malformed."""
    folder, _, key = name.partition("/")
    return key if _KEY.match(key) and folder == key[:2] and ".." not in key else None


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _describe(path):
    return {"file": os.path.basename(path), "sha256": sha256_of(path), "bytes": os.path.getsize(path)}


def _url():
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def _dialect(url):
    name = url.get_backend_name()
    if name not in ("postgresql", "sqlite"):
        raise click.ClickException(f"backup supports PostgreSQL and SQLite, not {name}")
    return name


def pg_connection_args(url):
    """(libpq URI without the password, environment with PGPASSWORD) — no secret on a command line."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return dsn, env


def _sqlite_path(url):
    path = url.database
    if not path or path == ":memory:":
        raise click.ClickException("an in-memory SQLite database cannot be backed up")
    return os.path.abspath(path)


def _run(cmd, env):
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise click.ClickException(f"{os.path.basename(cmd[0])} failed: {result.stderr.strip()[-2000:]}")
    return result


def _tables(execute, dialect):
    if dialect == "postgresql":
        rows = execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
    else:
        rows = execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1")
    return [r[0] for r in rows]


def _snapshot_facts(execute, dialect):
    """Row counts, Alembic revision and stored-file (key, sha256) pairs, read through ``execute``."""
    tables = _tables(execute, dialect)
    counts = {t: execute(f'SELECT count(*) FROM "{t}"')[0][0] for t in tables}
    revision = (
        sorted(r[0] for r in execute("SELECT version_num FROM alembic_version")) if "alembic_version" in tables else []
    )
    files = execute("SELECT key, sha256 FROM stored_file ORDER BY key") if "stored_file" in tables else []
    return counts, revision, [(k, s) for k, s in files]


def _pack_files(files, tar_path):
    """Tar the named files from the store; return (packed, missing keys, keys whose bytes differ)."""
    from app.storage import get_storage

    storage = get_storage()
    missing, mismatched, packed = [], [], 0
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for key, expected in files:
            path = storage.path(key)
            if not os.path.exists(path):
                missing.append(key)
                continue
            if sha256_of(path) != expected:
                mismatched.append(key)
            info = tar.gettarinfo(path, arcname=f"{key[:2]}/{key}")
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with open(path, "rb") as fh:
                tar.addfile(info, fh)
            packed += 1
    return packed, missing, mismatched


# ---------------------------------------------------------------- backup create


def create_backup(out_dir, echo=click.echo):
    url = _url()
    dialect = _dialect(url)
    if os.path.exists(out_dir) and os.listdir(out_dir):
        raise click.ClickException(f"{out_dir} exists and is not empty")
    os.makedirs(out_dir, mode=0o700, exist_ok=True)
    started = clock.now()
    tar_path = os.path.join(out_dir, FILES_TAR)
    db.session.remove()

    if dialect == "postgresql":
        import psycopg

        dsn, env = pg_connection_args(url)
        dump_path = os.path.join(out_dir, PG_DUMP)
        with psycopg.connect(dsn, password=env.get("PGPASSWORD")) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            counts, revision, files = _snapshot_facts(lambda sql: conn.execute(sql).fetchall(), dialect)
            _run(["pg_dump", "--format=custom", f"--snapshot={snapshot}", "--file", dump_path, "--dbname", dsn], env)
            packed, missing, mismatched = _pack_files(files, tar_path)
            conn.rollback()
    else:
        dump_path = os.path.join(out_dir, SQLITE_COPY)
        source = sqlite3.connect(f"file:{_sqlite_path(url)}?mode=ro", uri=True)
        target = sqlite3.connect(dump_path)
        try:
            source.backup(target)  # one step: a consistent copy even while others write
        finally:
            source.close()
        try:
            counts, revision, files = _snapshot_facts(lambda sql: target.execute(sql).fetchall(), dialect)
        finally:
            target.close()
        packed, missing, mismatched = _pack_files(files, tar_path)

    manifest = {
        "format": FORMAT,
        "created_at": started.isoformat(timespec="seconds"),
        "dialect": dialect,
        "alembic_revision": revision,
        "database": _describe(dump_path),
        "files": dict(_describe(tar_path), count=packed, missing=missing, mismatched=mismatched),
        "row_counts": counts,
    }
    tmp = os.path.join(out_dir, MANIFEST + ".part")
    with open(tmp, "w") as fh:
        json.dump(manifest, fh, indent=2, ensure_ascii=False)
    os.replace(tmp, os.path.join(out_dir, MANIFEST))
    seconds = (clock.now() - started).total_seconds()
    echo(
        f"backup written to {out_dir} in {seconds:.1f} s: {dialect} {manifest['database']['bytes']} bytes, "
        f"{sum(counts.values())} rows in {len(counts)} tables, {packed} files "
        f"({manifest['files']['bytes']} bytes)"
    )
    return manifest


@backup_group.command("create")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="a new (or empty) directory for the backup",
)
def backup_create(out_dir):
    """Back up the database and the file store into one directory with a manifest."""
    manifest = create_backup(out_dir)
    problems = manifest["files"]["missing"] + manifest["files"]["mismatched"]
    if problems:
        raise click.ClickException(
            f"backup written, but {len(manifest['files']['missing'])} file(s) were missing from the store and "
            f"{len(manifest['files']['mismatched'])} differ from their recorded sha256 (see manifest.json)"
        )


# ---------------------------------------------------------------- backup restore


def verify_backup(backup_dir):
    """Check manifest, checksums and tar member names; return the manifest. Changes nothing."""
    path = os.path.join(backup_dir, MANIFEST)
    if not os.path.exists(path):
        raise click.ClickException(f"{path} not found: not a backup, or an interrupted one")
    try:
        with open(path) as fh:
            manifest = json.load(fh)
    except ValueError as exc:
        raise click.ClickException(f"manifest.json unreadable: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise click.ClickException(f"backup format {manifest.get('format')!r} is not {FORMAT}")
    for part in ("database", "files"):
        entry = manifest[part]
        file_path = os.path.join(backup_dir, os.path.basename(entry["file"]))
        if not os.path.exists(file_path):
            raise click.ClickException(f"{entry['file']} is missing")
        if os.path.getsize(file_path) != entry["bytes"] or sha256_of(file_path) != entry["sha256"]:
            raise click.ClickException(f"{entry['file']} does not match its sha256 in manifest.json")
    with tarfile.open(os.path.join(backup_dir, FILES_TAR)) as tar:
        members = tar.getmembers()
    bad = [m.name for m in members if not (m.isfile() and member_key(m.name))]
    if bad:
        raise click.ClickException(f"files.tar holds unexpected entries: {bad[:5]}")
    if len(members) != manifest["files"]["count"]:
        raise click.ClickException("files.tar does not hold the number of files the manifest names")
    return manifest


def restore_backup(backup_dir, echo=click.echo):
    manifest = verify_backup(backup_dir)
    url = _url()
    dialect = _dialect(url)
    if manifest["dialect"] != dialect:
        raise click.ClickException(f"the backup is of {manifest['dialect']}, this database is {dialect}")
    started = clock.now()
    db.session.remove()
    db.engine.dispose()  # no pooled connection may hold a lock the restore waits for
    dump_path = os.path.join(backup_dir, os.path.basename(manifest["database"]["file"]))
    if dialect == "postgresql":
        dsn, env = pg_connection_args(url)
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                "--dbname",
                dsn,
                dump_path,
            ],
            env,
        )
    else:
        source = sqlite3.connect(f"file:{dump_path}?mode=ro", uri=True)
        target = sqlite3.connect(_sqlite_path(url))
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()

    from app.storage import get_storage

    storage = get_storage()
    restored = 0
    with tarfile.open(os.path.join(backup_dir, FILES_TAR)) as tar:
        for member in tar:
            key = member_key(member.name)
            storage.write(key, tar.extractfile(member).read())
            restored += 1

    problems = check_restored(manifest)
    seconds = (clock.now() - started).total_seconds()
    echo(
        f"restored {sum(manifest['row_counts'].values())} rows in {len(manifest['row_counts'])} tables and "
        f"{restored} files from {backup_dir} in {seconds:.1f} s"
    )
    if problems:
        raise click.ClickException("restore finished with differences: " + "; ".join(problems[:10]))


def check_restored(manifest):
    """Row counts and file hashes of the live database and store against the manifest."""
    from app.storage import get_storage

    storage = get_storage()
    problems = []
    tables = set(_tables(lambda sql: db.session.execute(text(sql)).fetchall(), manifest["dialect"]))
    for table, expected in manifest["row_counts"].items():
        if table not in tables:
            problems.append(f"table {table} missing")
            continue
        actual = db.session.execute(text(f'SELECT count(*) FROM "{table}"')).scalar()
        if actual != expected:
            problems.append(f"{table}: {actual} rows, backup had {expected}")
    skip = set(manifest["files"]["missing"])
    for key, expected in db.session.execute(text("SELECT key, sha256 FROM stored_file")).fetchall():
        if key in skip:
            continue
        if not storage.exists(key):
            problems.append(f"file {key} missing")
        elif key not in manifest["files"]["mismatched"] and sha256_of(storage.path(key)) != expected:
            problems.append(f"file {key} differs")
    db.session.rollback()
    return problems


@backup_group.command("restore")
@click.argument("backup_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--yes", is_flag=True, help="do not ask before replacing the database")
def backup_restore(backup_dir, yes):
    """Verify a backup's manifest, then replace the database and restore the files."""
    verify_backup(backup_dir)
    if not yes:
        click.confirm("This replaces the current database and rewrites the stored files. Continue?", abort=True)
    restore_backup(backup_dir)


# ---------------------------------------------------------------- audit purge


def purge_audit(days):
    """Delete audit events older than ``days`` days; one plain DELETE, safe to run on two machines at once."""
    from app.models import AuditEvent

    cutoff = clock.now() - timedelta(days=days)
    result = db.session.execute(
        delete(AuditEvent).where(AuditEvent.created_at < cutoff).execution_options(synchronize_session=False)
    )
    deleted = result.rowcount
    if deleted:
        db.session.add(
            AuditEvent(
                action="audit_purge",
                result="ok",
                username="system",
                detail=f"deleted {deleted} events before {cutoff:%Y-%m-%d %H:%M:%S} UTC",
            )
        )
    db.session.commit()
    return deleted, cutoff


@audit_group.command("purge")
@click.option(
    "--days", type=click.IntRange(min=1), default=None, help="keep this many days (default: AUDIT_RETENTION_DAYS, 180)"
)
def audit_purge(days):
    """Delete audit events older than the retention period."""
    days = days or int(current_app.config.get("AUDIT_RETENTION_DAYS", 180))
    deleted, cutoff = purge_audit(days)
    click.echo(f"audit events before {cutoff:%Y-%m-%d %H:%M:%S} UTC ({days} days) deleted: {deleted}")
