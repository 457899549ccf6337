"""住建厅项目表 import (Admin and the province department): upload, preview, confirm with progress."""

from flask import Response, abort, flash, g, redirect, request, stream_with_context, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _

from app.services import registry_import
from app.services.base import ServiceError

from .base import flash_service_error

# ---------------------------------------------------------------------------------------------------
# 住建厅项目表 import (Admin and the province department)
# ---------------------------------------------------------------------------------------------------


class RegistryImportView(BaseView):
    route_base = "/registry-import"
    class_permission_name = "Registry"
    method_permission_name = {"index": "import", "upload": "import", "confirm": "import"}
    default_view = "index"

    def _page(self, result=None, file_id=None):
        return self.render_template(
            "department/registry_import.html",
            title=_("住建厅项目表导入"),
            result=result,
            file_id=file_id,
            headers=registry_import.HEADERS,
            shown=registry_import.SHOWN_ERRORS,
        )

    def _allowed_or_403(self):
        # The pages are the import itself: a department that may not import has nothing here.
        if not registry_import.can_import(g.user):
            abort(403)

    @expose("/")
    @has_access
    def index(self):
        self._allowed_or_403()
        return self._page()

    @expose("/upload", methods=["POST"])
    @has_access
    def upload(self):
        self._allowed_or_403()
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(str(_("请选择要导入的文件")), "danger")
            return redirect(url_for("RegistryImportView.index"))
        try:
            token = registry_import.store_file(upload, g.user)
            result = registry_import.preview(registry_import.load_file(token, g.user), g.user)
        except ServiceError as exc:
            flash_service_error(exc)
            return redirect(url_for("RegistryImportView.index"))
        return self._page(result, token)

    @expose("/confirm", methods=["POST"])
    @has_access
    def confirm(self):
        """Without script: import, then flash the counts. With X-Progress: 1 (the page's script): a
        streamed text/plain answer of lines "progress DONE TOTAL", then "done NEW CHANGED UNCHANGED"
        or "error MESSAGE"."""
        self._allowed_or_403()
        token = request.form.get("file_id")
        if request.headers.get("X-Progress") == "1":
            return self._confirm_streamed(token)
        try:
            result = registry_import.run_import(token, g.user)
        except ServiceError as exc:
            flash_service_error(exc)
            return redirect(url_for("RegistryImportView.index"))
        flash(_done_message(result), "success")
        return redirect(url_for("RegistryImportView.index"))

    def _confirm_streamed(self, token):
        steps = registry_import.import_steps(token, g.user)
        try:
            first = next(steps)  # the validation runs here: its errors answer with their status
        except ServiceError as exc:
            return Response(f"error {exc.message}\n", status=exc.status, mimetype="text/plain")

        def lines():
            yield "progress %d %d\n" % first
            try:
                while True:
                    yield "progress %d %d\n" % next(steps)
            except StopIteration as stop:
                result = stop.value
                yield "done %d %d %d\n" % (result.new, result.changed, result.unchanged)
            except ServiceError as exc:
                yield f"error {exc.message}\n"

        response = Response(stream_with_context(lines()), mimetype="text/plain")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Accel-Buffering"] = "no"
        return response


def _done_message(result):
    return str(
        _(
            "导入完成：共 %(total)d 行，新增 %(new)d，更新 %(changed)d，未变化 %(same)d",
            total=result.total,
            new=result.new,
            changed=result.changed,
            same=result.unchanged,
        )
    )
