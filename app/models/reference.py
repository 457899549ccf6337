from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    literal_column,
)
from sqlalchemy.orm import relationship

from .enums import RegionLevel

CITY_DIGITS = 4  # a 行政区划代码's city: its first four digits (2301 of 230102)


def city_of(column):
    """The city code of a region-code column, as SQL. Literal positions: the same text in SELECT and
    GROUP BY on PostgreSQL (bound parameters would differ), and the text of the index that serves the
    departments' city filter on projects (``ix_project_city_status``)."""
    return func.substr(column, literal_column("1"), literal_column(str(CITY_DIGITS)))


class Region(Model):
    __tablename__ = "region"
    code = Column(String(6), primary_key=True)
    name = Column(String(64), nullable=False)
    level = Column(String(16), nullable=False, index=True)
    parent_code = Column(String(6), ForeignKey("region.code"), index=True)
    parent = relationship("Region", remote_side=[code])

    @property
    def prefix(self):
        """The code prefix that selects everything inside this region."""
        if self.level == RegionLevel.PROVINCE:
            return self.code[:2]
        if self.level == RegionLevel.CITY:
            return self.code[:CITY_DIGITS]
        return self.code

    @property
    def full_name(self):
        names, node = [], self
        while node is not None:
            names.append(node.name)
            node = node.parent
        return "".join(reversed(names))

    def __repr__(self):
        return f"{self.code} {self.name}"


class Plan(Model):
    """方案 A/B/C. Values are sample values until the province publishes its own."""

    __tablename__ = "plan"
    __table_args__ = (
        UniqueConstraint("code", "effective_from"),
        CheckConstraint("rate >= 0"),
        CheckConstraint("min_premium >= 0"),
        CheckConstraint("death_limit >= 0"),
        CheckConstraint("medical_limit >= 0"),
    )
    id = Column(Integer, primary_key=True)
    code = Column(String(8), nullable=False, index=True)
    name = Column(String(64), nullable=False)
    death_limit = Column(Numeric(14, 2), nullable=False)  # 元 per person, death/disability
    medical_limit = Column(Numeric(14, 2), nullable=False)  # 元 per person, medical
    rate = Column(Numeric(10, 6), nullable=False)  # fraction of the investment in 元 (0.0015 = 1.5‰)
    min_premium = Column(Numeric(14, 2), nullable=False, default=0)
    details = Column(Text, default="")
    effective_from = Column(Date, nullable=False)
    effective_to = Column(Date)
    is_sample = Column(Boolean, nullable=False, default=True)

    @property
    def short_label(self):
        """The manual's list shows a plan as "C:1000,6…": code and limits in 万元."""
        return f"{self.code}:{int(self.death_limit / 10000)},{int(self.medical_limit / 10000)}"

    def __repr__(self):
        return f"{self.name}"


class ServiceItem(Model):
    __tablename__ = "service_item"
    id = Column(Integer, primary_key=True)
    code = Column(String(16), unique=True, nullable=False)
    name = Column(String(64), nullable=False)
    sort_order = Column(Integer, nullable=False, default=0)
    active = Column(Boolean, nullable=False, default=True)

    def __repr__(self):
        return self.name


class HazardCategory(Model):
    """GB 6441-86 accident categories, used as hazard categories."""

    __tablename__ = "hazard_category"
    id = Column(Integer, primary_key=True)
    code = Column(String(8), unique=True, nullable=False)
    name = Column(String(32), nullable=False)
    active = Column(Boolean, nullable=False, default=True)

    def __repr__(self):
        return self.name


class TitleLevel(Model):
    """职称. rank orders them: an order requiring rank r accepts experts of rank >= r."""

    __tablename__ = "title_level"
    id = Column(Integer, primary_key=True)
    code = Column(String(16), unique=True, nullable=False)
    name = Column(String(32), nullable=False)
    rank = Column(Integer, nullable=False)

    def __repr__(self):
        return self.name


class MajorHazardStandard(Model):
    """重大事故隐患判定标准, versioned: (version, area, item, text)."""

    __tablename__ = "major_hazard_standard"
    __table_args__ = (UniqueConstraint("version", "item"),)
    id = Column(Integer, primary_key=True)
    version = Column(String(64), nullable=False, index=True)
    area = Column(String(64), nullable=False)
    item = Column(String(32), nullable=False)
    text = Column(Text, nullable=False)
    active = Column(Boolean, nullable=False, default=True)

    def __repr__(self):
        return f"{self.item} {self.area}"


class FloatRule(Model):
    """Premium floating ratio by the enterprise's accidents of the prior year (sample values)."""

    __tablename__ = "float_rule"
    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False)
    min_deaths = Column(Integer, nullable=False, default=0)
    min_injuries = Column(Integer, nullable=False, default=0)
    ratio = Column(Numeric(6, 4), nullable=False, default=0)  # 0.10 = +10 %
    sort_order = Column(Integer, nullable=False, default=0)
    is_sample = Column(Boolean, nullable=False, default=True)

    def __repr__(self):
        return self.name


class Setting(Model):
    """Editable platform settings (prevention fee share, premium tolerance …)."""

    __tablename__ = "setting"
    key = Column(String(64), primary_key=True)
    value = Column(String(255), nullable=False)
    description = Column(String(255), default="")

    def __repr__(self):
        return self.key
