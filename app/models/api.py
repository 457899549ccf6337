"""REST API: per-company keys and the idempotency records of API writes."""

from flask_appbuilder import Model
from sqlalchemy import Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from .base import UtcDateTime, utcnow


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
