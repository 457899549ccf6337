from typing import NamedTuple

from flask_appbuilder import Model
from flask_babel import gettext
from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import relationship

from app import clock

from .base import TimestampMixin, UtcDateTime, VersionMixin, utcnow
from .enums import HazardStatus, OrderStatus, ReviewStage, Verdict

order_service_item = Table(
    "order_service_item",
    Model.metadata,
    Column("order_id", Integer, ForeignKey("dispatch_order.id", ondelete="CASCADE"), primary_key=True),
    Column("service_item_id", Integer, ForeignKey("service_item.id"), primary_key=True),
)


class DispatchOrder(TimestampMixin, VersionMixin, Model):
    """派单. The insurer dispatches to an org (or its own expert); the org assigns it to an expert.

    A refused or timed-out order is closed; 再派单 creates a new order whose parent is the old one.
    """

    __tablename__ = "dispatch_order"
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="ck_order_dates"),
        CheckConstraint("fee >= 0", name="ck_order_fee"),
        Index("ix_order_insurer", "insurer_id", "status", "id"),
        Index("ix_order_org", "org_id", "status", "id"),
        Index("ix_order_expert", "expert_id", "status", "id"),
        Index("ix_order_enterprise", "enterprise_id", "id"),
        Index("ix_order_region", "region_code", "status", "id"),
        Index("ix_order_deadline", "status", "deadline"),
        # the lists' default order (id desc) inside each party's scope
        Index("ix_order_insurer_id", "insurer_id", "id"),
        Index("ix_order_org_id", "org_id", "id"),
        Index("ix_order_expert_id", "expert_id", "id"),
        Index("ix_order_region_prefix", "region_code", "id", postgresql_ops={"region_code": "varchar_pattern_ops"}),
    )
    id = Column(Integer, primary_key=True)
    order_no = Column(String(32), nullable=False, unique=True)
    parent_id = Column(Integer, ForeignKey("dispatch_order.id"), index=True)
    policy_id = Column(Integer, ForeignKey("policy.id"), nullable=False, index=True)
    project_id = Column(Integer, ForeignKey("project.id"), nullable=False, index=True)
    enterprise_id = Column(Integer, ForeignKey("enterprise.id"), nullable=False)
    region_code = Column(String(6), nullable=False)
    insurer_id = Column(Integer, ForeignKey("insurance_company.id"), nullable=False)
    org_id = Column(Integer, ForeignKey("prevention_org.id"))
    expert_id = Column(Integer, ForeignKey("expert.id"))
    service_place = Column(String(255), nullable=False)
    start_date = Column(Date, nullable=False)
    end_date = Column(Date, nullable=False)
    deadline = Column(Date, nullable=False)  # 截止日期: accept by this date, or 超时
    required_title_id = Column(Integer, ForeignKey("title_level.id"))
    fee = Column(Numeric(14, 2), nullable=False, default=0)
    status = Column(String(16), nullable=False, default=OrderStatus.PENDING)
    refuse_reason = Column(Text)
    accepted_at = Column(UtcDateTime)
    completed_at = Column(UtcDateTime)

    parent = relationship("DispatchOrder", remote_side=[id])
    policy = relationship("Policy")
    project = relationship("Project", lazy="joined", innerjoin=True)
    enterprise = relationship("Enterprise")
    insurer = relationship("InsuranceCompany")
    org = relationship("PreventionOrg")
    expert = relationship("Expert")
    required_title = relationship("TitleLevel")
    service_items = relationship("ServiceItem", secondary=order_service_item, lazy="selectin")
    visit = relationship("ServiceVisit", back_populates="order", uselist=False)
    hazards = relationship("Hazard", back_populates="order", order_by="Hazard.seq")
    reviews = relationship("Review", back_populates="order", order_by="Review.id")
    latest_review = relationship("Review", primaryjoin=lambda: _latest_review_join(), viewonly=True, uselist=False)

    @property
    def service_items_text(self):
        return " ".join(item.name for item in self.service_items)

    @property
    def latest_return(self):
        """Why the order is back with the party that must act now, or None: in 服务中 the newest
        review when it was a 不通过 (the org's or the insurer's), in 待整改 the hazards the expert
        returned (验收不合格). (who, when, opinion)."""
        review = self.latest_review
        if self.status == OrderStatus.IN_SERVICE and review is not None and review.verdict == Verdict.FAIL:
            party = self.org if review.stage == ReviewStage.ORG else self.insurer
            person = review.reviewer.full_name if review.reviewer is not None else ""
            who = " ".join(str(x) for x in (party.name if party else "", person) if x)
            return Returned(who, review.created_at, review.opinion or "")
        if self.status == OrderStatus.RECTIFYING:
            returned = [h for h in self.hazards if h.status == HazardStatus.RETURNED]
            if returned:
                newest = max(returned, key=lambda h: h.accepted_at or h.updated_at)
                who = self.expert.name if self.expert is not None else ""
                opinion = "；".join(f"{h.seq}. {h.acceptance_note or ''}" for h in returned)
                return Returned(who, newest.accepted_at, opinion)
        return None

    @property
    def return_opinion(self):
        """退回意见 as one line for the lists: who (when): opinion."""
        found = self.latest_return
        if found is None:
            return ""
        when = clock.fmt(found.at) if found.at else ""
        return f"{found.who}（{when}）：{found.opinion}"

    @property
    def rectification_result(self):
        """整改是否合格: 合格 when every hazard is accepted, else how many are not (None without hazards)."""
        if not self.hazards:
            return gettext("无隐患")
        open_count = sum(1 for h in self.hazards if h.status != HazardStatus.PASSED)
        return gettext("合格") if not open_count else gettext("%(n)s 项未合格", n=open_count)

    def __repr__(self):
        return self.order_no


