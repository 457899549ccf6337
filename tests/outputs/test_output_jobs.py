"""Long outputs as jobs (app/jobs/outputs.py) and the closed-month store (services/statistics_store.py).

Most tests run jobs at once in the caller (the suite's TASK_QUEUE_IMMEDIATE); the end-to-end tests run
them on real workers: the embedded default's SQLite queue with its in-process worker, and Redis with a
`flask jobs worker` process, as production runs it."""

import errno
import io
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta

import pytest
from factories import insurance as f
from factories.jobs import follow_job, job_id_of, job_status, redis_up
from openpyxl import load_workbook
from sqlalchemy import select, text, update

from app.clock import today
from app.extensions import db
from app.jobs import InProcessWorker, make_huey, outputs, register_jobs
from app.models import AppUser, JobRun, StatisticsSnapshot
from app.reports import export
from app.services import statistics, statistics_store

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def small_threshold(app):
    previous = app.config["EXPORT_JOB_ROWS"]
    app.config["EXPORT_JOB_ROWS"] = 1
    yield
    app.config["EXPORT_JOB_ROWS"] = previous


def _ledger_tag(app, n=3):
    tag = "作业" + uuid.uuid4().hex[:6]
    with app.app_context():
        for i in range(n):
            f.make_application("insured", name=f"{tag}项目{i}")
    return tag


def _rows(data):
    return list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))


def _job(app, job_id):
    with app.app_context():
        run = db.session.get(JobRun, job_id)
        db.session.expunge_all()
        return run


# ---------------------------------------------------------------------------------------------------
# The export path: small in the request, large as a job with progress, the file under 我的导出/导入
# ---------------------------------------------------------------------------------------------------


def test_an_export_above_the_threshold_runs_as_a_job(app, as_user, small_threshold, monkeypatch):
    tag = _ledger_tag(app)
    seen = []
    real = outputs.report_progress
    monkeypatch.setattr(export, "BATCH", 1)
    monkeypatch.setattr(outputs, "report_progress", lambda *a, **k: (seen.append(a[1:]), real(*a, **k)))
    client = as_user("insurer_picc")
    response = client.get(f"/ledger/export/?fmt=xlsx&project={tag}")
    job_id = job_id_of(response)
    assert "download=1" in response.headers["Location"]
    state = job_status(client, job_id)
    assert state["status"] == "done" and state["percent"] == 100 and state["done"] == 3 and state["total"] == 3
    assert state["message"] == "共 3 行" and state["file_name"] == "保单台帐.xlsx"
    # progress fed by the job: 0 of 3, then row by row
    assert (0, 3, "rows") in seen and (3, 3, "rows") in seen
    page = client.get(f"/my/jobs/{job_id}?download=1").get_data(as_text=True)
    assert 'data-autodownload="1"' in page and "js/jobs.js" in page and "<script>" not in page
    download = client.get(state["download_url"])
    assert download.status_code == 200
    assert 'filename="baodantaizhang-' in download.headers["Content-Disposition"]
    rows = _rows(download.data)
    assert rows[0][0] == "保单台帐" and f"项目名称：{tag}" in rows[1][0]
    assert sorted(r[3] for r in rows[3:]) == [f"{tag}项目{i}" for i in range(3)]
    listing = client.get("/my/jobs/").get_data(as_text=True)
    assert "保单台帐（XLSX）" in listing and state["download_url"] in listing
    # the same export as CSV is a job of its own; two decimals for money, times to the second
    csv_state = job_status(client, job_id_of(client.get(f"/ledger/export/?fmt=csv&project={tag}")))
    body = client.get(csv_state["download_url"]).data.decode("utf-8")
    assert body.startswith("\ufeff项目号,创建时间")
    import csv

    line = list(csv.reader(io.StringIO(body)))[1]
    assert len(line[1]) == 19 and line[1][4] == "-" and "." not in line[1]
    assert line[7].count(".") == 1 and len(line[7].split(".")[1]) == 2


