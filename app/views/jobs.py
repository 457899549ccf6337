"""我的导出/导入: the user's own jobs (statistics workbooks, large exports, registry imports) — their
progress, result or failure reason, and the finished file until it expires.

A job is the user's own: every page here selects by the signed-in user's id (an administrator, too,
sees only his or her own jobs), and another user's job answers 404.
"""

from flask import abort, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _
from sqlalchemy import or_, select

from app import clock
from app.extensions import db
from app.jobs import outputs
from app.models import JobRun
from app.models.base import utcnow
from app.reports import export
from app.security.scope import valid_pk
from app.storage import get_storage

PAGE = 50


def own_job_or_404(pk):
    if not valid_pk(pk):
        abort(404)
    pk = int(pk)
    run = db.session.execute(select(JobRun).where(JobRun.id == pk, JobRun.user_id == g.user.id)).scalars().first()
    if run is None or (run.expires_at is not None and run.expires_at < utcnow()):
        abort(404)
    return run


def _when(dt):
    return clock.fmt_seconds(dt)


def job_state(run):
    """What the page and its script show of a job: state, progress, result, file."""
    done, total, phase = run.done or 0, run.total or 0, None
    if run.status in outputs.ACTIVE:
        seen = outputs.read_progress(run.id) or {}
        done, total, phase = seen.get("done", 0), seen.get("total", 0), seen.get("phase")
    percent = 100 if run.status == outputs.DONE else (int(done * 100 / total) if total else 0)
    return {
        "id": run.id,
        "title": run.title,
        "kind": str(outputs.KIND_LABELS.get(run.kind, run.kind)),
        "status": run.status,
        "status_label": str(outputs.STATUS_LABELS.get(run.status, run.status)),
        "phase": phase,
        "done": int(done),
        "total": int(total),
        "percent": min(percent, 100),
        "message": run.message or "",
        "created_at": _when(run.created_at),
        "finished_at": _when(run.finished_at),
        "expires_at": _when(run.expires_at),
        "file_name": run.file_name,
        "file_size": run.file_size,
        "download_url": url_for("MyJobsView.download", pk=run.id)
        if run.status == outputs.DONE and run.file_key
        else None,
    }


class MyJobsView(BaseView):
    """我的导出/导入."""

    route_base = "/my/jobs"
    scope_model = JobRun  # <pk> is a JobRun id (own_job_or_404: the signed-in user's only)
    class_permission_name = "MyJobs"
    method_permission_name = {"list": "read", "show": "read", "status": "read", "download": "read"}
    default_view = "list"

    @expose("/")
    @has_access
    def list(self):
        now = utcnow()
        runs = (
            db.session.execute(
                select(JobRun)
                .where(JobRun.user_id == g.user.id, or_(JobRun.expires_at.is_(None), JobRun.expires_at >= now))
                .order_by(JobRun.id.desc())
                .limit(PAGE)
            )
            .scalars()
            .all()
        )
        return self.render_template("jobs/list.html", title=_("我的导出/导入"), jobs=[job_state(r) for r in runs])

    @expose("/<pk>")
    @has_access
    def show(self, pk):
        run = own_job_or_404(pk)
        return self.render_template(
            "jobs/show.html",
            title=run.title,
            job=job_state(run),
            autodownload=request.args.get("download") == "1",
            back=_back_link(run),
        )

    @expose("/<pk>/status")
    @has_access
    def status(self, pk):
        response = jsonify(job_state(own_job_or_404(pk)))
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/<pk>/download")
    @has_access
    def download(self, pk):
        run = own_job_or_404(pk)
        if run.status != outputs.DONE or not run.file_key or not get_storage().exists(run.file_key):
            abort(404)
        suffix = "." + run.file_name.rsplit(".", 1)[-1].lower()
        return export.stream_file(
            get_storage().path(run.file_key), run.file_name, outputs.MIMETYPES.get(suffix, "application/octet-stream")
        )


def _back_link(run):
    if run.kind == "registry_import":
        return url_for("RegistryProjectView.list"), _("查看住建厅项目表")
    return url_for("MyJobsView.list"), _("我的导出/导入")


def to_job_page(run, download=True):
    """Where a request that started (or found) a job goes: its progress page."""
    return redirect(url_for("MyJobsView.show", pk=run.id, download="1" if download else None))


def export_or_job(name):
    """A list's export: streamed at once up to ``EXPORT_JOB_ROWS`` rows, above that run as a job (the
    user is taken to its progress page; asking again while it runs finds the same job)."""
    fmt = request.args.get("fmt", "xlsx")
    if fmt not in ("xlsx", "csv"):
        abort(400)
    spec = export.EXPORTS[name]
    filters = {k: v for k, v in request.args.to_dict(flat=False).items() if k != "fmt"}
    stmt, columns, title = spec.build(filters, g.user)
    limit = export.job_threshold()
    if export.count_rows(stmt, limit) > limit:
        run = outputs.submit(
            g.user, "export", f"{title}（{fmt.upper()}）", {"name": name, "filters": filters, "fmt": fmt}
        )
        return to_job_page(run)
    subtitle = export.export_subtitle(export.describe_filters(filters, spec.filter_labels), g.user)
    return export.export_response(stmt, columns, str(title), fmt, subtitle=subtitle)
