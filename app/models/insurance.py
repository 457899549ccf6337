from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from app import clock

from .base import TimestampMixin, UtcDateTime, VersionMixin
from .enums import ApplicationStatus, PolicyStatus

APPLICATION_FILE_SLOTS = (
    "business_license",
    "contract",
    "legal_id_back",
    "legal_id_front",
    "safety_permit",
    "construction_qualification",
    "agreement",
)


class Application(TimestampMixin, VersionMixin, Model):
    """投保申请 (在线填报). enterprise_id and region_code are copied from the project for scoping."""

    __tablename__ = "application"
    __table_args__ = (
        Index("ix_application_insurer", "insurer_id", "status", "id"),
        Index("ix_application_broker", "broker_id", "status", "id"),
        Index("ix_application_enterprise", "enterprise_id", "id"),
        Index("ix_application_region", "region_code", "status", "id"),
        # the lists' default order (id desc) inside each party's scope
        Index("ix_application_insurer_id", "insurer_id", "id"),
        Index("ix_application_broker_id", "broker_id", "id"),
        Index(
            "ix_application_region_prefix", "region_code", "id", postgresql_ops={"region_code": "varchar_pattern_ops"}
        ),
    )
    id = Column(Integer, primary_key=True)
    project_id = Column(Integer, ForeignKey("project.id"), nullable=False, index=True)
    enterprise_id = Column(Integer, ForeignKey("enterprise.id"), nullable=False)
    region_code = Column(String(6), nullable=False)
    broker_id = Column(Integer, ForeignKey("insurance_company.id"))
    insurer_id = Column(Integer, ForeignKey("insurance_company.id"), nullable=False)
    plan_id = Column(Integer, ForeignKey("plan.id"), nullable=False)
    contact_phone = Column(String(20))
    business_license_file_id = Column(Integer, ForeignKey("stored_file.id"))
    contract_file_id = Column(Integer, ForeignKey("stored_file.id"))
    legal_id_back_file_id = Column(Integer, ForeignKey("stored_file.id"))
    legal_id_front_file_id = Column(Integer, ForeignKey("stored_file.id"))
    safety_permit_file_id = Column(Integer, ForeignKey("stored_file.id"))
    construction_qualification_file_id = Column(Integer, ForeignKey("stored_file.id"))
    agreement_file_id = Column(Integer, ForeignKey("stored_file.id"))
    agreed = Column(Boolean, nullable=False, default=False)
    status = Column(String(16), nullable=False, default=ApplicationStatus.DRAFT)
    review_opinion = Column(Text)
    submitted_at = Column(UtcDateTime)
    reviewed_at = Column(UtcDateTime)

    project = relationship("Project", lazy="joined", innerjoin=True)
    enterprise = relationship("Enterprise")
    broker = relationship("InsuranceCompany", foreign_keys=[broker_id])
    insurer = relationship("InsuranceCompany", foreign_keys=[insurer_id])
    plan = relationship("Plan", lazy="joined", innerjoin=True)
    business_license_file = relationship("StoredFile", foreign_keys=[business_license_file_id])
    contract_file = relationship("StoredFile", foreign_keys=[contract_file_id])
    legal_id_back_file = relationship("StoredFile", foreign_keys=[legal_id_back_file_id])
    legal_id_front_file = relationship("StoredFile", foreign_keys=[legal_id_front_file_id])
    safety_permit_file = relationship("StoredFile", foreign_keys=[safety_permit_file_id])
    construction_qualification_file = relationship("StoredFile", foreign_keys=[construction_qualification_file_id])
    agreement_file = relationship("StoredFile", foreign_keys=[agreement_file_id])
    policy = relationship("Policy", back_populates="application", uselist=False)

    def __repr__(self):
        return f"{self.project.name if self.project else self.id}"