def test_jobs_are_their_owners_only(app, as_user, small_threshold):
    tag = _ledger_tag(app, 2)
    owner = as_user("insurer_picc")
    job_id = job_id_of(owner.get(f"/ledger/export/?project={tag}"))
    download = job_status(owner, job_id)["download_url"]
    for other in ("insurer_pingan", "admin", "dept_province"):
        client = as_user(other)
        assert client.get(f"/my/jobs/{job_id}").status_code == 404
        assert client.get(f"/my/jobs/{job_id}/status").status_code == 404
        assert client.get(download).status_code == 404
        assert f"/my/jobs/{job_id}" not in client.get("/my/jobs/").get_data(as_text=True)
    assert as_user("enterprise_demo").get("/my/jobs/").status_code in (302, 403)


def test_expired_files_disappear_and_are_purged(app, as_user, small_threshold):
    tag = _ledger_tag(app, 2)
    client = as_user("insurer_picc")
    job_id = job_id_of(client.get(f"/ledger/export/?project={tag}"))
    state = job_status(client, job_id)
    run = _job(app, job_id)
    with app.app_context():
        from app.storage import get_storage

        assert get_storage().exists(run.file_key)
        past = run.finished_at - timedelta(hours=1)
        db.session.execute(update(JobRun).where(JobRun.id == job_id).values(expires_at=past))
        db.session.commit()
    assert client.get(state["download_url"]).status_code == 404
    assert f"/my/jobs/{job_id}" not in client.get("/my/jobs/").get_data(as_text=True)
    with app.app_context():
        result = outputs.purge_outputs()
        assert result["expired"] >= 1
        assert db.session.get(JobRun, job_id) is None
        assert not get_storage().exists(run.file_key)


def test_the_purge_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "purge"])
    assert result.exit_code == 0, result.output
    assert "expired" in result.output


# ---------------------------------------------------------------------------------------------------
# Bad input: a duplicate request, a database gone, a full disk
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def held_queue(app):
    """A queue whose jobs wait (nothing consumes them) until the test runs them."""
    huey = register_jobs(app, make_huey({"TASK_QUEUE_URL": "memory://", "TASK_QUEUE_NAME": "azx-held"}))
    previous = app.extensions["huey"]
    app.extensions["huey"] = huey
    yield huey
    app.extensions["huey"] = previous


def _run_pending(app, huey):
    while True:
        task = huey.dequeue()
        if task is None:
            return
        huey.execute(task)


