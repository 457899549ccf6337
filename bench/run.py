#!/usr/bin/env python
"""The benchmark: our list pages against the same pages served by stock Flask-AppBuilder, exports,
statistics, the dashboard and throughput under gunicorn — in one run, on PostgreSQL.

    python bench/run.py --database-url postgresql://postgres@127.0.0.1:5432/azx_bench --scale 1000000
    python bench/run.py --scale 20000 --quick          # CI size: a fresh database, seeded and dropped

Without --database-url a fresh database is created on --server, migrated, loaded with the demo data,
seeded with `python -m bench.seed` and dropped at the end (unless --keep). With --database-url the
database is used as it is (seeded first when it holds fewer than --scale projects).

Writes --out (bench/results.json) and docs/benchmarks.md. Fails when a list page issues more queries than
the same page in --baseline (the committed bench/results.json) or more than 8, or when a page errs under
load; times are printed beside the baseline's, never asserted (they depend on the machine).
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

PASSWORD = "Demo@2026"
PSIZE = 20
DEEP_OFFSET = 100_000  # the deep page starts this many rows in (or as deep as the list goes)

# name, account, our view class, extra query string (see filtered_args)
LISTS = [
    ("insurer 投保信息", "insurer_picc", "ApplicationView", None),
    ("insurer 保单台帐", "insurer_picc", "LedgerView", None),
    ("broker 投保信息", "broker_kunlun", "ApplicationView", None),
    ("department 项目信息", "dept_province", "DeptProjectView", None),
    ("department 项目信息 (city + 投保状态)", "dept_province", "DeptProjectView", ("2301", "insured")),
    ("org 承接项目", "org_demo", "ReceivedOrderView", None),
    ("expert 待办任务", "expert_demo", "ExpertTodoView", None),
]
REPORTS = [("insurance", "投保"), ("prevention", "事故预防"), ("claims", "理赔")]


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def summary(samples):
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return round(statistics.median(ordered), 2), round(p95, 2)


# -- the database ------------------------------------------------------------------------------------
def flask_cmd(url, *args):
    env = dict(os.environ, DATABASE_URL=url, FLASK_APP="app:create_app", DEMO_MODE="1")
    subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, check=True)


def prepare_database(args):
    from factories.database import create_pg_database, drop_pg_database

    created = None
    url = args.database_url
    if not url:
        url, admin_dsn, name = create_pg_database(args.server)
        created = (admin_dsn, name)
        log(f"fresh database {name}")
    import psycopg

    from config import normalise_db_url

    dsn = normalise_db_url(url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        has_schema = conn.execute("SELECT to_regclass('project') IS NOT NULL").fetchone()[0]
        projects = conn.execute("SELECT count(*) FROM project").fetchone()[0] if has_schema else 0
    if not has_schema:
        log("flask init --demo")
        flask_cmd(url, "init", "--demo")
    if projects < args.scale * 0.9:
        log(f"python -m bench.seed --scale {args.scale}")
        started = time.time()
        env = dict(os.environ, DATABASE_URL=url, DEMO_MODE="1")
        subprocess.run(
            [sys.executable, "-m", "bench.seed", "--scale", str(args.scale - projects)], cwd=ROOT, env=env, check=True
        )
        log(f"seeded in {time.time() - started:.0f} s")
    cleanup = (lambda: drop_pg_database(*created)) if created and not args.keep else (lambda: None)
    return url, cleanup


# -- the app: ours plus a stock FAB view of each measured list -----------------------------------------
def stock_view_class(view):
    """A plain FAB ModelView over the same model: stock SQLAInterface, no page-size cap, same rows."""
    from flask_appbuilder import ModelView
    from flask_appbuilder.models.sqla.interface import SQLAInterface

    from app.security.scope import ScopeFilter
    from app.views.datamodel import SEARCH_TEXT

    cls = type(view)
    # Relation filters to large tables are left out of the stock search form: stock FAB renders every
    # row of the related table into it on each list page (26 s a page at 50,000 projects), which would
    # make the comparison meaningless and the run endless. This favours stock FAB. Stored files (every
    # upload, seven relations of an application) are such a table too.
    large = set(SEARCH_TEXT) | {"StoredFile"}
    search = [
        c
        for c in view.search_columns
        if not (view.datamodel.is_relation(c) and view.datamodel.get_related_model(c).__name__ in large)
    ]
    if "region_code" in view.datamodel.obj.__table__.columns and "region_code" not in search:
        search.append("region_code")  # the city filter (开头是 2301) of the filtered department list
    base_filters = [["id", ScopeFilter, None]] + [list(f) for f in (cls.base_filters or []) if f[1] is not ScopeFilter]
    attrs = dict(
        datamodel=SQLAInterface(view.datamodel.obj),
        route_base="/stock" + view.route_base,
        list_columns=list(view.list_columns),
        search_columns=search,
        label_columns=dict(cls.label_columns or {}),
        formatters_columns=dict(cls.formatters_columns or {}),
        base_order=view.base_order,
        base_filters=base_filters,
        list_title=view.list_title,
        class_permission_name=view.class_permission_name,
        method_permission_name=dict(view.method_permission_name),
        base_permissions=list(view.base_permissions or []),
    )
    return type("Stock" + cls.__name__, (ModelView,), attrs)


def build_app(url):
    from app import create_app

    config = {
        "SQLALCHEMY_DATABASE_URI": url,
        "WTF_CSRF_ENABLED": False,
        "DEMO_MODE": True,
        "SECRET_KEY": "bench-secret-key",
        "FILE_STORAGE_ROOT": tempfile.mkdtemp(prefix="azx-bench-"),
        # Jobs (statistics workbooks, large exports) run at once inside the request that queues them, so
        # that a request's time is the whole job's time (what a worker would spend on it).
        "TASK_QUEUE_URL": "memory://",
        "TASK_QUEUE_IMMEDIATE": True,
    }
    app = create_app(config)
    ours = {type(v).__name__: v for v in app.appbuilder.baseviews}
    stock = {}
    with app.app_context():
        for _name, _user, view_name, _flt in LISTS:
            if view_name in ours and view_name not in stock:
                stock[view_name] = app.appbuilder.add_view_no_menu(stock_view_class(ours[view_name]))
    return app, ours, stock


class Recorder:
    """Every SQL statement the engine runs while recording (statement and parameters)."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.on, self.statements = False, []
        event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.statements.append((statement, parameters))

    @contextmanager
    def recording(self):
        self.statements, self.on = [], True
        try:
            yield self.statements
        finally:
            self.on = False