class Returned(NamedTuple):
    who: str
    at: object
    opinion: str


def _latest_review_join():
    from sqlalchemy import and_, func, select
    from sqlalchemy.orm import aliased

    newer = aliased(Review)
    newest = select(func.max(newer.id)).where(newer.order_id == DispatchOrder.id).correlate(DispatchOrder)
    return and_(Review.order_id == DispatchOrder.id, Review.id == newest.scalar_subquery())


class ServiceVisit(TimestampMixin, Model):
    """The expert's site visit: 签到 (photo, position, time), 服务过程记录 and the report."""

    __tablename__ = "service_visit"
    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("dispatch_order.id"), nullable=False, unique=True)
    signin_photo_file_id = Column(Integer, ForeignKey("stored_file.id"))
    signin_lat = Column(Float)
    signin_lon = Column(Float)
    signin_time = Column(UtcDateTime)
    signin_source = Column(String(16))  # exif / browser
    signin_address = Column(String(255))
    service_record = Column(Text)  # 服务过程记录
    conclusion = Column(Text)
    report_file_id = Column(Integer, ForeignKey("stored_file.id"))
    signed_scan_file_id = Column(Integer, ForeignKey("stored_file.id"))
    submitted_at = Column(UtcDateTime)

    order = relationship("DispatchOrder", back_populates="visit")
    signin_photo_file = relationship("StoredFile", foreign_keys=[signin_photo_file_id])
    report_file = relationship("StoredFile", foreign_keys=[report_file_id])
    signed_scan_file = relationship("StoredFile", foreign_keys=[signed_scan_file_id])
    # every signed report the expert uploaded, newest first: replaced ones stay in the order's history
    signed_scan_versions = relationship(
        "StoredFile",
        primaryjoin="and_(foreign(StoredFile.owner_id) == ServiceVisit.id, StoredFile.owner_type == 'service_visit', "
        "StoredFile.kind == 'report_scan')",
        order_by="StoredFile.id.desc()",
        viewonly=True,
    )

    @property
    def replaced_scans(self):
        """The signed reports the current one replaced, newest first."""
        return [f for f in self.signed_scan_versions if f.id != self.signed_scan_file_id]


class Hazard(TimestampMixin, VersionMixin, Model):
    __tablename__ = "hazard"
    __table_args__ = (
        Index("ix_hazard_order", "order_id", "seq"),
        Index("ix_hazard_region", "region_code", "category_id"),
    )
    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("dispatch_order.id"), nullable=False)
    region_code = Column(String(6), nullable=False)
    seq = Column(Integer, nullable=False)
    level = Column(String(16), nullable=False)
    category_id = Column(Integer, ForeignKey("hazard_category.id"), nullable=False)
    standard_id = Column(Integer, ForeignKey("major_hazard_standard.id"))
    description = Column(Text, nullable=False)
    suggestion = Column(Text)
    status = Column(String(16), nullable=False, default=HazardStatus.OPEN, index=True)
    rectification = Column(Text)  # 整改情况
    rectified_at = Column(UtcDateTime)
    acceptance_note = Column(Text)  # 验收信息
    accepted_at = Column(UtcDateTime)

    order = relationship("DispatchOrder", back_populates="hazards")
    category = relationship("HazardCategory", lazy="joined")
    standard = relationship("MajorHazardStandard")
    photos = relationship("HazardPhoto", back_populates="hazard", order_by="HazardPhoto.id")


class HazardPhoto(Model):
    __tablename__ = "hazard_photo"
    id = Column(Integer, primary_key=True)
    hazard_id = Column(Integer, ForeignKey("hazard.id", ondelete="CASCADE"), nullable=False, index=True)
    file_id = Column(Integer, ForeignKey("stored_file.id"), nullable=False)
    kind = Column(String(16), nullable=False)  # hazard / rectification

    hazard = relationship("Hazard", back_populates="photos")
    file = relationship("StoredFile")


class Review(Model):
    __tablename__ = "review"
    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("dispatch_order.id"), nullable=False, index=True)
    stage = Column(String(16), nullable=False)
    verdict = Column(String(8), nullable=False)
    opinion = Column(Text)
    reviewer_id = Column(Integer, ForeignKey("ab_user.id"))
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)

    order = relationship("DispatchOrder", back_populates="reviews")
    reviewer = relationship("AppUser", foreign_keys=[reviewer_id], viewonly=True)
