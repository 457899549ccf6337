"""Long outputs as jobs: 统计报告 workbooks, large list exports and the registry import.

``submit(user, kind, title, params)`` records a ``JobRun`` for the user and queues ``run_output``; a
second identical request while the first is queued or running returns that one (``active_key`` is
unique while a job is active). The job reports its progress into the queue's own storage (Redis, or
the SQLite file of the embedded default — never the application database, whose writers an import
holds), writes its file to a temporary path and moves it into the file store only once complete
(``statistics_store.put_file``): no half-written file is ever visible. A failure records its reason
(the database unreachable, the disk full, a refused import …) on the row, shown on the user's
我的导出/导入 page; the temporary file is removed. Finished files expire after ``JOB_FILE_HOURS``;
``purge_outputs`` (``flask jobs purge``) removes them.

Kinds:
- ``statistics``: {report, month, locale} → the workbook (closed months through the store);
- ``export``: {name, filters, fmt, locale} → a named export of ``reports.export.EXPORTS``;
- ``registry_import``: {token, locale} → ``services.registry_import.import_steps``.
"""

import errno
import hashlib
import json
import logging
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app, g
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from app.extensions import db
from app.models import AppUser, JobRun
from app.models.base import utcnow

from . import job

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
ACTIVE = (QUEUED, RUNNING)
STATUS_LABELS = {QUEUED: _("排队中"), RUNNING: _("进行中"), DONE: _("已完成"), FAILED: _("失败")}
KIND_LABELS = {"export": _("导出"), "statistics": _("统计报告"), "registry_import": _("导入")}
MIMETYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv; charset=utf-8",
}
# A running job reports its progress at every chunk of rows, a few seconds apart: one silent this long
# lost its worker (a restart, a kill). A queued one waits for a worker; a queue this deep is gone too.
LOST_AFTER = {RUNNING: timedelta(minutes=15), QUEUED: timedelta(hours=6)}
LOST_MESSAGE = _("任务中断（处理进程已停止），请重新提交")


class JobFailure(Exception):
    """A failure with a reason for the user."""


@dataclass
class Outcome:
    path: str | None = None  # the finished temporary file (moved into the store by the runner)
    file_name: str | None = None
    message: str | None = None
    done: int = 0
    total: int = 0


# ---------------------------------------------------------------------------------------------------
# Progress: in the queue's storage, read by the status endpoint
# ---------------------------------------------------------------------------------------------------


def _progress_key(job_id):
    return f"azx-job-progress:{job_id}"


def report_progress(job_id, done, total, phase=None):
    try:
        current_app.extensions["huey"].put(
            _progress_key(job_id), {"done": int(done), "total": int(total or 0), "phase": phase, "at": time.time()}
        )
    except Exception:  # progress is a courtesy: a queue hiccup must not fail the job
        log.warning("progress of job %s not recorded", job_id, exc_info=True)


def read_progress(job_id):
    try:
        return current_app.extensions["huey"].get(_progress_key(job_id), peek=True)
    except Exception:
        return None


def _clear_progress(job_id):
    try:
        current_app.extensions["huey"].get(_progress_key(job_id))  # get without peek removes it
    except Exception:
        pass


# ---------------------------------------------------------------------------------------------------
# Submitting
# ---------------------------------------------------------------------------------------------------


def current_locale():
    return str(get_locale() or "zh")


def _active_key(user_id, kind, params):
    canonical = json.dumps([user_id, kind, params], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:64]


def lost(run, now=None):
    """Whether an active job's worker is gone: no progress reported (or, before any, since it was made)
    for LOST_AFTER of its status."""
    now = time.time() if now is None else now
    seen = (read_progress(run.id) or {}).get("at") or run.created_at.timestamp()
    return run.status in LOST_AFTER and now - seen > LOST_AFTER[run.status].total_seconds()


def submit(user, kind, title, params):
    """Queue ``kind`` for ``user`` (or return the same request's job while it runs; one whose worker is gone
    is failed and queued afresh). Returns the JobRun."""
    params = dict(params, locale=params.get("locale") or current_locale())
    key = _active_key(user.id, kind, params)
    running = db.session.execute(select(JobRun).where(JobRun.active_key == key)).scalars().first()
    if running is not None:
        if not lost(running):
            return running
        _finish(running.id, FAILED, message=str(LOST_MESSAGE))
    run = JobRun(
        user_id=user.id,
        kind=kind,
        title=str(title)[:255],
        params=json.dumps(params, ensure_ascii=False, default=str),
        active_key=key,
        status=QUEUED,
        created_at=utcnow(),
    )
    db.session.add(run)
    try:
        db.session.flush()
        job_id = run.id  # read before the commit expires the row: no transaction left open while it runs
        db.session.commit()
    except IntegrityError:  # the same request, a moment earlier, from another worker
        db.session.rollback()
        return db.session.execute(select(JobRun).where(JobRun.active_key == key)).scalars().one()
    report_progress(job_id, 0, 0, "queued")
    try:
        run_output.enqueue(job_id)
    except Exception as exc:
        log.exception("job %s could not be queued", job_id)
        _finish(job_id, FAILED, message=str(_("任务队列不可用，请稍后重试")) + f" ({type(exc).__name__})")
    db.session.expire_all()
    return db.session.get(JobRun, job_id)


