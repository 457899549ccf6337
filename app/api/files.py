"""A row's files through the API: listed and downloaded through the scope of the row that owns them.

``GET /api/v1/<resource>/<pk>/files`` lists them (slot, name, type, size, sha256, download URL);
``GET /api/v1/<resource>/<pk>/files/<file_id>`` sends one with Content-Type, Content-Length, an
ETag (its SHA-256; ``If-None-Match`` answers 304) and Content-Disposition. The row must be in the
caller's scope and the file must be one of that row's: any other id answers 404, exactly like one
that does not exist. Every download is audited as on the web (app/views/files.py).
"""

import os

from flask import current_app, request, url_for

from app.security.audit import audit_event
from app.storage import get_storage

from .problems import Problem
from .rows import plain_value


def files_of(resource, obj):
    """[(slot, StoredFile)] of the row: its file relationships, then what the resource adds."""
    out = []
    for rel in resource.file_relations:
        stored = getattr(obj, rel)
        if stored is not None:
            out.append((rel[: -len("_file")] if rel.endswith("_file") else rel, stored))
    extra = getattr(resource, "extra_files", None)
    if extra is not None:
        out += extra(obj)
    return out


def describe_file(resource, pk, slot, stored):
    return {
        "id": stored.id,
        "slot": slot,
        "name": stored.original_name,
        "content_type": stored.content_type,
        "size": int(stored.size),
        "sha256": stored.sha256,
        "created_at": plain_value(stored.created_at),
        "url": url_for(f"{type(resource).__name__}.file", pk=pk, file_id=stored.id, _external=True),
    }


def send(stored, slot, send_file):
    etag = stored.sha256
    if request.if_none_match and request.if_none_match.contains(etag):
        response = current_app.response_class(status=304)
        response.set_etag(etag)
        return response
    try:
        handle = get_storage().open(stored.key)
    except (OSError, ValueError):
        raise Problem("not_found") from None
    audit_event("download", f"api file {stored.id} {stored.kind} {stored.owner_type}:{stored.owner_id} {slot}")
    response = send_file(
        handle,
        mimetype=stored.content_type,
        as_attachment=True,
        download_name=stored.original_name,
        max_age=0,
        etag=False,
        conditional=False,
    )
    response.set_etag(etag)
    response.headers["Content-Length"] = str(os.fstat(handle.fileno()).st_size)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
