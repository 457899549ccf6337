"""The app of the test session and the isolation of each test.

The database: SQLite by default, PostgreSQL when TEST_DATABASE_URL is set (a database of that server
is created for the run and dropped after). Its content — the Alembic chain, reference data, roles and
demo data, exactly as run.py builds it — is built once per build key and reused across runs
(``factories.database``: a cached SQLite file, a PostgreSQL template database).

Each test that uses the app runs inside a transaction that is rolled back after it: the app's session
is bound to one connection whose outer transaction never commits, and every session transaction
becomes a SAVEPOINT on it (SQLAlchemy's ``join_transaction_mode="create_savepoint"``; on SQLite with
the pysqlite recipe that lets the driver emit BEGIN and SAVEPOINT itself), so the services' commits
stay inside the test. Tests whose rows must be seen by another connection — threads, processes, a
second app, a live server, migrations — are marked ``@pytest.mark.commits`` and run on the real engine
(their rows stay for the rest of the run, so they use unique names).
"""

import os
import shutil
import tempfile
from contextlib import contextmanager

import pytest
from factories.database import build_database, drop_pg_database, prepared_pg, prepared_sqlite, test_config
from sqlalchemy import event

DEMO_PASSWORD = "Demo@2026"


@pytest.fixture(scope="session")
def db_url():
    tmp = tempfile.mkdtemp(prefix="azx-test-")
    files = os.path.join(tmp, "files")
    pg = os.environ.get("TEST_DATABASE_URL")
    if pg:
        url, admin_dsn, name, _reused = prepared_pg(build_database, pg, files)
        yield url, tmp
        drop_pg_database(admin_dsn, name)
    else:
        prepared_sqlite(build_database, os.path.join(tmp, "test.db"), files)
        yield "sqlite:///" + os.path.join(tmp, "test.db"), tmp
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def app(db_url):
    url, tmp = db_url
    from app import create_app

    config = test_config(url, os.path.join(tmp, "files"))
    application = create_app(config)
    application.config["AZX_TEST_CONFIG"] = config
    _allow_savepoints(application)
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


# --- one transaction per test ----------------------------------------------------------------------


class _Bound:
    """The connection the test app's sessions use while a test runs (None outside a test)."""

    app = None
    connection = None


def _allow_savepoints(application):
    """Bind the app's sessions to the test's connection while a test runs, as SAVEPOINTs on it."""
    from flask import current_app, has_app_context

    from app.extensions import db

    factory = db.session.session_factory
    factory.kw["join_transaction_mode"] = "create_savepoint"
    session_class = factory.class_
    original = session_class.get_bind

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if (
            bind is None
            and _Bound.connection is not None
            and has_app_context()
            and current_app._get_current_object() is _Bound.app
        ):
            return _Bound.connection
        return original(self, mapper=mapper, clause=clause, bind=bind, **kwargs)

    session_class.get_bind = get_bind


class _EngineInTest:
    """The test app's ``db.engine`` while a test runs: writes through ``engine.begin()`` (the audit
    log's own transaction) become a SAVEPOINT on the test's connection instead of a second connection
    (which on SQLite would wait for the test's write lock)."""

    def __init__(self, engine, connection):
        self._engine = engine
        self._connection = connection

    def __getattr__(self, name):
        return getattr(self._engine, name)

    @contextmanager
    def begin(self):
        with self._connection.begin_nested():
            yield self._connection


@pytest.fixture(autouse=True)
def _one_transaction(request):
    """Roll back what a test wrote (see the module docstring); ``@pytest.mark.commits`` opts out."""
    if "app" not in request.fixturenames or request.node.get_closest_marker("commits"):
        yield
        return
    from app.extensions import db

    application = request.getfixturevalue("app")
    with application.app_context():
        engine = db.engine
    engines = db._app_engines[application]
    connection = engine.connect()
    driver = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        # pysqlite's own transaction handling emits no BEGIN and breaks SAVEPOINT; on this connection
        # SQLAlchemy emits them (the documented recipe, "Serializable isolation / Savepoints /
        # Transactional DDL"). Only here: the pool's other connections keep the driver's behaviour.
        pysqlite_level, driver.isolation_level = driver.isolation_level, None
    # A listener of its own also makes the connection dispatch the engine's events, those a test adds
    # later included (a connection made while the engine had none would skip them: query counters).
    event.listen(connection, "begin", _on_begin)
    outer = connection.begin()
    # FAB asks ``session.get_bind().name`` (an Engine's attribute) when a list pages without an order
    connection.name = connection.dialect.name
    _Bound.app, _Bound.connection = application, connection
    engines[None] = _EngineInTest(engine, connection)
    try:
        yield
    finally:
        _Bound.app = _Bound.connection = None
        engines[None] = engine
        if outer.is_active:
            outer.rollback()
        event.remove(connection, "begin", _on_begin)
        if connection.dialect.name == "sqlite":
            driver.isolation_level = pysqlite_level
        connection.close()


def _on_begin(connection):
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN")


# --- clients ---------------------------------------------------------------------------------------


@pytest.fixture
def client(app):
    return app.test_client()


def login(client, username, password=DEMO_PASSWORD):
    response = client.post("/login/", data={"username": username, "password": password}, follow_redirects=False)
    assert response.status_code in (302, 303), f"login of {username} failed: {response.status_code}"
    return response


@pytest.fixture
def as_user(app):
    """as_user("insurer_picc") -> a logged-in test client."""

    def make(username, password=DEMO_PASSWORD):
        c = app.test_client()
        login(c, username, password)
        return c

    return make


@pytest.fixture
def db_session(app):
    from app.extensions import db

    with app.app_context():
        yield db.session
        db.session.rollback()