# ---------------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------------


def failure_reason(exc):
    """The reason a user is shown for a failed job."""
    if isinstance(exc, JobFailure):
        return str(exc)
    from app.services.base import ServiceError

    if isinstance(exc, ServiceError):
        return str(exc.message)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return str(_("磁盘空间不足，文件未生成"))
    if isinstance(exc, OperationalError):
        return str(_("数据库暂时无法访问，任务未完成，请稍后重试"))
    if isinstance(exc, DBAPIError):
        return str(_("数据库错误，任务未完成（%(e)s）", e=type(exc.orig).__name__))
    if isinstance(exc, OSError):
        return str(_("文件写入失败：%(e)s", e=exc.strerror or type(exc).__name__))
    return str(_("处理失败（%(e)s），请联系管理员", e=type(exc).__name__))


def _finish(job_id, status, attempts=3, **values):
    """Record the end of a job; retried briefly (the database may be back a moment later)."""
    values.update(status=status, active_key=None, finished_at=utcnow())
    if status == DONE:
        values["expires_at"] = utcnow() + timedelta(hours=current_app.config.get("JOB_FILE_HOURS", 72))
    for attempt in range(attempts):
        try:
            db.session.execute(
                update(JobRun).where(JobRun.id == job_id).values(**values).execution_options(synchronize_session=False)
            )
            db.session.commit()
            return True
        except DBAPIError:
            db.session.rollback()
            log.warning("job %s: recording %s failed (attempt %d)", job_id, status, attempt + 1, exc_info=True)
            time.sleep(0.5 * (attempt + 1))
    return False


HANDLERS = {}


def handler(kind):
    def decorate(func):
        HANDLERS[kind] = func
        return func

    return decorate


@job(retries=0)
def run_output(job_id):
    """Run one recorded job to its end: done with its file, or failed with its reason."""
    run = db.session.get(JobRun, job_id)
    if run is None or run.status not in ACTIVE:
        return None
    db.session.execute(update(JobRun).where(JobRun.id == job_id).values(status=RUNNING, started_at=utcnow()))
    db.session.commit()
    user_id, kind, params = run.user_id, run.kind, json.loads(run.params or "{}")
    report_progress(job_id, 0, 0, "running")
    workdir = tempfile.mkdtemp(prefix=f"azx-job-{job_id}-")
    outcome = None
    try:
        user = db.session.get(AppUser, user_id)
        if user is None or not user.is_active:
            raise JobFailure(_("账号已停用"))
        with (
            current_app.test_request_context(query_string=params.get("filters") or {}),
            force_locale(params.get("locale") or "zh"),
        ):
            g.user = user
            outcome = HANDLERS[kind](job_id, user, params, workdir)
            values = dict(done=outcome.done, total=outcome.total, message=outcome.message)
            if outcome.path is not None:
                key = f"job{job_id}-{secrets.token_hex(16)}{os.path.splitext(outcome.file_name)[1]}"
                from app.services.statistics_store import put_file

                values.update(file_key=key, file_name=outcome.file_name, file_size=put_file(outcome.path, key))
    except Exception as exc:
        db.session.rollback()
        reason = failure_reason(exc)
        log.warning("job %s (%s) failed: %s", job_id, kind, reason, exc_info=not isinstance(exc, JobFailure))
        report_progress(job_id, 0, 0, "failed")
        _finish(job_id, FAILED, message=reason)
        return None
    finally:
        _remove_tree(workdir)
    if not _finish(job_id, DONE, **values):
        if values.get("file_key"):
            _delete_file(values["file_key"])
        return None
    _clear_progress(job_id)
    return job_id


def _remove_tree(path):
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _delete_file(key):
    from app.storage import get_storage

    get_storage().delete(key)


def user_may(user, permission, view_menu):
    """Whether ``user`` holds ``permission`` on ``view_menu`` (checked again when the job runs: a
    permission withdrawn meanwhile stops it)."""
    admin = current_app.config.get("AUTH_ROLE_ADMIN", "Admin")
    for role in user.roles:
        if role.name == admin:
            return True
        for pv in role.permissions:
            if pv.permission.name == permission and pv.view_menu.name == view_menu:
                return True
    return False


# ---------------------------------------------------------------------------------------------------
# The kinds
# ---------------------------------------------------------------------------------------------------


