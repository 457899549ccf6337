from flask_appbuilder import Model
from sqlalchemy import Column, ForeignKey, Index, Integer, String, Text

from .base import UtcDateTime, utcnow


class FlowEvent(Model):
    """One state change of an application, policy, order, hazard or report: the 流程 timeline."""

    __tablename__ = "flow_event"
    __table_args__ = (Index("ix_flow_event_entity", "entity_type", "entity_id", "id"),)
    id = Column(Integer, primary_key=True)
    entity_type = Column(String(32), nullable=False)
    entity_id = Column(Integer, nullable=False)
    action = Column(String(32), nullable=False)
    from_status = Column(String(32))
    to_status = Column(String(32))
    user_id = Column(Integer, ForeignKey("ab_user.id"), index=True)
    username = Column(String(64))
    party_kind = Column(String(16))
    party_name = Column(String(128))
    comment = Column(Text)
    created_at = Column(UtcDateTime, nullable=False, default=utcnow, index=True)


class AuditEvent(Model):
    """Security audit: logins, failures, lockouts, password changes, exports, downloads, API writes."""

    __tablename__ = "audit_event"
    # by action, newest last: the audit log's filter, and the newest event of an action in one index step
    # (figures_cache.generation)
    __table_args__ = (Index("ix_audit_event_action_id", "action", "id"),)
    id = Column(Integer, primary_key=True)
    created_at = Column(UtcDateTime, nullable=False, default=utcnow, index=True)
    action = Column(String(32), nullable=False)
    result = Column(String(16), nullable=False, default="ok")
    # the record outlives the account: username and party stay when an account is deleted
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    username = Column(String(64), index=True)
    party_kind = Column(String(16))
    party_name = Column(String(128))
    ip = Column(String(45))
    detail = Column(Text)
