"""住建厅项目表 import (Admin and the province department): upload, preview, confirm with progress."""

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _

from app.jobs import outputs
from app.services import registry_import
from app.services.base import ServiceError

from .base import flash_service_error
from .jobs import to_job_page

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
        """Queue the import of the checked file as a job and show its progress page (the user may
        leave it: the result stays under 我的导出/导入). Confirming the same file twice while it runs
        finds the same job."""
        self._allowed_or_403()
        token = request.form.get("file_id")
        try:
            registry_import.load_file(token, g.user)  # the uploader's own, still there
        except ServiceError as exc:
            # the user's own preview (unknown or expired): say so and start over, rather than a bare 404
            flash(str(exc.message), "danger")
            return redirect(url_for("RegistryImportView.index"))
        run = outputs.submit(g.user, "registry_import", _("住建厅项目表导入"), {"token": token})
        return to_job_page(run, download=False)
