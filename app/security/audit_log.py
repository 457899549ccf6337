"""The security audit trail: who (user, party), what, when, from where, with what result.

``audit_event(action, detail, result)`` writes one AuditEvent in its own short transaction, so an
audit record survives the caller's rollback and never commits the caller's pending work. Records
are kept AUDIT_RETENTION_DAYS (``flask security purge-audit``), are read-only in the UI
(AuditEventView has only read permissions) and are visible to administrators and the province
department only (scope: AuditEvent is sees_all only).
"""
import logging

from flask import has_request_context, request

from app.extensions import db

log = logging.getLogger(__name__)


def _client_ip():
    if not has_request_context():
        return None
    # behind the reverse proxy the platform's own proxy sets X-Forwarded-For (ProxyFix decides trust)
    return (request.remote_addr or "")[:45] or None


def audit_event(action, detail="", result="ok", user=None):
    from app.models import AuditEvent
    from app.models.base import utcnow
    from app.security.scope import current_user_obj, party_of

    user = user if user is not None else current_user_obj()
    party = party_of(user) if user is not None else None
    row = dict(
        created_at=utcnow(), action=str(action)[:32], result=str(result)[:16],
        user_id=getattr(user, "id", None), username=getattr(user, "username", None),
        party_kind=party.kind if party else None,
        party_name=(getattr(user, "party_name", "") or "")[:128] if user is not None else None,
        ip=_client_ip(), detail=str(detail or "")[:2000],
    )
    try:
        with db.engine.begin() as conn:  # its own transaction: independent of the caller's session
            conn.execute(AuditEvent.__table__.insert().values(**row))
    except Exception:  # noqa: BLE001 - auditing must not break the download itself; it is logged instead
        log.exception("audit event not recorded: %s", row)
