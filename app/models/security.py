"""Server-side login state: one row per signed-in browser session and one per CA login challenge."""

from flask_appbuilder import Model
from sqlalchemy import Column, ForeignKey, Integer, String

from .base import UtcDateTime, utcnow


class UserSession(Model):
    """A signed-in session. The cookie carries a random token; only its SHA-256 is stored here."""

    __tablename__ = "user_session"
    id = Column(Integer, primary_key=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, index=True)
    method = Column(String(16), nullable=False)
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)
    last_seen_at = Column(UtcDateTime, nullable=False, default=utcnow)
    expires_at = Column(UtcDateTime, nullable=False, index=True)
    revoked_at = Column(UtcDateTime)
    end_reason = Column(String(16))
    ip = Column(String(45))
    user_agent = Column(String(255))


class LoginChallenge(Model):
    """A one-time nonce for the signed-challenge certificate login."""

    __tablename__ = "login_challenge"
    nonce = Column(String(64), primary_key=True)
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)
    expires_at = Column(UtcDateTime, nullable=False, index=True)
    used_at = Column(UtcDateTime)
    ip = Column(String(45))
