"""Every stored file is served here, and only here, through its owner's scope."""

from flask_appbuilder import BaseView, expose, has_access
from werkzeug.exceptions import NotFound

from app.reports.download import send_download
from app.security.audit import audit_event
from app.security.scope import get_scoped_file_or_404
from app.storage import get_storage

INLINE_TYPES = {"image/jpeg", "image/png", "application/pdf"}


class FileView(BaseView):
    route_base = "/files"
    class_permission_name = "File"
    method_permission_name = {"download": "download", "view": "download"}

    def _send(self, file_id, inline):
        try:
            f = get_scoped_file_or_404(file_id)
        except NotFound:
            audit_event("download", f"file {file_id}", result="denied")
            raise
        audit_event("download", f"file {f.id} {f.kind} {f.owner_type}:{f.owner_id} {f.original_name}")
        response = send_download(
            get_storage().open(f.key), f.original_name, f.content_type, inline=inline and f.content_type in INLINE_TYPES
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @expose("/<int:file_id>")
    @has_access
    def download(self, file_id):
        return self._send(file_id, inline=False)

    @expose("/<int:file_id>/view")
    @has_access
    def view(self, file_id):
        return self._send(file_id, inline=True)
