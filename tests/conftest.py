"""The app is built once per test session on a fresh database: SQLite by default, PostgreSQL when
TEST_DATABASE_URL is set (a database of that server is created for the run and dropped after).
The schema comes from the Alembic chain, then reference and demo data, exactly as run.py does."""

import os
import shutil
import tempfile

import pytest
from dbutil import create_pg_database, drop_pg_database

DEMO_PASSWORD = "Demo@2026"


@pytest.fixture(scope="session")
def db_url():
    tmp = tempfile.mkdtemp(prefix="azx-test-")
    pg = os.environ.get("TEST_DATABASE_URL")
    if pg:
        url, admin_dsn, name = create_pg_database(pg)
        yield url, tmp
        drop_pg_database(admin_dsn, name)
    else:
        yield "sqlite:///" + os.path.join(tmp, "test.db"), tmp
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def app(db_url):
    url, tmp = db_url
    from app import create_app

    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "FILE_STORAGE_ROOT": os.path.join(tmp, "files"),
        "WTF_CSRF_ENABLED": False,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DEMO_MODE": True,
        # The suite signs in hundreds of times from one address; tests/test_login_policy.py switches
        # the limiter on for its own check.
        "RATELIMIT_ENABLED": False,
        # Tests change rows directly (without FlowEvents); tests/test_perf_queries.py covers the cache.
        "FIGURES_CACHE_SECONDS": 0,
        # Jobs run at once in the caller; tests/test_jobs.py runs them through real workers.
        "TASK_QUEUE_URL": "memory://",
        "TASK_QUEUE_IMMEDIATE": True,
    }
    first = create_app(config)
    with first.app_context():
        from app.cli import initialise

        initialise(demo=True, echo=lambda m: None)
    application = create_app(config)
    application.config["AZX_TEST_CONFIG"] = config
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()
    with first.app_context():
        from app.extensions import db

        db.engine.dispose()


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
