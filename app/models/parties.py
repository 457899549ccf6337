from flask_appbuilder import Model
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import relationship

from .base import TimestampMixin, UtcDateTime

broker_partnership = Table(
    "broker_partnership",
    Model.metadata,
    Column("broker_id", Integer, ForeignKey("insurance_company.id", ondelete="CASCADE"), primary_key=True),
    Column("insurer_id", Integer, ForeignKey("insurance_company.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Enterprise(TimestampMixin, Model):
    __tablename__ = "enterprise"
    id = Column(Integer, primary_key=True)
    name = Column(String(128), nullable=False, index=True)
    region_code = Column(String(6), ForeignKey("region.code"), index=True)
    credit_code = Column(String(18), unique=True, nullable=False)
    registered_address = Column(String(255))
    business_address = Column(String(255))
    contact_name = Column(String(64))
    contact_mobile = Column(String(20))
    contact_email = Column(String(128))
    legal_name = Column(String(64))
    legal_mobile = Column(String(20))
    business_scope = Column(Text)
    business_license_file_id = Column(Integer, ForeignKey("stored_file.id"))
    qualification_file_id = Column(Integer, ForeignKey("stored_file.id"))
    legal_id_qr_file_id = Column(Integer, ForeignKey("stored_file.id"))
    legal_id_front_file_id = Column(Integer, ForeignKey("stored_file.id"))
    legal_id_back_file_id = Column(Integer, ForeignKey("stored_file.id"))
    safety_permit_file_id = Column(Integer, ForeignKey("stored_file.id"))
    first_login_at = Column(UtcDateTime)

    region = relationship("Region")
    business_license_file = relationship("StoredFile", foreign_keys=[business_license_file_id])
    qualification_file = relationship("StoredFile", foreign_keys=[qualification_file_id])
    legal_id_qr_file = relationship("StoredFile", foreign_keys=[legal_id_qr_file_id])
    legal_id_front_file = relationship("StoredFile", foreign_keys=[legal_id_front_file_id])
    legal_id_back_file = relationship("StoredFile", foreign_keys=[legal_id_back_file_id])
    safety_permit_file = relationship("StoredFile", foreign_keys=[safety_permit_file_id])

    def __repr__(self):
        return self.name


class InsuranceCompany(TimestampMixin, Model):
    """An insurer or a broker; login_order is the 登录平台顺序 the statistics list them in."""

    __tablename__ = "insurance_company"
    id = Column(Integer, primary_key=True)
    name = Column(String(128), nullable=False, unique=True)
    short_name = Column(String(32), nullable=False, unique=True)
    kind = Column(String(16), nullable=False, index=True)
    login_order = Column(Integer, nullable=False, index=True)
    credit_code = Column(String(18), unique=True)
    contact_name = Column(String(64))
    contact_phone = Column(String(20))
    active = Column(Boolean, nullable=False, default=True)

    partner_insurers = relationship(
        "InsuranceCompany",
        secondary=broker_partnership,
        primaryjoin=id == broker_partnership.c.broker_id,
        secondaryjoin=id == broker_partnership.c.insurer_id,
        backref="partner_brokers",
    )

    def __repr__(self):
        return self.short_name


class PreventionOrg(TimestampMixin, Model):
    __tablename__ = "prevention_org"
    id = Column(Integer, primary_key=True)
    name = Column(String(128), nullable=False, unique=True)
    credit_code = Column(String(18), unique=True)
    region_code = Column(String(6), ForeignKey("region.code"), index=True)
    address = Column(String(255))
    contact_name = Column(String(64))
    contact_phone = Column(String(20))
    active = Column(Boolean, nullable=False, default=True)

    region = relationship("Region")

    def __repr__(self):
        return self.name


class Expert(TimestampMixin, Model):
    """专业技术人员. Belongs to a prevention org or to an insurer. 删除 = 解约 (active=False)."""

    __tablename__ = "expert"
    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False, index=True)
    mobile = Column(String(20))
    id_number = Column(String(18), nullable=False, unique=True)
    title_level_id = Column(Integer, ForeignKey("title_level.id"), nullable=False)
    qualification = Column(String(255))
    residence = Column(String(255))  # 常驻地点
    service_area = Column(String(255))  # 服务地点
    org_id = Column(Integer, ForeignKey("prevention_org.id"), index=True)
    company_id = Column(Integer, ForeignKey("insurance_company.id"), index=True)
    id_file_id = Column(Integer, ForeignKey("stored_file.id"))
    cert_file_id = Column(Integer, ForeignKey("stored_file.id"))
    active = Column(Boolean, nullable=False, default=True, index=True)

    title_level = relationship("TitleLevel", lazy="joined")
    org = relationship("PreventionOrg")
    company = relationship("InsuranceCompany")
    id_file = relationship("StoredFile", foreign_keys=[id_file_id])
    cert_file = relationship("StoredFile", foreign_keys=[cert_file_id])

    @property
    def affiliation(self):
        return self.org or self.company

    def __repr__(self):
        return self.name


class Department(TimestampMixin, Model):
    """住建厅 (province) or 住建局 (city/county); sees everything inside region_code."""

    __tablename__ = "department"
    id = Column(Integer, primary_key=True)
    name = Column(String(128), nullable=False, unique=True)
    region_code = Column(String(6), ForeignKey("region.code"), nullable=False, index=True)

    region = relationship("Region", lazy="joined")

    def __repr__(self):
        return self.name