@handler("statistics")
def _statistics(job_id, user, params, workdir):
    from app.services import statistics_store

    if not user_may(user, "can_export", "Statistics"):
        raise JobFailure(_("没有导出统计报告的权限"))
    report = params["report"]
    month = date.fromisoformat(params["month"])
    name = statistics_store.workbook_name(report, month)
    path = os.path.join(workdir, "workbook.xlsx")
    seen = {"total": 0}

    def progress(done, total):
        seen["total"] = total or 0
        report_progress(job_id, done, total, "rows")

    rows = statistics_store.workbook_for(report, month, user, path, progress)
    return Outcome(path, name, str(_("共 %(n)s 行项目明细", n=f"{rows:,}")), rows, max(seen["total"], rows))


@handler("export")
def _export(job_id, user, params, workdir):
    from app.reports import export

    spec = export.EXPORTS.get(params["name"])
    if spec is None:
        raise JobFailure(_("未知的导出"))
    if not user_may(user, *spec.permission):
        raise JobFailure(_("没有导出权限"))
    fmt = "csv" if params.get("fmt") == "csv" else "xlsx"
    filters = params.get("filters") or {}
    stmt, columns, title = spec.build(filters, user)
    cols = export.columns_of(columns)
    total = export.count_rows(stmt, 10**9)
    report_progress(job_id, 0, total, "rows")
    path = os.path.join(workdir, f"export.{fmt}")

    def progress(n):
        report_progress(job_id, n, total, "rows")

    rows = export.iter_rows(stmt, cols)
    if fmt == "csv":
        export.write_csv(path, cols, rows, progress)
        n = total
    else:
        subtitle = export.export_subtitle(export.describe_filters(filters, spec.filter_labels), user)
        n = export.write_xlsx(path, cols, rows, title=str(title), subtitle=subtitle, progress=progress)
    from app.security.audit import audit_event

    audit_event("export", f"{title}.{fmt} ({n} rows, job {job_id})", user=user)
    return Outcome(path, f"{title}.{fmt}", str(_("共 %(n)s 行", n=f"{n:,}")), n, total)


@handler("registry_import")
def _registry_import(job_id, user, params, workdir):
    from app.services import registry_import

    report_progress(job_id, 0, 0, "validating")
    steps = registry_import.import_steps(params["token"], user)
    done, total = 0, 0
    try:
        while True:
            done, total = next(steps)
            report_progress(job_id, done, total, "writing")
    except StopIteration as stop:
        result = stop.value
    message = str(
        _(
            "导入完成：共 %(total)d 行，新增 %(new)d，更新 %(changed)d，未变化 %(same)d",
            total=result.total,
            new=result.new,
            changed=result.changed,
            same=result.unchanged,
        )
    )
    return Outcome(None, None, message, done, total)


# ---------------------------------------------------------------------------------------------------
# Purging
# ---------------------------------------------------------------------------------------------------


@job(retries=0)
def purge_outputs():
    """Remove expired jobs with their files, jobs whose worker died, and stale statistics snapshots."""
    from app.services.statistics_store import purge_stale

    now = utcnow()
    expired = db.session.execute(
        select(JobRun.id, JobRun.file_key).where(JobRun.expires_at.isnot(None), JobRun.expires_at < now)
    ).all()
    for job_id, key in expired:
        db.session.execute(JobRun.__table__.delete().where(JobRun.id == job_id))
        db.session.commit()
        if key:
            _delete_file(key)
    gone = 0
    for run in db.session.execute(
        select(JobRun).where(JobRun.status.in_(ACTIVE), JobRun.created_at < now - min(LOST_AFTER.values()))
    ).scalars():
        if lost(run):
            gone += _finish(run.id, FAILED, message=str(LOST_MESSAGE))
    snapshots = purge_stale()
    return {"expired": len(expired), "lost": gone, "snapshots": snapshots}


@job(retries=0)
def warm_statistics(month=None):
    """Store the province-wide ("all" scope) workbooks of a closed month (default: the last one), so
    that the first clerk to ask after month end is served at once. Returns one line per report."""
    from app.clock import today
    from app.models.user import AppUser as User
    from app.services import statistics, statistics_store

    if month:
        day = statistics.parse_month(month)
    else:
        first = today().replace(day=1)
        day = (first - timedelta(days=1)).replace(day=1)
    if not statistics.is_closed(day):
        return [f"{day:%Y-%m} is not closed yet: nothing stored"]
    admin_role = current_app.config.get("AUTH_ROLE_ADMIN", "Admin")
    acting = next(
        (
            u
            for u in db.session.execute(select(User).where(User.active.is_(True))).scalars()
            if any(r.name == admin_role for r in u.roles)
        ),
        None,
    )
    if acting is None:
        return ["no active administrator to compute the province's figures as"]
    lines = []
    for report in statistics.REPORT_TYPES:
        with current_app.test_request_context(), force_locale("zh"):
            g.user = acting
            workdir = tempfile.mkdtemp(prefix="azx-warm-")
            try:
                rows = statistics_store.workbook_for(report, day, acting, os.path.join(workdir, "w.xlsx"))
            finally:
                _remove_tree(workdir)
        lines.append(f"{report} {day:%Y-%m}: stored ({rows} detail rows)")
    return lines
