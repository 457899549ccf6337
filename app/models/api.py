"""REST API: per-company keys and the idempotency records of API writes."""

from flask_appbuilder import Model
from sqlalchemy import Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from .base import TimestampMixin, UtcDateTime, utcnow


class ApiKey(Model):
    """A key an administrator issued to an insurer or a broker for its core system.

    Only a SHA-256 digest of the key is stored (the key is 256 random bits, so a slow hash adds
    nothing); the plaintext is shown once, at issue. Each key acts as its own service user
    (``user``), bound to the company with the company's role, so scope and permissions apply unchanged.
    """

    __tablename__ = "api_key"
    id = Column(Integer, primary_key=True)
    name = Column(String(128), nullable=False)
    company_id = Column(Integer, ForeignKey("insurance_company.id"), nullable=False, index=True)
    user_id = Column(Integer, ForeignKey("ab_user.id"), nullable=False, unique=True)
    key_hash = Column(String(64), nullable=False, unique=True)
    key_hint = Column(String(16), nullable=False)  # the first characters, to recognise a key in lists
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)
    created_by_id = Column(Integer, ForeignKey("ab_user.id"))
    last_used_at = Column(UtcDateTime)
    revoked_at = Column(UtcDateTime)

    company = relationship("InsuranceCompany")
    user = relationship("AppUser", foreign_keys=[user_id])
    created_by = relationship("AppUser", foreign_keys=[created_by_id])

    @property
    def active(self):
        return self.revoked_at is None

    def __repr__(self):
        return f"{self.name} ({self.key_hint}…)"


class IdempotencyRecord(Model):
    """The first response to an API write sent with an ``Idempotency-Key`` header, kept 24 hours.

    Keys are per acting user. ``request_hash`` fingerprints method, endpoint and body (files by
    content); ``status_code`` is NULL while the write is in progress.
    """

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),
        Index("ix_idempotency_expires", "expires_at"),
    )
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id"), nullable=False)
    key = Column(String(128), nullable=False)
    endpoint = Column(String(255), nullable=False)
    request_hash = Column(String(64), nullable=False)
    status_code = Column(Integer)
    response_body = Column(Text)
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)
    expires_at = Column(UtcDateTime, nullable=False)


class SyncTombstone(TimestampMixin, Model):
    """A row that left its readers' view (an application withdrawn to 草稿, which its insurer and broker
    no longer see): the incremental sync reports it here instead of letting it vanish.

    The party columns are copied from the row at that moment, so app/security/scope.py scopes the
    tombstone exactly as it scoped the row.
    """

    __tablename__ = "sync_tombstone"
    __table_args__ = (Index("ix_sync_tombstone_updated", "updated_at", "id"),)
    id = Column(Integer, primary_key=True)
    resource = Column(String(32), nullable=False)  # the API resource: "applications"
    row_id = Column(Integer, nullable=False)
    reason = Column(String(32), nullable=False)  # "withdrawn"
    enterprise_id = Column(Integer, ForeignKey("enterprise.id"), nullable=False)
    insurer_id = Column(Integer, ForeignKey("insurance_company.id"))
    broker_id = Column(Integer, ForeignKey("insurance_company.id"))
    region_code = Column(String(6), nullable=False)


class ApiTokenRevocation(Model):
    """The version of an account's API tokens: every token carries the version it was issued under
    (``tv``); a password change, a lockout, a deactivation or a logout bumps it (app/models/user.py),
    and every older token is refused on every worker. No row means version 0."""

    __tablename__ = "api_token_revocation"
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True)
    version = Column(Integer, nullable=False, default=0)
    revoked_at = Column(UtcDateTime)


class ApiRateCounter(Model):
    """Fixed-window request counters of the API's rate limits when no Redis is configured: one row per
    (limit, caller, window), shared by every worker through the database."""

    __tablename__ = "api_rate_counter"
    __table_args__ = (Index("ix_api_rate_counter_window", "window_start"),)
    bucket = Column(String(96), primary_key=True)
    window_start = Column(Integer, primary_key=True)  # Unix time of the window's start
    hits = Column(Integer, nullable=False, default=0)


def _sync_indexes():
    """(updated_at, id) on every table the API syncs: ``GET …/changes`` walks it in that order."""
    from .insurance import Application, Claim, Policy
    from .parties import Enterprise
    from .prevention import DispatchOrder, ServiceVisit
    from .projects import Project

    for model in (Enterprise, Project, Application, Policy, Claim, DispatchOrder, ServiceVisit):
        table = model.__table__
        Index(f"ix_{table.name}_sync", table.c.updated_at, table.c.id)


_sync_indexes()