def login(app, username):
    client = app.test_client()
    response = client.post("/login/", data={"username": username, "password": PASSWORD})
    if response.status_code not in (302, 303):
        raise SystemExit(f"login of {username} failed ({response.status_code})")
    return client


def filtered_args(view, flt):
    """Query string for city + 投保状态, understood by FAB's filters and by a custom list's own args."""
    if not flt:
        return ""
    city, status = flt
    parts = [f"region={city}00", f"status={status}"]
    filters = getattr(view, "_filters", None)
    if filters is not None and not getattr(view, "search_bar", None):  # our lists take the 查询 bar's args
        search = filters.get_search_filters()
        for column, wanted, value in (
            ("region_code", "FilterStartsWith", city),
            ("insurance_status", "FilterEqual", status),
        ):
            for i, flt_obj in enumerate(search.get(column, [])):
                if type(flt_obj).__name__ == wanted:
                    parts.append(f"_flt_{i}_{column}={value}")
                    break
    return "&".join(parts)


def shows_page(html, page):
    """Whether our list shows the 0-based ``page`` it was asked for (a page past the end shows the last
    one instead): its pager marks page + 1 as the current page."""
    text = html.decode("utf-8", "replace")
    active = re.findall(r'aria-current="page">\s*([\d,]+)\s*<', text)
    if not active:
        return True  # a list without numbered links (FAB's own pager): trust the row count
    return any(int(n.replace(",", "")) in (page + 1, page + 2) for n in active)


def rows_on(html):
    table = html.rsplit(b"<table", 1)[-1].split(b"</table>", 1)[0]
    rows = table.count(b"<tr data-id=")  # our lists mark each record's row
    return rows if rows else max(table.count(b"<tr") - 1, 0)  # FAB's stock list


def time_get(client, url, reps):
    samples = []
    for _ in range(reps):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}")
    return samples


def floor_ms(engine, statements, reps):
    """The page's own SQL run alone on one connection, no ORM, no rendering."""
    raw = engine.raw_connection()
    try:
        samples = []
        for _ in range(reps):
            cur = raw.cursor()
            started = time.perf_counter()
            for statement, parameters in statements:
                cur.execute(statement, parameters)
                if cur.description is not None:
                    cur.fetchall()
            samples.append((time.perf_counter() - started) * 1000)
            cur.close()
        raw.rollback()
        return summary(samples)[0]
    finally:
        raw.close()


