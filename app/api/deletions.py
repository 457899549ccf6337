"""Deletions (tombstones): rows that left the caller's view, for the incremental sync.

An application withdrawn by its enterprise (撤回, back to 草稿) is no longer visible to its insurer
and broker; ``GET /api/v1/deletions/changes`` tells them so, in the same (updated_at, id) order and
with the same cursor as every other resource's ``changes``. A row that comes back (the application
submitted again) reappears in its own resource's changes with a later ``updated_at``.
"""

from app.models import SyncTombstone

from .base import ScopedModelRestApi

COLUMNS = ["id", "resource", "row_id", "reason", "created_at", "updated_at"]


class DeletionApi(ScopedModelRestApi):
    resource_name = "deletions"
    model = SyncTombstone
    class_permission_name = "ApiDeletion"
    openapi_spec_tag = "Sync"
    summary_name = "tombstone"
    list_columns = COLUMNS
    show_columns = COLUMNS
    search_columns = ["resource", "row_id", "reason", "created_at"]
    order_columns = ["id", "created_at"]


def record_tombstone(resource, row, reason):
    """A tombstone for ``row`` (uncommitted: the caller's transaction writes it with the change)."""
    from app.extensions import db
    from app.models.base import utcnow

    now = utcnow()
    db.session.add(
        SyncTombstone(
            resource=resource,
            row_id=row.id,
            reason=reason,
            enterprise_id=row.enterprise_id,
            insurer_id=getattr(row, "insurer_id", None),
            broker_id=getattr(row, "broker_id", None),
            region_code=row.region_code,
            created_at=now,
            updated_at=now,
        )
    )
