from flask_appbuilder.security.sqla.models import User as FabUser
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, object_session, relationship

from app import clock

from .base import UtcDateTime
from .enums import AccountState, PartyKind


class AppUser(FabUser):
    """A FAB user bound to exactly one party (none for platform administrators)."""

    __tablename__ = "ab_user"
    party_kind = Column(String(16), index=True)
    enterprise_id = Column(Integer, ForeignKey("enterprise.id"), index=True)
    company_id = Column(Integer, ForeignKey("insurance_company.id"), index=True)
    org_id = Column(Integer, ForeignKey("prevention_org.id"), index=True)
    expert_id = Column(Integer, ForeignKey("expert.id"), index=True)
    department_id = Column(Integer, ForeignKey("department.id"), index=True)
    must_change_password = Column(Boolean, nullable=False, default=False)
    password_changed_at = Column(UtcDateTime)
    locked_until = Column(UtcDateTime)
    failed_window_start = Column(UtcDateTime)
    cert_fingerprint = Column(String(64), unique=True)
    is_demo = Column(Boolean, nullable=False, default=False)

    enterprise = relationship("Enterprise", foreign_keys=[enterprise_id])
    company = relationship("InsuranceCompany", foreign_keys=[company_id])
    org = relationship("PreventionOrg", foreign_keys=[org_id])
    expert = relationship("Expert", foreign_keys=[expert_id])
    department = relationship("Department", foreign_keys=[department_id])

    @property
    def party(self):
        return {
            PartyKind.ENTERPRISE: self.enterprise,
            PartyKind.INSURER: self.company,
            PartyKind.BROKER: self.company,
            PartyKind.ORG: self.org,
            PartyKind.EXPERT: self.expert,
            PartyKind.DEPARTMENT: self.department,
        }.get(self.party_kind)

    @property
    def locked(self):
        return self.locked_until is not None and self.locked_until > clock.now()

    @property
    def account_state(self):
        """启用 / 锁定 / 停用, for the account lists."""
        if not self.active:
            return AccountState.INACTIVE
        return AccountState.LOCKED if self.locked else AccountState.ACTIVE

    @property
    def account_status(self):
        """(state, locked until, must change password): what the account list shows about sign-in."""
        return self.account_state, self.locked_until, bool(self.must_change_password)

    @property
    def full_name(self):
        return f"{self.first_name or ''}{self.last_name or ''}"

    @property
    def party_name(self):
        party = self.party
        return str(party) if party is not None else ""


def revoke_tokens(user):
    """Invalidate every API token of ``user``: its token version (``api_token_revocation``) is bumped
    when the session next flushes, so it takes effect with the change that caused it."""
    session = object_session(user)
    if session is None:
        from app.extensions import db

        session = db.session()
    if user.id is not None:
        session.info.setdefault(_PENDING, set()).add(user.id)


_PENDING = "azx_revoke_tokens"


def _persistent(target):
    state = sa_inspect(target)
    return state.persistent and target.id is not None


@event.listens_for(AppUser.password, "set")
def _password_set(target, value, oldvalue, initiator):
    if _persistent(target) and value != oldvalue:
        revoke_tokens(target)


@event.listens_for(AppUser.active, "set")
def _active_set(target, value, oldvalue, initiator):
    if _persistent(target) and not value and oldvalue is not False:
        revoke_tokens(target)


@event.listens_for(AppUser.locked_until, "set")
def _locked_set(target, value, oldvalue, initiator):
    if _persistent(target) and value is not None and value != oldvalue:
        revoke_tokens(target)


@event.listens_for(Session, "before_flush")
def _bump_token_versions(session, flush_context, instances):
    """A password change, a lockout, a deactivation or a logout: the account's tokens stop working.
    (A table of its own rather than a column of ab_user: FAB's user table stays as FAB made it.)"""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    from app import clock

    from .api import ApiTokenRevocation

    for user_id in sorted(pending):
        with session.no_autoflush:
            row = session.get(ApiTokenRevocation, user_id)
        if row is None:
            session.add(ApiTokenRevocation(user_id=user_id, version=1, revoked_at=clock.now()))
        else:
            row.version = (row.version or 0) + 1
            row.revoked_at = clock.now()


@event.listens_for(Session, "after_rollback")
def _drop_revocations(session):
    session.info.pop(_PENDING, None)