def test_asking_twice_returns_the_running_job(app, as_user, small_threshold, held_queue):
    tag = _ledger_tag(app, 2)
    client = as_user("insurer_picc")
    first = job_id_of(client.get(f"/ledger/export/?fmt=xlsx&project={tag}"))
    assert job_status(client, first)["status"] == "queued"
    again = job_id_of(client.get(f"/ledger/export/?fmt=xlsx&project={tag}"))
    assert again == first
    assert held_queue.pending_count() == 1  # one job queued, not two
    other_format = job_id_of(client.get(f"/ledger/export/?fmt=csv&project={tag}"))
    assert other_format != first
    # another user asking the same gets a job of his own
    assert job_id_of(as_user("admin").get(f"/ledger/export/?fmt=xlsx&project={tag}")) != first
    # the statistics workbook and the registry import, likewise
    dept = as_user("dept_province")
    month = (today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    w1 = client_job = job_id_of(dept.get(f"/statistics/export/?type=claims&month={month}"))
    assert job_id_of(dept.get(f"/statistics/export/?type=claims&month={month}")) == client_job
    _run_pending(app, held_queue)
    assert job_status(client, first)["status"] == "done"
    assert job_status(dept, w1)["status"] == "done"
    # finished: asking again makes a new job
    assert job_id_of(client.get(f"/ledger/export/?fmt=xlsx&project={tag}")) not in (first, other_format)
    with app.app_context():
        active = db.session.execute(select(JobRun).where(JobRun.id.in_([first, w1]))).scalars().all()
        assert all(r.active_key is None for r in active)


def _running_for_an_hour(job_id):
    made = db.session.get(JobRun, job_id).created_at
    db.session.execute(
        update(JobRun).where(JobRun.id == job_id).values(status="running", created_at=made - timedelta(hours=1))
    )
    db.session.commit()


def test_a_job_whose_worker_died_is_failed_and_asked_afresh(app, as_user, small_threshold, held_queue):
    """A worker killed mid-job leaves its job 'running' with no more progress: asking again does not
    wait on it for hours, it fails that job with its reason and queues a new one; the purge does the
    same for jobs nobody asks again. One still reporting progress is the same request's job."""
    tag = _ledger_tag(app, 2)
    client = as_user("insurer_picc")
    first = job_id_of(client.get(f"/ledger/export/?fmt=xlsx&project={tag}"))
    with app.app_context():
        outputs.report_progress(first, 10, 100, "running")  # a worker took it and reports
        _running_for_an_hour(first)
    assert job_id_of(client.get(f"/ledger/export/?fmt=xlsx&project={tag}")) == first  # progress 0 s ago
    with app.app_context():
        silent = time.time() - outputs.LOST_AFTER["running"].total_seconds() - 60
        held_queue.put(outputs._progress_key(first), {"done": 10, "total": 100, "phase": "running", "at": silent})
    again = job_id_of(client.get(f"/ledger/export/?fmt=xlsx&project={tag}"))
    assert again != first
    dead = _job(app, first)
    assert (dead.status, dead.active_key, dead.message) == ("failed", None, "任务中断（处理进程已停止），请重新提交")
    assert job_status(client, again)["status"] == "queued"
    with app.app_context():  # nobody asks again: the purge fails it
        _running_for_an_hour(again)
        held_queue.put(outputs._progress_key(again), {"done": 0, "total": 0, "phase": "running", "at": silent})
        assert outputs.purge_outputs()["lost"] == 1
    assert _job(app, again).status == "failed"


def _files_of(storage_root, job_id, since=None):
    """The job's files under the store, written since ``since`` (a rolled-back test's job of the same
    id may have left its file: the store is not part of the transaction)."""
    found = []
    for dirpath, _dirs, names in os.walk(storage_root):
        found += [
            n
            for n in names
            if n.startswith(f"job{job_id}-") and (since is None or os.path.getmtime(os.path.join(dirpath, n)) >= since)
        ]
    return found


def test_a_job_whose_database_is_gone_fails_with_its_reason(app, as_user, small_threshold, monkeypatch):
    started = time.time()
    from sqlalchemy.exc import OperationalError

    tag = _ledger_tag(app, 2)
    spec = export.EXPORTS["LedgerView"]
    real = spec.build

    def gone(filters, user):
        if request_is_job():
            raise OperationalError("SELECT policy", {}, ConnectionRefusedError("could not connect to server"))
        return real(filters, user)

    def request_is_job():
        from flask import request

        return request.path == "/"  # the job's own request context (the page's is /ledger/export/)

    monkeypatch.setattr(spec, "build", gone)
    client = as_user("insurer_picc")
    job_id = job_id_of(client.get(f"/ledger/export/?project={tag}"))
    state = job_status(client, job_id)
    assert state["status"] == "failed" and state["download_url"] is None
    assert state["message"] == "数据库暂时无法访问，任务未完成，请稍后重试"
    page = client.get(f"/my/jobs/{job_id}").get_data(as_text=True)
    assert "数据库暂时无法访问" in page and "alert-danger" in page
    assert "数据库暂时无法访问" in client.get("/my/jobs/").get_data(as_text=True)
    run = _job(app, job_id)
    assert run.file_key is None and run.active_key is None
    assert _files_of(app.config["FILE_STORAGE_ROOT"], job_id, since=started) == []


def test_a_full_disk_leaves_no_half_written_file(app, as_user, small_threshold, monkeypatch):
    started = time.time()
    tag = _ledger_tag(app, 2)
    written = []

    def full_disk(src, dst):
        with open(src, "rb") as s, open(dst, "wb") as d:
            d.write(s.read(100))  # half a file, then the disk is full
        written.append(dst)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(statistics_store.shutil, "copyfile", full_disk)
    client = as_user("insurer_picc")
    job_id = job_id_of(client.get(f"/ledger/export/?project={tag}"))
    state = job_status(client, job_id)
    assert state["status"] == "failed" and state["message"] == "磁盘空间不足，文件未生成"
    assert written and not os.path.exists(written[0])  # the partial copy removed
    assert _files_of(app.config["FILE_STORAGE_ROOT"], job_id, since=started) == []
    assert _job(app, job_id).file_key is None
    # the temporary work folder is gone too
    leftovers = [d for d in os.listdir(os.environ.get("TMPDIR", "/tmp")) if d.startswith(f"azx-job-{job_id}-")]
    assert leftovers == []


def test_a_failing_workbook_writer_leaves_no_file(app, as_user, monkeypatch):
    from app.reports import statistics_xlsx

    def broken(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(statistics_store, "write_workbook", broken)
    client = as_user("dept_province")
    job_id = job_id_of(client.get("/statistics/export/?type=insurance&month=2031-05"))
    state = job_status(client, job_id)
    assert state["status"] == "failed" and "磁盘空间不足" in state["message"]
    del statistics_xlsx


# ---------------------------------------------------------------------------------------------------
# The registry import as a job
# ---------------------------------------------------------------------------------------------------


def test_the_registry_import_runs_as_a_job_with_progress(app, as_user, monkeypatch):
    from factories.registry import _file_id, _upload, good_rows, xlsx

    from app.services import registry_import

    monkeypatch.setattr(registry_import, "BATCH", 2)
    seen = []
    real = outputs.report_progress
    monkeypatch.setattr(outputs, "report_progress", lambda *a, **k: (seen.append(a[1:]), real(*a, **k)))
    client = as_user("dept_province")
    prefix = "J" + uuid.uuid4().hex[:4].upper()
    html = _upload(client, xlsx(good_rows(prefix))).get_data(as_text=True)
    response = client.post("/registry-import/confirm", data={"file_id": _file_id(html)})
    job_id = job_id_of(response)
    assert "download" not in response.headers["Location"]
    state = job_status(client, job_id)
    assert state["status"] == "done" and state["download_url"] is None
    assert state["message"] == "导入完成：共 5 行，新增 5，更新 0，未变化 0"
    assert seen[:3] == [(0, 0, "queued"), (0, 0, "running"), (0, 0, "validating")]
    assert [s for s in seen if s[2] == "writing"] == [
        (0, 5, "writing"),
        (2, 5, "writing"),
        (4, 5, "writing"),
        (5, 5, "writing"),
    ]
    page = client.get(f"/my/jobs/{job_id}").get_data(as_text=True)
    assert "查看住建厅项目表" in page
    # the file is consumed: confirming it again says so instead of queueing a job
    again = client.post("/registry-import/confirm", data={"file_id": _file_id(html)})
    assert again.status_code == 404 or "/registry-import/" in again.headers.get("Location", "")
    with app.app_context():
        from app.models import RegistryProject

        assert (
            db.session.query(RegistryProject).filter(RegistryProject.project_code.like(f"DRTEST-{prefix}-%")).count()
            == 5
        )
        db.session.query(RegistryProject).filter(RegistryProject.project_code.like(f"DRTEST-{prefix}-%")).delete(
            synchronize_session=False
        )
        db.session.commit()


def test_a_refused_import_job_shows_why(app, as_user):
    from factories.registry import _file_id, _upload, good_rows, xlsx

    client = as_user("dept_province")
    html = _upload(client, xlsx(good_rows("R" + uuid.uuid4().hex[:4].upper()))).get_data(as_text=True)
    token = _file_id(html)
    with app.app_context():
        admin = db.session.query(AppUser).filter_by(username="dept_province").one()
        run = outputs.submit(admin, "registry_import", "导入", {"token": token + "x"})
        state = (run.status, run.message)
    assert state == ("failed", "导入文件不存在，请重新上传")


# ---------------------------------------------------------------------------------------------------
# Closed months: computed once, served from the store, invalidated by a change dated in them
# ---------------------------------------------------------------------------------------------------


def _closed_month_of_new_policies():
    start = today() + timedelta(days=365) - timedelta(days=400)  # what insurance_factory issues
    month = date(start.year, start.month, 1)
    assert statistics.is_closed(month)
    return month


def _snapshot(app, report, month):
    with app.app_context():
        snap = (
            db.session.execute(
                select(StatisticsSnapshot).filter_by(report=report, month=month, scope="all", locale="zh")
            )
            .scalars()
            .first()
        )
        db.session.expunge_all()
        return snap


def test_a_closed_month_is_computed_once_and_served_from_the_store(app, as_user):
    tag = _ledger_tag(app, 1)
    month = _closed_month_of_new_policies()
    url = f"/statistics/export/?type=insurance&month={month:%Y-%m}"
    client = as_user("dept_province")
    first = client.get(url)
    job_id = job_id_of(first)  # not stored yet: made by a job (and stored on the way)
    assert job_status(client, job_id)["status"] == "done"
    snap = _snapshot(app, "insurance", month)
    assert snap is not None and not snap.stale and snap.file_key and snap.figures
    stored = client.get(url)
    assert stored.status_code == 200 and stored.mimetype.endswith("spreadsheetml.sheet")  # straight from the store
    assert 'filename="toubaotongji-' in stored.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(stored.data))
    total_before = next(r for r in wb["截止本月累计"].iter_rows(values_only=True) if r[1] == "合计")[2]
    assert wb["截止本月累计"]["A1"].value == f"截止{statistics.month_end(month):%Y年%m月%d日}数据（按登录平台顺序排序）"
    assert "统计范围：全省" in wb["截止本月累计"]["A3"].value
    details = [r[1] for r in wb["项目明细"].iter_rows(min_row=5, values_only=True)]
    assert any(tag in (name or "") for name in details)

    # the page reads the same stored figures: a row changed behind the platform's back does not show
    stored_premium = statistics_store.load_report(json.loads(snap.figures)["cumulative"]).total.figures["premium"][0]
    with app.app_context():
        db.session.execute(
            text("UPDATE policy SET premium = premium + 1000000 WHERE project_name LIKE :t"), {"t": f"{tag}%"}
        )
        db.session.commit()
    page = client.get(f"/statistics/?type=insurance&month={month:%Y-%m}").get_data(as_text=True)
    assert "已结月份" in page
    assert f"{stored_premium:,.2f}" in page
    with app.app_context():
        fresh_premium = statistics_store.compute_figures("insurance", month, f.user("admin"))[0].total.figures
    assert fresh_premium["premium"][0] == stored_premium + 1000000  # what a recomputation would have shown

    # a transition dated in that month (a surrender of one of its policies) makes it stale
    with app.app_context():
        from app.models import Policy
        from app.services import policies

        policy = db.session.execute(select(Policy).where(Policy.project_name.like(f"{tag}%"))).scalars().one()
        policies.surrender(policy.id, f.user("insurer_picc"), "依法终止经营")
    assert _snapshot(app, "insurance", month).stale
    again = client.get(url)
    new_job = job_id_of(again)  # computed afresh
    fresh = follow_job(client, again)
    total_after = next(
        r for r in load_workbook(io.BytesIO(fresh.data))["截止本月累计"].iter_rows(values_only=True) if r[1] == "合计"
    )[2]
    assert total_after == total_before - 1
    assert not _snapshot(app, "insurance", month).stale
    assert new_job != job_id


def test_what_invalidates_a_closed_month(app):
    month = _closed_month_of_new_policies()
    with app.test_request_context():
        admin = db.session.query(AppUser).filter_by(username="admin").one()
        statistics_store.figures("claims", month, admin)
        following = date(month.year + 1, month.month, 1)
        earlier = date(month.year, 1, 1) if month.month > 1 else None
        session = db.session
        # a date in the current month changes nothing
        assert statistics_store.mark_stale(session, {today()}) == 0
        session.rollback()
        # a date in the month marks that month's snapshots (and later months of its year) stale
        assert statistics_store.mark_stale(session, {month + timedelta(days=3)}) >= 1
        session.rollback()
        if earlier:
            assert statistics_store.mark_stale(session, {earlier}) >= 1  # January is inside the 截止 figures
            session.rollback()
        assert statistics_store.mark_stale(session, {following}) == 0  # next year's month: not in these figures
        session.rollback()


def test_the_current_month_is_as_of_today(app):
    day = today()
    periods = statistics.report_periods(date(day.year, day.month, 1))
    assert periods["cumulative"].end == day and periods["month"].end == day
    assert not statistics.is_closed(date(day.year, day.month, 1))
    last = date(day.year, day.month, 1) - timedelta(days=1)
    assert statistics.report_periods(date(last.year, last.month, 1))["cumulative"].end == last


# ---------------------------------------------------------------------------------------------------
# End to end on real workers: the embedded default (SQLite queue, in-process worker) and Redis
# (`flask jobs worker` in its own process)
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "redis"])
def real_queue(request, app, tmp_path):
    name = f"azx-outputs-{tmp_path.name}"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/tasks.db"
        huey = register_jobs(app, make_huey({"TASK_QUEUE_URL": url, "TASK_QUEUE_NAME": name}))
        worker = InProcessWorker(huey, workers=1).start()
        stop = worker.stop
    else:
        if not redis_up():
            pytest.skip("no Redis on 127.0.0.1:6379")
        url = "redis://127.0.0.1:6379/14"
        huey = register_jobs(app, make_huey({"TASK_QUEUE_URL": url, "TASK_QUEUE_NAME": name}))
        huey.flush()
        settings = tmp_path / "worker_config.py"
        settings.write_text(
            f"TASK_QUEUE_NAME = {name!r}\nFAB_UPDATE_PERMS = False\nAZX_SYNC_ROLES = False\nEXPORT_JOB_ROWS = 1\n"
        )
        env = dict(
            os.environ,
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            FILE_STORAGE_ROOT=app.config["FILE_STORAGE_ROOT"],
            TASK_QUEUE_URL=url,
            SECRET_KEY=app.config["SECRET_KEY"],
            AZX_CONFIG=str(settings),
            INSTANCE_DIR=str(tmp_path),
        )
        log = open(tmp_path / "worker.log", "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app:create_app", "jobs", "worker", "--workers", "1"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def stop():
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
            huey.flush()

    previous = app.extensions["huey"]
    app.extensions["huey"] = huey
    yield request.param
    stop()
    app.extensions["huey"] = previous


def _wait_done(client, job_id, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = job_status(client, job_id)
        if state["status"] in ("done", "failed"):
            return state
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {state['status']} after {seconds} s")


@pytest.mark.commits  # a worker thread or process on its own connection
def test_jobs_end_to_end_on_a_real_worker(app, as_user, small_threshold, real_queue):
    tag = _ledger_tag(app, 2)
    client = as_user("insurer_picc")
    job_id = job_id_of(client.get(f"/ledger/export/?fmt=xlsx&project={tag}"))
    state = _wait_done(client, job_id)
    assert state["status"] == "done", state
    rows = _rows(client.get(state["download_url"]).data)
    assert sorted(r[3] for r in rows[3:]) == [f"{tag}项目0", f"{tag}项目1"]

    dept = as_user("dept_province")
    job_id = job_id_of(dept.get("/statistics/export/?type=prevention&month=2031-04"))
    state = _wait_done(dept, job_id)
    assert state["status"] == "done", state
    wb = load_workbook(io.BytesIO(dept.get(state["download_url"]).data))
    assert wb.sheetnames == ["截止本月累计", "本月", "项目明细"]
