from flask_appbuilder.security.sqla.models import User as FabUser
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String
from sqlalchemy.orm import relationship

from .base import UtcDateTime
from .enums import PartyKind


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
    def party_name(self):
        party = self.party
        return str(party) if party is not None else ""
