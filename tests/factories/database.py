"""Test databases.

- ``create_pg_database`` / ``drop_pg_database``: a fresh PostgreSQL database of a run (optionally a
  copy of a template database), dropped after.
- ``prepared_sqlite`` / ``prepared_pg``: the built database of the suite — the Alembic chain, reference
  data, roles and demo data, exactly as ``run.py`` builds it — made once per *build key* and reused
  by every later run: on SQLite a cached file (with its stored files) that each run copies; on
  PostgreSQL a template database that each run clones with ``CREATE DATABASE … TEMPLATE``.

The build key is the Alembic head, a hash of the code that decides what the built database holds
(migrations, models, reference and demo data, services, workflows, roles, the CLI's ``initialise``,
the requirements) and the platform's date (demo rows are dated relative to the day they are built).
``AZX_TEST_DB_KEY`` pins the key (the mutation run builds the database once from the unmutated code and
tests every mutant against it); ``AZX_TEST_DB_CACHE=0`` builds afresh every run; ``AZX_TEST_CACHE``
moves the cache folder (default ``~/.cache/anzexian-tests``).
"""

import fcntl
import hashlib
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from config import normalise_db_url

from . import REPO

KEY_SOURCES = (
    "migrations",
    "app/models",
    "app/reference",
    "app/demo",
    "app/services",
    "app/workflows",
    "app/security/roles.py",
    "app/cli/__init__.py",
    "requirements.txt",
)
KEEP = 4  # cached builds kept per backend (several branches may share one machine)
TEMPLATE_PREFIX = "azx_tpl_"


def cache_enabled():
    return os.environ.get("AZX_TEST_DB_CACHE", "1").strip().lower() not in ("0", "no", "false", "off")


def cache_dir():
    root = os.environ.get("AZX_TEST_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "anzexian-tests"
    )
    os.makedirs(root, exist_ok=True)
    return root


def alembic_heads():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", os.path.join(REPO, "migrations"))
    return sorted(ScriptDirectory.from_config(config).get_heads())


def build_key():
    """``<head>-<hash>``: changes with the schema, with the code that fills the database, and daily."""
    if os.environ.get("AZX_TEST_DB_KEY"):
        return os.environ["AZX_TEST_DB_KEY"]
    digest = hashlib.sha256()
    heads = alembic_heads()
    digest.update(repr(heads).encode())
    today = datetime.now(timezone(timedelta(hours=8))).date()  # the platform's zone (Asia/Shanghai)
    digest.update(today.isoformat().encode())
    for source in KEY_SOURCES:
        path = os.path.join(REPO, source)
        files = [path] if os.path.isfile(path) else sorted(_python_files(path))
        for name in files:
            digest.update(os.path.relpath(name, REPO).encode())
            with open(name, "rb") as fh:
                digest.update(fh.read())
    return f"{(heads[0] if heads else 'none')[:12]}-{digest.hexdigest()[:16]}"


def _python_files(folder):
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in names:
            if name.endswith((".py", ".csv", ".json", ".txt", ".ini", ".mako")):
                yield os.path.join(root, name)


@contextmanager
def _file_lock(path):
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _prune(root, prefix, keep, current):
    entries = sorted(
        (os.path.join(root, n) for n in os.listdir(root) if n.startswith(prefix)),
        key=os.path.getmtime,
        reverse=True,
    )
    for stale in [e for e in entries if os.path.basename(e) != current][keep - 1 :]:
        shutil.rmtree(stale, ignore_errors=True)


# --- SQLite ----------------------------------------------------------------------------------------


def prepared_sqlite(build, db_path, files_root):
    """Put the built database at ``db_path`` and its stored files under ``files_root``.

    ``build(url, files_root)`` builds a database from nothing; it runs only when the cache lacks this
    key (or the cache is off). Returns True when the cached build was reused."""
    if not cache_enabled():
        build("sqlite:///" + db_path, files_root)
        return False
    root = cache_dir()
    name = f"sqlite-{build_key()}"
    entry = os.path.join(root, name)
    reused = True
    with _file_lock(os.path.join(root, ".lock")):
        if not os.path.exists(os.path.join(entry, "ready")):
            reused = False
            shutil.rmtree(entry, ignore_errors=True)
            building = os.path.join(root, f".building-{uuid.uuid4().hex[:8]}")
            os.makedirs(building)
            try:
                build("sqlite:///" + os.path.join(building, "test.db"), os.path.join(building, "files"))
                os.makedirs(os.path.join(building, "files"), exist_ok=True)
                open(os.path.join(building, "ready"), "w").close()
                os.replace(building, entry)
            finally:
                shutil.rmtree(building, ignore_errors=True)
            _prune(root, "sqlite-", KEEP, name)
        os.utime(entry)
        shutil.copyfile(os.path.join(entry, "test.db"), db_path)
        shutil.copytree(os.path.join(entry, "files"), files_root, dirs_exist_ok=True)
    return reused