def measure_lists(app, ours, stock, reps, stock_reps):
    from app.extensions import db

    with app.app_context():
        engine = db.engine
    recorder = Recorder(engine)
    clients, results = {}, []
    for name, username, view_name, flt in LISTS:
        view = ours.get(view_name)
        if view is None:
            log(f"skip {name}: no view {view_name}")
            continue
        client = clients.get(username) or login(app, username)
        clients[username] = client
        extra = filtered_args(view, flt)
        our_base = f"{view.route_base}/list/?psize_{view_name}={PSIZE}" + (f"&{extra}" if extra else "")
        stock_view = stock[view_name]
        stock_name = type(stock_view).__name__
        # the stock view's own filter indices (its search form may list the columns in another order)
        stock_extra = "&".join(p for p in filtered_args(stock_view, flt).split("&") if p.startswith("_flt_"))
        stock_base = f"{stock_view.route_base}/list/?psize_{stock_name}={PSIZE}" + (
            f"&{stock_extra}" if stock_extra else ""
        )
        client.get(our_base)
        # the deep page: DEEP_OFFSET rows in, or the deepest page that still has rows — found on the
        # stock view, which answers an empty page past the end (ours would show the last page instead)
        deep = DEEP_OFFSET // PSIZE
        while deep > 1 and not (
            rows_on(client.get(f"{stock_base}&page_{stock_name}={deep}").data)
            and shows_page(client.get(f"{our_base}&page_{view_name}={deep}").data, deep)
        ):
            deep //= 2
        for label, page in (("first", 0), (f"deep ({deep * PSIZE:,} rows in)", deep)):
            our_url = our_base + (f"&page_{view_name}={page}" if page else "")
            stock_url = stock_base + (f"&page_{stock_name}={page}" if page else "")
            # the fewer of two requests: a per-worker value refreshed once a minute (the password lifetime,
            # app/security/passwords.py) adds its query to whichever request comes due, not to the page
            page_sql = None
            for _ in range(2):
                with recorder.recording() as statements:
                    response = client.get(our_url)
                if page_sql is None or len(statements) < len(page_sql):
                    page_sql = list(statements)
            queries = len(page_sql)
            ours_samples = time_get(client, our_url, reps)
            with recorder.recording() as statements:
                client.get(stock_url)
            stock_queries = len(statements)
            stock_samples = time_get(client, stock_url, stock_reps)
            entry = {
                "name": name,
                "page": label,
                "rows": rows_on(response.data),
                "ours_ms_median": summary(ours_samples)[0],
                "ours_ms_p95": summary(ours_samples)[1],
                "stock_ms_median": summary(stock_samples)[0],
                "floor_ms_median": floor_ms(engine, page_sql, reps),
                "queries": queries,
                "stock_queries": stock_queries,
            }
            entry["speedup"] = round(entry["stock_ms_median"] / max(entry["ours_ms_median"], 0.01), 1)
            log(
                f"{name} {label}: ours {entry['ours_ms_median']} ms ({queries} q), stock "
                f"{entry['stock_ms_median']} ms ({stock_queries} q), floor {entry['floor_ms_median']} ms"
            )
            results.append(entry)
    return results


# -- exports: a child process per format, peak RSS from getrusage -------------------------------------
EXPORT_CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
url, fmt, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
from flask import g
from app import create_app
from app.extensions import db
from app.models import AppUser
from app.reports.export import EXPORTS, export_response
app = create_app({{"SQLALCHEMY_DATABASE_URI": url, "DEMO_MODE": True, "SECRET_KEY": "bench-secret-key",
                  "AZX_SYNC_ROLES": False, "FAB_UPDATE_PERMS": False}})
# What LedgerView.export runs — the ledger's own filtered, scoped statement and export columns (its named
# export, the same builder the request and the job call) —
# as the platform admin (who sees every policy), limited to the first `limit` rows of its order.
import threading
def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
peak = [0.0]
running = [True]
def sample():  # the current RSS every 5 ms: the high-water mark of the export itself
    while running[0]:
        peak[0] = max(peak[0], rss_mb())
        time.sleep(0.005)
with app.test_request_context(f"/ledger/export/?fmt={{fmt}}"):
    g.user = db.session.query(AppUser).filter_by(username="admin").one()
    base_rss = rss_mb()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    stmt, columns, _title = EXPORTS["LedgerView"].build({{}}, g.user)
    response = export_response(stmt.limit(limit), columns, "保单台帐", fmt)
    size = 0
    with open(os.devnull, "wb") as sink:
        for chunk in response.response:
            size += len(chunk)
            sink.write(chunk)
    response.close()
    seconds = time.perf_counter() - started
    running[0] = False
    sampler.join()
