"""Mixed load from every role against gunicorn (4 workers) on loopback; p95 per page into docs/security.md.

Not collected by pytest. Usage:
    python tests/security/load_mixed.py [--seconds 30] [--workers 4] [--clients 10]
                                        [--db postgresql://postgres@127.0.0.1:5432/postgres] [--write-docs]

A fresh database is created (a new PostgreSQL database when --db names a server, else SQLite in a
temporary folder), migrated and loaded with reference and demo data; gunicorn serves it on a free
loopback port; one client per demo account (cycled up to --clients) requests, for the whole run, the
pages its role may open (every argument-less GET of the url_map that answers it 200 at warm-up).
Traffic goes to 127.0.0.1 only, for a bounded time, and the server is stopped at the end.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

ACCOUNTS = [
    "admin",
    "dept_province",
    "dept_harbin",
    "enterprise_demo",
    "enterprise_demo2",
    "insurer_picc",
    "insurer_pingan",
    "broker_kunlun",
    "org_demo",
    "expert_demo",
]
PASSWORD = "Demo@2026"
BEGIN, END = "<!-- load:begin -->", "<!-- load:end -->"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(db, tmp):
    if db:
        from factories.database import create_pg_database

        url, admin_dsn, name = create_pg_database(db)
        cleanup = (admin_dsn, name)
    else:
        url, cleanup = "sqlite:///" + os.path.join(tmp, "load.db"), None
    env = dict(
        os.environ,
        DATABASE_URL=url,
        FILE_STORAGE_ROOT=os.path.join(tmp, "files"),
        DEMO_MODE="1",
        SECRET_KEY="load-test-" + os.urandom(16).hex(),
        INSTANCE_DIR=tmp,
        PYTHONPATH=ROOT,
    )
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app:create_app", "init", "--demo"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    # As deployed (deploy/config.example.py): roles and permissions are synced once by `flask init`,
    # not by every gunicorn worker at start (four workers writing the same rows race each other).
    extra = os.path.join(tmp, "azx_config.py")
    with open(extra, "w") as fh:
        fh.write("FAB_UPDATE_PERMS = False\nAZX_SYNC_ROLES = False\n")
    env["AZX_CONFIG"] = extra
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "FILE_STORAGE_ROOT", "SECRET_KEY", "INSTANCE_DIR")})
    from app import create_app

    app = create_app({"AZX_SYNC_ROLES": False, "FAB_UPDATE_PERMS": False})
    pages = sorted(
        r.rule
        for r in app.url_map.iter_rules()
        if "GET" in r.methods
        and not r.arguments
        and "logout" not in r.endpoint
        and not r.rule.startswith(("/api/", "/swagger", "/lang", "/back"))
    )
    return env, pages, cleanup


def serve(env, workers):
    port = free_port()
    proc = subprocess.Popen(
        [
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
            "--log-level",
            "warning",
            "app:create_app()",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    import requests

    for _ in range(120):
        try:
            if requests.get(f"http://127.0.0.1:{port}/login/", timeout=2).status_code == 200:
                return proc, port
        except requests.RequestException:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit("gunicorn did not start")


def client_loop(base, username, pages, seconds, stats, errors, lock):
    import requests

    s = requests.Session()
    form = s.get(base + "/login/", timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
    data = {"username": username, "password": PASSWORD, "csrf_token": token.group(1) if token else ""}
    r = s.post(base + "/login/", data=data, allow_redirects=False, timeout=30)
    if r.status_code not in (302, 303) or "/login" in r.headers.get("Location", ""):
        with lock:
            errors.append(f"{username}: login answered {r.status_code}")
        return
    mine = [p for p in pages if s.get(base + p, timeout=30).status_code == 200]
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end and mine:
        page = mine[i % len(mine)]
        i += 1
        t0 = time.perf_counter()
        try:
            r = s.get(base + page, timeout=30)
            status = r.status_code
        except Exception as exc:
            status = repr(exc)
        dt = (time.perf_counter() - t0) * 1000
        with lock:
            stats[page].append(dt)
            if status != 200:
                errors.append(f"{username} {page}: {status}")


def p95(values):
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)] if ordered else 0.0


def report(stats, errors, seconds, workers, clients, backend):
    total = sum(len(v) for v in stats.values())
    lines = [
        f"{seconds} s, gunicorn {workers} workers, {clients} clients (every role), {backend}: "
        f"{total} requests, {total / seconds:.1f} req/s, **{len(errors)} errors**.",
        "",
        "| page | requests | p50 ms | p95 ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    for page in sorted(stats):
        v = stats[page]
        lines.append(f"| `{page}` | {len(v)} | {sorted(v)[len(v) // 2]:.0f} | {p95(v):.0f} |")
    if errors:
        lines += ["", "Errors (first 20):", ""] + [f"- {e}" for e in errors[:20]]
    return "\n".join(lines)


def write_docs(text):
    path = os.path.join(ROOT, "docs", "security.md")
    with open(path, encoding="utf-8") as fh:
        doc = fh.read()
    block = f"{BEGIN}\n{text}\n{END}"
    doc = (
        re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda m: block, doc, flags=re.S)
        if BEGIN in doc
        else doc + "\n" + block + "\n"
    )
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(doc)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--db", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    args.seconds = min(args.seconds, 300)  # bounded
    tmp = tempfile.mkdtemp(prefix="azx-load-")
    env, pages, cleanup = prepare(args.db, tmp)
    proc, port = serve(env, args.workers)
    stats, errors, lock = defaultdict(list), [], threading.Lock()
    try:
        base = f"http://127.0.0.1:{port}"
        threads = [
            threading.Thread(
                target=client_loop, args=(base, ACCOUNTS[i % len(ACCOUNTS)], pages, args.seconds, stats, errors, lock)
            )
            for i in range(args.clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(args.seconds + 120)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        if cleanup:
            from factories.database import drop_pg_database

            drop_pg_database(*cleanup)
        shutil.rmtree(tmp, ignore_errors=True)
    text = report(stats, errors, args.seconds, args.workers, args.clients, "PostgreSQL" if args.db else "SQLite")
    print(text)
    if args.write_docs:
        write_docs(text)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