class Policy(TimestampMixin, VersionMixin, Model):
    """保单, with its 保单台帐 ledger number CB-YYYYMMDD-HHMMSS-XXXXXXX."""

    __tablename__ = "policy"
    __table_args__ = (
        UniqueConstraint("insurer_id", "policy_no", name="uq_policy_insurer_no"),
        CheckConstraint("premium >= 0", name="ck_policy_premium"),
        CheckConstraint("end_date > start_date", name="ck_policy_dates"),
        Index("ix_policy_insurer", "insurer_id", "id"),
        Index("ix_policy_broker", "broker_id", "id"),
        Index("ix_policy_enterprise", "enterprise_id", "id"),
        Index("ix_policy_region", "region_code", "id"),
        Index("ix_policy_start", "start_date"),
        Index("ix_policy_region_prefix", "region_code", "id", postgresql_ops={"region_code": "varchar_pattern_ops"}),
    )
    id = Column(Integer, primary_key=True)
    application_id = Column(Integer, ForeignKey("application.id"), nullable=False, unique=True)
    project_id = Column(Integer, ForeignKey("project.id"), nullable=False, index=True)
    enterprise_id = Column(Integer, ForeignKey("enterprise.id"), nullable=False)
    region_code = Column(String(6), nullable=False)
    insurer_id = Column(Integer, ForeignKey("insurance_company.id"), nullable=False)
    broker_id = Column(Integer, ForeignKey("insurance_company.id"))
    plan_id = Column(Integer, ForeignKey("plan.id"), nullable=False)
    builder_name = Column(String(255), nullable=False)
    project_name = Column(String(255), nullable=False, index=True)
    project_code = Column(String(64), nullable=False)
    premium = Column(Numeric(14, 2), nullable=False)
    proposed_premium = Column(Numeric(14, 2))
    float_ratio = Column(Numeric(6, 4), nullable=False, default=0)
    premium_deviation_reason = Column(Text)
    start_date = Column(Date, nullable=False)
    end_date = Column(Date, nullable=False)
    policy_no = Column(String(64), nullable=False)
    policy_file_id = Column(Integer, ForeignKey("stored_file.id"))
    agreement_file_id = Column(Integer, ForeignKey("stored_file.id"))
    ledger_no = Column(String(32), nullable=False, unique=True)
    status = Column(String(16), nullable=False, default=PolicyStatus.ACTIVE, index=True)
    surrender_reason = Column(Text)

    application = relationship("Application", back_populates="policy")
    project = relationship("Project", lazy="joined", innerjoin=True)
    enterprise = relationship("Enterprise")
    insurer = relationship("InsuranceCompany", foreign_keys=[insurer_id])
    broker = relationship("InsuranceCompany", foreign_keys=[broker_id])
    plan = relationship("Plan", lazy="joined", innerjoin=True)
    policy_file = relationship("StoredFile", foreign_keys=[policy_file_id])
    agreement_file = relationship("StoredFile", foreign_keys=[agreement_file_id])
    claims = relationship("Claim", back_populates="policy", order_by="Claim.id")
    # the newest dispatch order of the policy (投保项目's 事故预防状态): a join on the newest id
    latest_order = relationship("DispatchOrder", primaryjoin=lambda: _latest_order_join(), viewonly=True, uselist=False)

    def __repr__(self):
        return self.policy_no

    def current_status(self, today=None):
        """已到期 as soon as the 终止日期 has passed, even before the scheduled expiry ran."""
        if self.status == PolicyStatus.ACTIVE and self.end_date < (today or clock.today()):
            return PolicyStatus.EXPIRED
        return self.status

    @property
    def shown_status(self):
        return self.current_status()

    @property
    def latest_order_status(self):
        return self.latest_order.status if self.latest_order is not None else None

    @property
    def contact_phone(self):
        """联系电话: the application's, else the enterprise's contact mobile."""
        return (self.application.contact_phone if self.application else None) or self.enterprise.contact_mobile


def _latest_order_join():
    from sqlalchemy import and_, func, select
    from sqlalchemy.orm import aliased

    from .prevention import DispatchOrder

    newer = aliased(DispatchOrder)
    newest = select(func.max(newer.id)).where(newer.policy_id == Policy.id).correlate(Policy).scalar_subquery()
    return and_(DispatchOrder.policy_id == Policy.id, DispatchOrder.id == newest)


class Claim(TimestampMixin, Model):
    __tablename__ = "claim"
    __table_args__ = (
        CheckConstraint("injured_count >= 0 AND death_count >= 0", name="ck_claim_counts"),
        CheckConstraint("estimated_loss IS NULL OR estimated_loss >= 0", name="ck_claim_estimate"),
        CheckConstraint("settled_amount IS NULL OR settled_amount >= 0", name="ck_claim_settled"),
        Index("ix_claim_policy", "policy_id", "id"),
        Index("ix_claim_insurer", "insurer_id", "id"),
        Index("ix_claim_region", "region_code", "submitted_date"),
    )
    id = Column(Integer, primary_key=True)
    policy_id = Column(Integer, ForeignKey("policy.id"), nullable=False)
    insurer_id = Column(Integer, ForeignKey("insurance_company.id"), nullable=False)
    enterprise_id = Column(Integer, ForeignKey("enterprise.id"), nullable=False, index=True)
    region_code = Column(String(6), nullable=False)
    injured_count = Column(Integer, nullable=False, default=0)  # 伤残人数
    death_count = Column(Integer, nullable=False, default=0)
    estimated_loss = Column(Numeric(14, 2))
    settled_date = Column(Date)
    settled_amount = Column(Numeric(14, 2))
    submitted_date = Column(Date, nullable=False)
    accident_date = Column(Date)
    remark = Column(String(500))

    policy = relationship("Policy", back_populates="claims")
