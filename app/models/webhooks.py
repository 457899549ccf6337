"""Webhooks: the endpoints a company registered, the outbox of events, and every delivery attempt.

An event is written to ``webhook_event`` in the same transaction as the change it reports (app/services/
base.py calls app/api/webhooks.py), one row per receiving company; each of that company's active
endpoints subscribed to the event gets a ``webhook_delivery`` row, sent by the task queue after the
commit. Nothing is sent for a change that rolled back, and nothing committed is lost: a delivery
stays ``pending`` until it succeeds or runs out of attempts.
"""

from flask_appbuilder import Model
from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from .base import UtcDateTime, utcnow


class WebhookEndpoint(Model):
    __tablename__ = "webhook_endpoint"
    id = Column(Integer, primary_key=True)
    company_id = Column(Integer, ForeignKey("insurance_company.id"), nullable=False, index=True)
    url = Column(String(500), nullable=False)
    description = Column(String(200))
    events = Column(String(500), nullable=False)  # space-separated event types
    secret_encrypted = Column(Text, nullable=False)  # Fernet under a key derived from SECRET_KEY
    secret_hint = Column(String(16), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)
    created_by_id = Column(Integer, ForeignKey("ab_user.id"))
    disabled_at = Column(UtcDateTime)

    company = relationship("InsuranceCompany")
    created_by = relationship("AppUser")

    @property
    def event_list(self):
        return (self.events or "").split()

    def __repr__(self):
        return self.url


class WebhookEvent(Model):
    """The outbox: one event for one receiving company. ``event_id`` is what receivers deduplicate on."""

    __tablename__ = "webhook_event"
    __table_args__ = (
        UniqueConstraint("company_id", "dedupe_key", name="uq_webhook_event_dedupe"),
        Index("ix_webhook_event_company", "company_id", "id"),
    )
    id = Column(Integer, primary_key=True)
    event_id = Column(String(36), nullable=False, unique=True)
    company_id = Column(Integer, ForeignKey("insurance_company.id"), nullable=False)
    event_type = Column(String(48), nullable=False)
    dedupe_key = Column(String(96))  # events raised by a scan (policy.expiring) are raised once
    payload = Column(Text, nullable=False)  # the JSON body sent
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)


class WebhookDelivery(Model):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_delivery"),
        Index("ix_webhook_delivery_endpoint", "endpoint_id", "id"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )
    id = Column(Integer, primary_key=True)
    event_id = Column(Integer, ForeignKey("webhook_event.id", ondelete="CASCADE"), nullable=False)
    endpoint_id = Column(Integer, ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), nullable=False)
    status = Column(String(16), nullable=False, default="pending")  # pending / delivered / failed
    attempts = Column(Integer, nullable=False, default=0)
    last_status_code = Column(Integer)
    last_error = Column(String(500))
    last_attempt_at = Column(UtcDateTime)
    next_attempt_at = Column(UtcDateTime)
    delivered_at = Column(UtcDateTime)
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)

    event = relationship("WebhookEvent")
    endpoint = relationship("WebhookEndpoint")
