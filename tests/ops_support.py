"""Helpers for the operations tests (tests/test_ops_*.py): fresh databases, extra apps, table digests."""

import hashlib
import os
import socket
import subprocess
import sys
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import column, inspect, select, table, text

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_URL = os.environ.get("TEST_DATABASE_URL")
KINDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=[pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason="TEST_DATABASE_URL is not set")],
    ),
]


@contextmanager
def fresh_database(kind, tmp_path):
    """The URL of a new, empty database of the kind ("sqlite" or "postgresql"), dropped afterwards."""
    if kind == "sqlite":
        yield "sqlite:///" + str(tmp_path / "ops.db")
        return
    from dbutil import create_pg_database, drop_pg_database

    url, admin_dsn, name = create_pg_database(PG_URL)
    try:
        yield url
    finally:
        drop_pg_database(admin_dsn, name)


def make_app(url, storage_root, **extra):
    from app import create_app

    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "FILE_STORAGE_ROOT": str(storage_root),
        "WTF_CSRF_ENABLED": False,
        "SECRET_KEY": "ops-test-secret",
        "DEMO_MODE": True,
    }
    config.update(extra)
    return create_app(config)


def dispose(app):
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _instant(value):
    """Timestamps compared as instants: naive UTC (timestamp) and aware (timestamptz) alike."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def table_digests(connection, columns=None):
    """{table: (row count, sha256 over every row ordered by primary key)} of every table.

    ``columns`` ({table: [names]}) restricts each table to the columns an older schema had.
    """
    inspector = inspect(connection)
    result = {}
    for name in sorted(inspector.get_table_names()):
        if columns and name not in columns:
            continue  # a table the older schema did not have: no data of it to keep
        cols = columns[name] if columns else [c["name"] for c in inspector.get_columns(name)]
        pk = inspector.get_pk_constraint(name)["constrained_columns"] or cols
        t = table(name, *[column(c) for c in cols])
        digest = hashlib.sha256()
        count = 0
        for row in connection.execute(select(*t.c).order_by(*[t.c[c] for c in pk])):
            digest.update(repr(tuple(_instant(v) for v in row)).encode())
            count += 1
        result[name] = (count, digest.hexdigest(), cols)
    return result


def table_columns(digests):
    return {name: cols for name, (_count, _digest, cols) in digests.items()}


def flask_cmd(args, url, storage_root, timeout=300, **env):
    """Run ``flask <args>`` as an operator would, against the given database and storage root."""
    environment = dict(
        os.environ,
        DATABASE_URL=url,
        FILE_STORAGE_ROOT=str(storage_root),
        SECRET_KEY="ops-test-secret",
        FLASK_APP="app:create_app",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def revisions(connection):
    return {r[0] for r in connection.execute(text("SELECT version_num FROM alembic_version"))}
