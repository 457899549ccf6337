"""Faults: the database goes away while requests run; the file store fails in the middle of an upload.

The database outage is simulated with a TCP proxy this test owns: a second app talks to PostgreSQL
through it, and stopping the proxy (closing its listener and every live connection) is a database
restart as the app sees it. The real server is never touched.
"""

import os
import socket
import threading
import time
import traceback

import pytest

from app.extensions import db

UNAVAILABLE = "服务暂时不可用"


class TcpProxy:
    """127.0.0.1:<port> → target, stoppable and restartable on the same port."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener = None
        self._conns = []
        self._lock = threading.Lock()

    def start(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self):
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept(self, listener):
        while True:
            try:
                client, _addr = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass


@pytest.fixture
def proxied_app(app):
    from sqlalchemy.engine import make_url

    from app import create_app

    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if not url.drivername.startswith("postgresql"):
        pytest.skip("the outage is simulated in front of PostgreSQL")
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    config = dict(app.config["AZX_TEST_CONFIG"])
    config.update(
        SQLALCHEMY_DATABASE_URI=url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        AZX_SYNC_ROLES=False,
        FAB_UPDATE_PERMS=False,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "connect_args": {"connect_timeout": 3}},
        LOG_REQUESTS="1",  # the access line after every request, as production writes it (issue 21)
    )
    second = create_app(config)
    yield second, proxy
    proxy.stop()
    with second.app_context():
        db.session.remove()
        db.engine.dispose()


def _login(app, username="admin"):
    client = app.test_client()
    r = client.post("/login/", data={"username": username, "password": "Demo@2026"})
    assert r.status_code in (302, 303)
    return client


@pytest.mark.postgres
@pytest.mark.commits  # an app of its own behind a TCP proxy: another connection
def test_database_outage_gives_503_and_recovers(proxied_app):
    app, proxy = proxied_app
    client = _login(app)
    assert client.get("/projects/list/").status_code in (200, 403)
    assert client.get("/applications/list/").status_code == 200

    statuses, stop = {}, threading.Event()

    def traffic(i):
        c = _login(app, "insurer_picc")
        seen = statuses.setdefault(i, [])
        while not stop.is_set():
            try:
                seen.append(c.get("/applications/list/").status_code)
            except Exception as exc:
                seen.append(repr(exc) + traceback.format_exc()[-3000:])
            time.sleep(0.01)

    def wait_until(predicate, seconds=60):
        deadline = time.time() + seconds
        while time.time() < deadline and not predicate():
            time.sleep(0.05)
        return predicate()

    workers = [threading.Thread(target=traffic, args=(i,), daemon=True) for i in range(3)]  # a failure never hangs
    for w in workers:
        w.start()
    assert wait_until(lambda: len(statuses) == 3 and all(200 in v for v in statuses.values()))
    marks = {i: len(v) for i, v in statuses.items()}
    proxy.stop()  # the database "restarts": every connection dies, new ones are refused
    assert wait_until(lambda: all(503 in v[marks[i] :] for i, v in statuses.items())), statuses
    down = client.get("/applications/list/")
    assert down.status_code == 503
    body = down.get_data(as_text=True)
    assert UNAVAILABLE in body and "Traceback" not in body
    assert down.headers.get("Retry-After")
    for path in ("/applications/export/", "/dashboard/", "/health"):  # an export, a page, the probe
        answer = client.get(path)
        assert answer.status_code == 503 and answer.headers.get("Retry-After"), (path, answer.status_code)
        assert "Traceback" not in answer.get_data(as_text=True)
    api = client.get("/api/v1/menu/", headers={"Accept": "application/json"})
    assert api.status_code in (401, 503)
    marks = {i: len(v) for i, v in statuses.items()}
    proxy.start()  # back: the app recovers by itself (pool_pre_ping replaces dead connections)
    assert wait_until(lambda: all(200 in v[marks[i] :] for i, v in statuses.items())), statuses
    stop.set()
    for w in workers:
        w.join(30)
    assert client.get("/applications/list/").status_code == 200
    everything = [s for v in statuses.values() for s in v]
    assert set(everything) <= {200, 503}, [s for s in everything if s not in (200, 503)][:5]


def test_error_pages_are_chinese(app, as_user):
    client = as_user("enterprise_demo")
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "页面不存在" in r.get_data(as_text=True)
    r = client.get("/admin/regions/list/")
    assert r.status_code == 403 and "无权访问" in r.get_data(as_text=True)
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"):
        assert header in r.headers


def test_500_page_is_chinese(app):
    from app.web.errors import _page

    with app.test_request_context("/x"):
        body, code = _page(500)
        assert code == 500 and "系统错误" in body


# --- the file store fails mid-upload ----------------------------------------------------------------------


def _disk(app):
    return {os.path.join(d, f) for d, _s, files in os.walk(app.config["FILE_STORAGE_ROOT"]) for f in files}


def _png():
    from conftest import png_bytes

    return png_bytes()


def test_store_failing_mid_write_leaves_nothing(app, monkeypatch):
    """The write dies half-way (disk full): no partial file, no row."""
    import app.storage as storage
    from app.models import StoredFile

    real_replace = os.replace

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    with app.test_request_context():
        disk, rows = _disk(app), db.session.query(StoredFile).count()
        monkeypatch.setattr(storage.os, "replace", failing_replace)
        with pytest.raises(OSError):
            storage.store_bytes(db.session, _png(), "a.png", "hazard_photo")
        monkeypatch.setattr(storage.os, "replace", real_replace)
        db.session.rollback()
        assert _disk(app) == disk, "a partial file was left behind"
        assert db.session.query(StoredFile).count() == rows


def test_store_failing_on_second_file_rolls_back_the_first(app, monkeypatch):
    """Two files in one unit of work, the second write raises: the first file goes, no row stays."""
    from app.models import StoredFile
    from app.services.base import unit_of_work
    from app.storage import LocalStorage, store_bytes

    real_write = LocalStorage.write
    calls = []

    def write(self, key, data):
        calls.append(key)
        if len(calls) == 2:
            raise OSError(5, "I/O error")
        return real_write(self, key, data)

    with app.test_request_context():
        disk, rows = _disk(app), db.session.query(StoredFile).count()
        monkeypatch.setattr(LocalStorage, "write", write)
        with pytest.raises(OSError), unit_of_work() as s:
            store_bytes(s, _png(), "first.png", "hazard_photo")
            s.flush()
            store_bytes(s, _png(), "second.png", "hazard_photo")
        assert len(calls) == 2
        assert _disk(app) == disk, "the first file outlived the failed upload"
        assert db.session.query(StoredFile).count() == rows


def test_commit_failure_removes_written_file(app, world):
    """The bytes are written, then the row cannot be saved: the file is removed with the rollback."""
    from app.models import StoredFile
    from app.services.base import Conflict, unit_of_work
    from app.storage import store_bytes

    with app.test_request_context():
        existing = db.session.query(StoredFile).first()
        disk, rows = _disk(app), db.session.query(StoredFile).count()
        with pytest.raises(Conflict), unit_of_work() as s:
            row = store_bytes(s, _png(), "dup.png", "hazard_photo")
            row.key = existing.key  # unique key clash at commit
        assert _disk(app) == disk
        assert db.session.query(StoredFile).count() == rows
