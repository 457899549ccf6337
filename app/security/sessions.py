"""Server-side sessions. Flask's signed cookie alone has no idle timeout and cannot be revoked, so each
login creates a UserSession row; the cookie carries a random token whose hash names that row. Every
request checks the row: revoked, idle longer than SESSION_IDLE_MINUTES or older than
SESSION_ABSOLUTE_HOURS means signed out. Logout revokes the row, so a copied cookie stops working.
Rows are deleted SESSION_RETENTION_DAYS after their absolute expiry (``flask security purge``)."""

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, g, has_request_context, request, session
from flask_login import login_user
from sqlalchemy import delete, update

from app import clock
from app.extensions import db
from app.models import UserSession

SESSION_KEY = "_azx_sid"
TOUCH_SECONDS = 60  # last_seen_at is written at most once a minute per session


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _idle():
    return timedelta(minutes=current_app.config.get("SESSION_IDLE_MINUTES", 30))


def _absolute():
    return timedelta(hours=current_app.config.get("SESSION_ABSOLUTE_HOURS", 12))


def start(user, method):
    """Sign the user in on a fresh session: a new token, a new row, Flask-Login's login_user."""
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    now = clock.now()
    token = secrets.token_urlsafe(32)
    record = UserSession(
        token_hash=_hash(token),
        user_id=user.id,
        method=method,
        created_at=now,
        last_seen_at=now,
        expires_at=now + _absolute(),
        ip=(request.remote_addr or "")[:45] or None,
        user_agent=(request.user_agent.string or "")[:255] or None,
    )
    db.session.add(record)
    db.session.commit()
    session[SESSION_KEY] = token
    login_user(user, remember=False)
    g.azx_session = record
    return record


def check(user_id):
    """The live UserSession of this request for user_id, or None (and the reason in g.azx_session_end)."""
    token = session.get(SESSION_KEY) if has_request_context() else None
    if not token:
        return None
    record = db.session.query(UserSession).filter_by(token_hash=_hash(token)).first()
    if record is None or record.user_id != user_id or record.revoked_at is not None:
        return None
    now = clock.now()
    reason = None
    if now >= record.expires_at:
        reason = "absolute"
    elif now - record.last_seen_at > _idle():
        reason = "idle"
    if reason:
        revoke(record, reason, now)
        g.azx_session_end = reason
        return None
    if (now - record.last_seen_at).total_seconds() >= TOUCH_SECONDS:
        db.session.execute(update(UserSession).where(UserSession.id == record.id).values(last_seen_at=now))
        db.session.commit()
    return record


def revoke(record, reason, now=None):
    db.session.execute(
        update(UserSession)
        .where(UserSession.id == record.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now or clock.now(), end_reason=reason)
    )
    db.session.commit()


def end_current(reason="logout"):
    """Revoke this browser's session row (logout) and forget the token."""
    token = session.pop(SESSION_KEY, None)
    if not token:
        return None
    record = db.session.query(UserSession).filter_by(token_hash=_hash(token)).first()
    if record is not None and record.revoked_at is None:
        revoke(record, reason)
    return record


def revoke_all(user_id, reason):
    """Sign a user out everywhere (deactivation, password reset by an administrator)."""
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=clock.now(), end_reason=reason)
    )


def current():
    return g.get("azx_session") if has_request_context() else None


def purge(retention_days=None):
    """Delete the sessions whose absolute expiry lies more than ``retention_days`` (default
    SESSION_RETENTION_DAYS) in the past: revoked, idle or not, none of them can sign anyone in. One
    DELETE, safe to run on several machines at once. Returns (deleted, cutoff)."""
    days = current_app.config.get("SESSION_RETENTION_DAYS", 30) if retention_days is None else retention_days
    cutoff = clock.now() - timedelta(days=days)
    result = db.session.execute(
        delete(UserSession).where(UserSession.expires_at < cutoff).execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount, cutoff