# --- PostgreSQL ------------------------------------------------------------------------------------


def _admin_dsn(url):
    base = normalise_db_url(url)
    dsn = re.sub(r"^postgresql\+psycopg://", "postgresql://", base)
    if dsn.count("/") >= 3:
        dsn = re.sub(r"/[^/?]*(\?|$)", r"/postgres\1", dsn, count=1)
    return base, dsn


def _url_of(base, name):
    return re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", base, count=1)


def create_pg_database(url, template=None):
    """A new database on the server of ``url`` (a copy of ``template`` if given): (url, admin dsn, name)."""
    import psycopg

    base, admin_dsn = _admin_dsn(url)
    name = f"azx_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return _url_of(base, name), admin_dsn, name


def drop_pg_database(admin_dsn, name):
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepared_pg(build, url, files_root):
    """A database of the run cloned from the built template (built first if missing): (url, admin dsn,
    name, reused). The template lives on the server as ``azx_tpl_<key>``, its stored files in the
    cache folder; a PostgreSQL advisory lock keeps concurrent runs from building it twice."""
    import psycopg

    if not cache_enabled():
        new_url, admin_dsn, name = create_pg_database(url)
        build(new_url, files_root)
        return new_url, admin_dsn, name, False
    key = build_key()
    base, admin_dsn = _admin_dsn(url)
    server = hashlib.sha256(admin_dsn.encode()).hexdigest()[:8]
    template = TEMPLATE_PREFIX + re.sub(r"[^a-z0-9]", "_", key.lower())[:40]
    root = cache_dir()
    files_entry = os.path.join(root, f"pg-{server}-{key}")
    reused = True
    with _file_lock(os.path.join(root, ".lock")), psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(hashtext('azx test template'))")
        try:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,)).fetchone()
            if not (exists and os.path.exists(os.path.join(files_entry, "ready"))):
                reused = False
                admin.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
                shutil.rmtree(files_entry, ignore_errors=True)
                building = f"azx_build_{uuid.uuid4().hex[:10]}"
                admin.execute(f'CREATE DATABASE "{building}"')
                try:
                    build(_url_of(base, building), os.path.join(files_entry, "files"))
                except BaseException:
                    admin.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
                    shutil.rmtree(files_entry, ignore_errors=True)
                    raise
                os.makedirs(os.path.join(files_entry, "files"), exist_ok=True)
                admin.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')
                admin.execute(f'ALTER DATABASE "{template}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
                open(os.path.join(files_entry, "ready"), "w").close()
                stale = admin.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s ORDER BY oid DESC",
                    (TEMPLATE_PREFIX + "%", template),
                ).fetchall()
                for (old,) in stale[KEEP - 1 :]:
                    admin.execute(f'ALTER DATABASE "{old}" WITH IS_TEMPLATE false')
                    admin.execute(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
                _prune(root, f"pg-{server}-", KEEP, os.path.basename(files_entry))
            os.utime(files_entry)
            name = f"azx_test_{uuid.uuid4().hex[:10]}"
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            shutil.copytree(os.path.join(files_entry, "files"), files_root, dirs_exist_ok=True)
        finally:
            admin.execute("SELECT pg_advisory_unlock(hashtext('azx test template'))")
    return _url_of(base, name), admin_dsn, name, reused


# --- what is built -----------------------------------------------------------------------------


def test_config(url, files_root):
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "FILE_STORAGE_ROOT": files_root,
        "WTF_CSRF_ENABLED": False,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DEMO_MODE": True,
        # The suite signs in hundreds of times from one address; tests/security/test_login_password.py
        # switches the limiter on for its own check.
        "RATELIMIT_ENABLED": False,
        # Tests change rows directly (without FlowEvents); tests/foundation/test_perf_queries.py covers the cache.
        "FIGURES_CACHE_SECONDS": 0,
        # Jobs run at once in the caller; tests/ops/test_jobs.py runs them through real workers.
        "TASK_QUEUE_URL": "memory://",
        "TASK_QUEUE_IMMEDIATE": True,
    }


test_config.__test__ = False  # not a test


def build_database(url, files_root):
    """Migrate, load reference data, sync roles, create the admin and the demo data (flask init --demo)."""
    from app import create_app
    from app.extensions import db

    first = create_app(test_config(url, files_root))
    with first.app_context():
        from app.cli import initialise

        initialise(demo=True, echo=lambda m: None)
        db.session.remove()
        db.engine.dispose()
