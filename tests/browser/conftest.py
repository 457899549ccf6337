"""Browser tests: the real app served by run.py on a free port (demo data, SQLite or a fresh
PostgreSQL database when TEST_DATABASE_URL is set), driven by Playwright through Debian's Chromium.
No browser is downloaded; requests leaving 127.0.0.1 are aborted and recorded on the page."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from urllib.parse import urlparse

import pytest
from factories.database import build_database, drop_pg_database, prepared_pg, prepared_sqlite

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_PASSWORD = "Demo@2026"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


# The live server's database, for tests that must put a demo account back as the seed made it.
LIVE = {}


@pytest.fixture
def live_database_url(live_url):
    return LIVE["database_url"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_url():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    tmp = tempfile.mkdtemp(prefix="azx-live-")
    env = dict(
        os.environ,
        INSTANCE_DIR=tmp,
        FILE_STORAGE_ROOT=os.path.join(tmp, "files"),
        SECRET_KEY="browser-test-secret",
        DEMO_MODE="1",
        PYTHONUNBUFFERED="1",
        AUTH_RATE_LIMIT="1000 per 1 second",
    )  # every test signs in again from 127.0.0.1
    env.pop("DATABASE_URL", None)
    pg = os.environ.get("TEST_DATABASE_URL")
    pg_db = None
    args = [sys.executable, os.path.join(ROOT, "run.py"), "--port", str(_free_port())]
    # the suite's built database (cached per Alembic head, tests/factories/database.py): run.py finds
    # it migrated and its demo data loaded
    if pg:
        url, admin_dsn, name, _reused = prepared_pg(build_database, pg, os.path.join(tmp, "files"))
        pg_db = (admin_dsn, name)
        env["DATABASE_URL"] = url
        args.append("--demo")
    else:
        prepared_sqlite(build_database, os.path.join(tmp, "app.db"), os.path.join(tmp, "files"))
    port = int(args[3])
    log = open(os.path.join(tmp, "server.log"), "w")
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        try:
            urllib.request.urlopen(base + "/login/", timeout=2)
            break
        except Exception:
            time.sleep(0.5)
    else:
        proc.kill()
    if proc.poll() is not None:
        log.close()
        raise RuntimeError("the app did not start:\n" + open(os.path.join(tmp, "server.log")).read()[-4000:])
    LIVE["database_url"] = env.get("DATABASE_URL") or "sqlite:///" + os.path.join(tmp, "app.db")
    yield base
    LIVE.clear()
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    if pg_db:
        drop_pg_database(*pg_db)
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


def _local_only(page):
    external = []

    def handle(route):
        host = urlparse(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    page.external_requests = external


@pytest.fixture
def new_page(browser, live_url):
    """new_page(viewport=…, **context options) opens a page in a fresh context: Chinese locale, requests
    leaving 127.0.0.1 aborted (``page.external_requests``), console errors kept (``page.console_errors``).
    Its context closes with the test."""
    contexts = []

    def open_page(viewport=None, timeout=15000, **context_args):
        context = browser.new_context(
            locale="zh-CN", viewport=viewport or {"width": 1366, "height": 900}, **context_args
        )
        contexts.append(context)
        pg = context.new_page()
        _local_only(pg)
        pg.console_errors = []
        pg.on("console", lambda msg: msg.type == "error" and pg.console_errors.append(msg.text))
        pg.set_default_timeout(timeout)
        return pg

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page(accept_downloads=True)


@pytest.fixture
def phone_page(new_page):
    return new_page({"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2)


@pytest.fixture
def login(live_url):
    """login(page, username) signs in through the login form and waits for the landing page."""

    def do(pg, username, password=DEMO_PASSWORD):
        pg.goto(live_url + "/login/")
        pg.fill("input[name=username]", username)
        pg.fill("input[name=password]", password)
        pg.locator("form input[type=submit], form button[type=submit]").first.click()
        pg.wait_for_load_state("networkidle")
        assert "/login" not in pg.url, f"login of {username} failed"
        return pg

    return do