print(json.dumps({{"seconds": seconds, "peak_rss_mb": max(peak[0], base_rss), "base_rss_mb": base_rss,
                  "bytes": size}}))
"""


def measure_exports(url, rows):
    results = []
    for fmt in ("xlsx", "csv"):
        out = subprocess.run(
            [sys.executable, "-c", EXPORT_CHILD.format(root=ROOT), url, fmt, str(rows)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if out.returncode != 0:
            raise SystemExit(f"export {fmt} failed:\n{out.stderr}")
        data = json.loads(out.stdout.strip().splitlines()[-1])
        entry = {
            "name": f"保单台帐 {fmt} ({rows:,} rows)",
            "seconds": round(data["seconds"], 2),
            "peak_rss_mb": round(data["peak_rss_mb"], 1),
            "base_rss_mb": round(data["base_rss_mb"], 1),
            "export_rss_mb": round(data["peak_rss_mb"] - data["base_rss_mb"], 1),
            "bytes": data["bytes"],
        }
        log(
            f"export {fmt}: {entry['seconds']} s, peak RSS {entry['peak_rss_mb']} MB "
            f"(before the export {entry['base_rss_mb']} MB)"
        )
        results.append(entry)
    return results


# -- statistics workbooks and the dashboard (through their URLs) --------------------------------------
def _through_job(client, url):
    """GET ``url``; when it answers with a job's progress page, the job's file (the job ran in the
    request: TASK_QUEUE_IMMEDIATE). Returns (response of the file, whether a job made it)."""
    response = client.get(url)
    if response.status_code == 200:
        return response, False
    match = re.search(r"/my/jobs/(\d+)", response.headers.get("Location", ""))
    if response.status_code not in (302, 303) or not match:
        raise SystemExit(f"GET {url} answered {response.status_code}")
    state = client.get(f"/my/jobs/{match.group(1)}/status").get_json()
    if state["status"] != "done":
        raise SystemExit(f"job for {url}: {state['status']} {state['message']}")
    return client.get(state["download_url"]), True


def _time_through_job(client, url, reps):
    samples, made_by_job = [], []
    for _ in range(reps):
        started = time.perf_counter()
        response, job = _through_job(client, url)
        samples.append((time.perf_counter() - started) * 1000)
        made_by_job.append(job)
    return samples, response, made_by_job


def _last_closed_month():
    first = time.gmtime()
    year, mon = (first.tm_year, first.tm_mon - 1) if first.tm_mon > 1 else (first.tm_year - 1, 12)
    return f"{year:04d}-{mon:02d}"


def measure_statistics(app, reps):
    """Each 统计报告 workbook (its summary plus the sheet of project rows behind it, as the manual asks):
    the current month as a job (computed afresh every time), a closed month the first time (a job that
    also stores it) and then served from the closed-month store; and the 数据大屏 figures: cold (keeping
    off: computed from the rows, as the queue's refresh and a scope's first request compute them) and warm
    (as served: the scope's kept figures, app/services/kept_figures.py)."""
    from app.extensions import db
    from app.models import StatisticsSnapshot

    notes, results, dashboard = [], [], {}
    client = login(app, "dept_province")
    month = time.strftime("%Y-%m")
    closed = _last_closed_month()
    ttl = app.config.get("FIGURES_CACHE_SECONDS", 30)
    with app.app_context():  # measure the first computation of the closed month, not an earlier run's store
        db.session.query(StatisticsSnapshot).delete()
        db.session.commit()
    for report, label in REPORTS:
        url = f"/statistics/export/?type={report}&month={month}"
        samples, response, _jobs = _time_through_job(client, url, min(reps, 3))  # 10⁵ rows take seconds each
        detail_rows = _detail_rows(response.data)
        results.append(
            {
                "name": f"{label}统计 workbook, current month (a job)",
                "seconds": round(summary(samples)[0] / 1000, 3),
                "detail_rows": detail_rows,
            }
        )
        log(f"statistics {report} {month}: {results[-1]['seconds']} s as a job ({detail_rows:,} detail rows)")
        url = f"/statistics/export/?type={report}&month={closed}"
        first, response, jobs = _time_through_job(client, url, 1)
        stored, response, later_jobs = _time_through_job(client, url, max(3, reps))
        if not jobs[0] or any(later_jobs):
            notes.append(f"{label} {closed}: expected a job first and the store after (jobs {jobs + later_jobs})")
        detail_rows = _detail_rows(response.data)
        results.append(
            {
                "name": f"{label}统计 workbook, closed month, first request (a job; stored)",
                "seconds": round(first[0] / 1000, 3),
                "detail_rows": detail_rows,
            }
        )
        results.append(
            {
                "name": f"{label}统计 workbook, closed month, from the store",
                "seconds": round(summary(stored)[0] / 1000, 3),
                "detail_rows": detail_rows,
                "closed_store": True,
            }
        )
        log(
            f"statistics {report} {closed}: first {results[-2]['seconds']} s, then {results[-1]['seconds']} s "
            f"from the store ({detail_rows:,} detail rows)"
        )
    for report, label in REPORTS:  # the page of the open month: computed from the rows, then as served
        url = f"/statistics/?type={report}&month={month}"
        app.config["FIGURES_CACHE_SECONDS"] = 0
        cold = summary(time_get(client, url, max(3, reps // 3)))[0]
        app.config["FIGURES_CACHE_SECONDS"] = ttl
        client.get(url)
        warm = summary(time_get(client, url, reps))[0]
        for how, ms in (("from the rows (the refresh, or a scope's first request)", cold), ("as served", warm)):
            results.append({"name": f"{label}统计 page, current month, {how}", "seconds": round(ms / 1000, 4)})
            results[-1]["page"] = "served" if how == "as served" else "rows"
        log(f"statistics page {report} {month}: {cold} ms from the rows, {warm} ms as served")
    url = "/dashboard/data"
    app.config["FIGURES_CACHE_SECONDS"] = 0
    dashboard["cold"] = summary(time_get(client, url, max(3, reps // 3)))[0]
    app.config["FIGURES_CACHE_SECONDS"] = ttl
    client.get(url)
    dashboard["warm"] = summary(time_get(client, url, reps))[0]
    log(f"dashboard {url}: cold {dashboard['cold']} ms, warm {dashboard['warm']} ms")
    return results, dashboard, notes


def _detail_rows(data):
    """Rows of the workbook's last sheet (the 明细), less its title block and header row."""
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = sorted(n for n in archive.namelist() if re.match(r"xl/worksheets/sheet\d+\.xml$", n))
        xml = archive.read(sheets[-1])
    return max(xml.count(b"<row ") + xml.count(b"<row>") - 4, 0)  # title, two lines under it, header


# -- throughput: gunicorn 4 workers, wrk (or Python threads) on loopback ------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_login(base, username):
    import requests

    session = requests.Session()
    page = session.get(base + "/login/", timeout=120)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    data = {"username": username, "password": PASSWORD}
    if token:
        data["csrf_token"] = token.group(1)
    response = session.post(base + "/login/", data=data, allow_redirects=False, timeout=120)
    if response.status_code not in (302, 303):
        raise SystemExit(f"gunicorn login of {username} failed ({response.status_code})")
    return "; ".join(f"{k}={v}" for k, v in session.cookies.items())


def list_urls(ours):
    urls = []
    for _name, username, view_name, flt in LISTS:
        view = ours.get(view_name)
        if view is not None:
            extra = filtered_args(view, flt)
            urls.append(
                (username, f"{view.route_base}/list/?psize_{view_name}={PSIZE}" + (f"&{extra}" if extra else ""))
            )
    return urls


WRK_LUA = """
local requests = {}
local i = 0
%s
request = function()
  i = i %% #requests + 1
  return requests[i]
end
local errors = 0
response = function(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end
done = function(summary, latency, requests_)
  io.write(string.format("WRK-RESULT %%d %%d %%d %%d %%d\\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(95), summary.duration))
end
"""


def measure_throughput(url, ours, seconds, workers=4):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    extra = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
    extra.write("FAB_UPDATE_PERMS = False\nAZX_SYNC_ROLES = False\n")  # as deployed: synced once, not per worker
    extra.close()
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench-secret-key", DEMO_MODE="1", AZX_CONFIG=extra.name)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "app:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        import requests

        deadline = time.time() + 300
        while True:  # the port opens before the workers have built the app: wait for a page
            try:
                if requests.get(base + "/login/", timeout=120).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.time() > deadline:
                raise SystemExit("gunicorn did not start:\n" + server.stderr.read().decode()[-2000:])
            time.sleep(1)
        urls = list_urls(ours)
        cookies = {u: http_login(base, u) for u in {u for u, _ in urls}}

        for username, path in urls:  # warm every worker's caches a little
            for _ in range(workers):
                requests.get(base + path, headers={"Cookie": cookies[username]}, timeout=120)
        wrk = shutil.which("wrk")
        if wrk:
            lines = "\n".join(
                'requests[#requests + 1] = wrk.format("GET", %s, {["Cookie"] = %s})'
                % (json.dumps(path), json.dumps(cookies[username]))
                for username, path in urls
            )
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
                fh.write(WRK_LUA % lines)
            out = subprocess.run(
                [wrk, "-t2", "-c8", f"-d{seconds}s", "--timeout", "30s", "-s", fh.name, base],
                capture_output=True,
                text=True,
            )
            os.unlink(fh.name)
            found = re.search(r"WRK-RESULT (\d+) (\d+) (\d+) (\d+) (\d+)", out.stdout)
            if not found:
                raise SystemExit(f"wrk failed:\n{out.stdout}\n{out.stderr}")
            total, status_errors, socket_errors, p95_us, duration_us = map(int, found.groups())
            result = {
                "workers": workers,
                "requests_per_s": round(total / (duration_us / 1e6), 1),
                "p95_ms": round(p95_us / 1000, 1),
                "errors": status_errors + socket_errors,
                "http_errors": status_errors,
                "socket_errors": socket_errors,
                "requests": total,
                "seconds": seconds,
                "client": "wrk -t2 -c8 --timeout 30s",
            }
        else:
            result = threaded_load(base, urls, cookies, seconds, workers)
        log(f"throughput: {result}")
        return result
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def threaded_load(base, urls, cookies, seconds, workers, threads=8):
    import requests

    deadline = time.time() + seconds
    latencies, errors, lock = [], [0], threading.Lock()

    def worker(k):
        session = requests.Session()
        i = k
        while time.time() < deadline:
            username, path = urls[i % len(urls)]
            i += 1
            started = time.perf_counter()
            try:
                ok = session.get(base + path, headers={"Cookie": cookies[username]}, timeout=30).status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)
                errors[0] += 0 if ok else 1

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {
        "workers": workers,
        "requests_per_s": round(len(latencies) / seconds, 1),
        "p95_ms": summary(latencies)[1],
        "errors": errors[0],
        "requests": len(latencies),
        "seconds": seconds,
        "client": f"Python threads ({threads})",
    }


# -- the report ----------------------------------------------------------------------------------------
def machine():
    def run(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""

    return {
        "nproc": run("nproc"),
        "free_h": run("free -h"),
        "load_before": run("cat /proc/loadavg"),
        "cpu": run("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
        "python": platform.python_version(),
    }


def write_markdown(path, result):
    m = result["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `python bench/run.py` on {result['finished_at']} at scale {result['scale']:,} "
        f"({'quick' if result['quick'] else 'full'} run, {result['reps']} repetitions per figure; stock FAB "
        f"{result['stock_reps']}). Our pages and stock Flask-AppBuilder {result['fab_version']} ModelViews over "
        "the same models (same scope as a base filter, same columns, no page-size cap) are served by the same "
        "app in the same run, through the test client, logged in as the role. The floor is the SQL our page "
        "ran, replayed alone on one connection.",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, `nproc` = {m['nproc']}",
        f"- PostgreSQL: {result['postgresql']}",
        f"- Python {m['python']}",
        f"- Load average before / after the run: {m['load_before']} / {m.get('load_after', '')} (the "
        "machine's first three figures: 1, 5 and 15 minutes).",
        "",
        "```",
        m["free_h"],
        "```",
        "",
        "## List pages (median ms; page size 20)",
        "",
        "| list | page | rows | ours median | ours p95 | stock median | floor | speed-up | queries | stock queries |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in result["lists"]:
        lines.append(
            f"| {e['name']} | {e['page']} | {e['rows']} | {e['ours_ms_median']} | {e['ours_ms_p95']} | "
            f"{e['stock_ms_median']} | {e['floor_ms_median']} | {e['speedup']}× | {e['queries']} | "
            f"{e['stock_queries']} |"
        )
    lines += [
        "",
        "## Exports (保单台帐, a child process each)",
        "",
        "What `LedgerView.export` runs (the ledger's statement and columns, as the admin, first 100,000 rows "
        "of its order) in a child process; the export's own memory is the peak RSS less the RSS of the "
        "process with the app loaded, before the export.",
        "",
        "| export | seconds | export's own RSS MB | peak RSS MB | RSS before the export MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for e in result["exports"]:
        own = e.get("export_rss_mb", round(e["peak_rss_mb"] - e["base_rss_mb"], 1))
        lines.append(f"| {e['name']} | {e['seconds']} | {own} | {e['peak_rss_mb']} | {e['base_rss_mb']} |")
    lines += ["", "## Statistics and dashboard", ""]
    for e in result["statistics"]:
        rows = f" ({e['detail_rows']:,} project rows in its 明细 sheet)" if "detail_rows" in e else ""
        lines.append(f"- {e['name']}: {e['seconds']} s{rows}")
    if result["dashboard_ms_median"] is not None:
        cold = result.get("dashboard_cold_ms_median")
        lines.append(
            f"- 数据大屏 (/dashboard/data): {result['dashboard_ms_median']} ms median as served (the scope's "
            f"kept figures, refreshed by the task queue after a change)"
            + (f"; {cold} ms computed from the rows (the refresh, or a scope's first request)" if cold else "")
        )
    else:
        lines.append("- 数据大屏: not measured")
    for note in result["notes"]:
        lines.append(f"- note: {note}")
    t = result["throughput"]
    lines += ["", "## Throughput", ""]
    if t:
        lines.append(
            f"gunicorn {t['workers']} sync workers on 127.0.0.1, {t['client']} for {t['seconds']} s over the "
            f"list pages above (logged-in cookies): **{t['requests_per_s']} pages/s**, p95 {t['p95_ms']} ms, "
            f"{t['errors']} errors ({t['requests']} requests). The load generator shares the two cores."
        )
    else:
        lines.append("not measured")
    if result.get("targets"):
        lines += ["", "## Targets (N = 1,000,000)", ""]
        lines += [f"- {line}" for line in result["targets"]]
    if result.get("analysis"):
        lines += ["", result["analysis"].strip()]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def check_targets(result):
    """The verdicts against the performance targets at 1,000,000 projects (docs/benchmarks.md)."""
    out = []
    for e in result["lists"]:
        verdicts = []
        if e["ours_ms_median"] > 30:
            verdicts.append(f"median {e['ours_ms_median']} ms > 30 ms (by {e['ours_ms_median'] - 30:.1f} ms)")
        if e["page"] == "first" and e["ours_ms_median"] > e["floor_ms_median"] + 10:
            verdicts.append(
                f"{e['ours_ms_median'] - e['floor_ms_median']:.1f} ms above its SQL (floor {e['floor_ms_median']} ms; "
                "target ≤ floor + 10 ms)"
            )
        if e["queries"] > 8:
            verdicts.append(f"{e['queries']} queries > 8")
        out.append(f"{e['name']} / {e['page']}: " + ("; ".join(verdicts) if verdicts else "met"))
    for e in result["exports"]:
        limit_s = 8 if "xlsx" in e["name"] else 1.5
        own = e.get("export_rss_mb", e["peak_rss_mb"])
        ok = e["seconds"] <= limit_s and ("csv" in e["name"] or own <= 80)
        out.append(
            f"{e['name']}: {e['seconds']} s / {own} MB of its own (peak RSS {e['peak_rss_mb']} MB) — "
            + ("met" if ok else f"missed (≤ {limit_s} s{', ≤ 80 MB' if 'xlsx' in e['name'] else ''})")
        )
    for e in result["statistics"]:
        if e.get("page") == "served":
            out.append(f"{e['name']}: {e['seconds']} s — " + ("met" if e["seconds"] <= 0.1 else "missed (≤ 100 ms)"))
        elif e.get("page"):
            out.append(f"{e['name']}: {e['seconds']} s — the queue's refresh (no target of its own)")
        elif e.get("closed_store") or "closed" not in e["name"] and "current month" not in e["name"]:
            out.append(f"{e['name']}: {e['seconds']} s — " + ("met" if e["seconds"] <= 1 else "missed (≤ 1 s)"))
        else:  # a job: its time is reported, the page shows its progress meanwhile
            out.append(f"{e['name']}: {e['seconds']} s — a job with progress (no target)")
    if result["dashboard_ms_median"] is not None:
        cold = result.get("dashboard_cold_ms_median")
        if cold is not None:
            out.append(
                f"dashboard figures from the rows (the queue's refresh): {cold} ms — "
                + ("met" if cold <= 50 else "missed (≤ 50 ms)")
            )
        d = result["dashboard_ms_median"]
        out.append(f"dashboard as served (kept figures): {d} ms — " + ("met" if d <= 50 else "missed (≤ 50 ms)"))
    t = result["throughput"]
    if t:
        ok = t["requests_per_s"] >= 150 and t["errors"] == 0 and t["p95_ms"] <= 100
        out.append(
            f"throughput: {t['requests_per_s']} pages/s, p95 {t['p95_ms']} ms, {t['errors']} errors — "
            + ("met" if ok else "missed (≥ 150/s, p95 ≤ 100 ms, 0 errors)")
        )
    return out


def _page_kind(entry):
    # "deep (25,000 rows in)" at one scale is "deep (1,250 rows in)" at another: the same page
    return entry["name"], entry["page"].split(" ")[0]


def _read_baseline(path):
    if not path or not os.path.exists(path):
        return None
    with open(path) as fh:
        return json.load(fh)


def compare_with_baseline(lists, baseline):
    """Print each list page's figures beside the baseline's; the pages that now issue more queries."""
    if not baseline:
        return []
    before = {_page_kind(e): e for e in baseline.get("lists", [])}
    log(f"baseline: scale {baseline.get('scale')}, {baseline.get('finished_at')}")
    worse = []
    for e in lists:
        old = before.get(_page_kind(e))
        if old is None:
            log(f"  {e['name']} / {e['page']}: new page, {e['queries']} queries, {e['ours_ms_median']} ms")
            continue
        log(
            f"  {e['name']} / {e['page']}: {e['queries']} queries (baseline {old['queries']}), "
            f"{e['ours_ms_median']} ms (baseline {old['ours_ms_median']} ms at scale {baseline.get('scale')})"
        )
        if e["queries"] > old["queries"]:
            worse.append(f"{e['name']} / {e['page']}: {e['queries']} queries, baseline {old['queries']}")
    return worse


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an existing PostgreSQL database (seeded when smaller than --scale)")
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_SERVER", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="where a fresh database is created when --database-url is not given",
    )
    parser.add_argument("--scale", type=int, default=20000)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, shorter load (CI)")
    parser.add_argument("--keep", action="store_true", help="keep the fresh database")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results.json"))
    parser.add_argument("--markdown", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    parser.add_argument(
        "--baseline",
        default=os.path.join(ROOT, "bench", "results.json"),
        help="a committed run whose query counts this run may not exceed (read before --out is written)",
    )
    parser.add_argument("--analysis", help="a Markdown file appended to docs/benchmarks.md (profile notes)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite --markdown from an existing --out (with --analysis), measuring nothing",
    )
    args = parser.parse_args(argv)

    if args.render_only:
        with open(args.out) as fh:
            result = json.load(fh)
        if args.analysis and os.path.exists(args.analysis):
            with open(args.analysis) as fh:
                result["analysis"] = fh.read()
        result["targets"] = check_targets(result)
        write_markdown(args.markdown, result)
        return 0

    baseline = _read_baseline(args.baseline)
    started = time.time()
    reps, stock_reps = (5, 3) if args.quick else (21, 7)
    seconds = 10 if args.quick else 30
    info = machine()
    url, cleanup = prepare_database(args)
    try:
        app, ours, stock = build_app(url)
        import flask_appbuilder

        from app.extensions import db

        with app.app_context():
            pg_version = db.session.execute(db.text("SHOW server_version")).scalar()
            policies = db.session.execute(db.text("SELECT count(*) FROM policy")).scalar()
            db.session.remove()
        lists = measure_lists(app, ours, stock, reps, stock_reps)
        exports = measure_exports(url, min(100_000, policies))
        stats, dashboard, notes = measure_statistics(app, reps)
        throughput = None if args.skip_throughput else measure_throughput(url, ours, seconds)
        info["load_after"] = open("/proc/loadavg").read().strip()
        result = {
            "scale": args.scale,
            "quick": args.quick,
            "reps": reps,
            "stock_reps": stock_reps,
            "fab_version": flask_appbuilder.__version__,
            "postgresql": pg_version,
            "machine": info,
            "lists": lists,
            "exports": exports,
            "statistics": stats,
            "dashboard_ms_median": dashboard["warm"],
            "dashboard_cold_ms_median": dashboard["cold"],
            "throughput": throughput,
            "notes": notes,
            "seconds": round(time.time() - started, 1),
            "finished_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        result["targets"] = check_targets(result)
        if args.analysis and os.path.exists(args.analysis):
            with open(args.analysis) as fh:
                result["analysis"] = fh.read()
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as fh:
            json.dump(result, fh, ensure_ascii=False, indent=2)
        write_markdown(args.markdown, result)
        log(f"done in {result['seconds']} s: {args.out}, {args.markdown}")
        # What fails the run is what does not depend on the machine: a list over the query budget, an
        # error under load (a page answering other than 200 has already stopped the run).
        failed = [f"{e['name']} / {e['page']}: {e['queries']} queries" for e in lists if e["queries"] > 8]
        failed += compare_with_baseline(lists, baseline)
        if throughput and throughput["errors"]:
            failed.append(f"throughput: {throughput['errors']} errors")
        for line in failed:
            log(f"FAILED {line}")
        return 1 if failed else 0
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
