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
)
from sqlalchemy.orm import relationship

from .base import TimestampMixin, UtcDateTime, VersionMixin
from .enums import ProjectInsuranceStatus
from .reference import city_of


class Project(TimestampMixin, VersionMixin, Model):
    __tablename__ = "project"
    __table_args__ = (
        CheckConstraint("investment >= 0", name="ck_project_investment"),
        CheckConstraint(
            "planned_end IS NULL OR planned_start IS NULL OR planned_end >= planned_start", name="ck_project_dates"
        ),
        Index("ix_project_enterprise", "enterprise_id", "id"),
        Index("ix_project_region_status", "region_code", "insurance_status", "id"),
        Index("ix_project_status_id", "insurance_status", "id"),  # 投保状态 filter in id desc order
        # region prefixes (a city/county department's scope, the city filter) are LIKE '2301%': on
        # PostgreSQL only a pattern_ops index serves them when the collation is not C
        Index("ix_project_region_prefix", "region_code", "id", postgresql_ops={"region_code": "varchar_pattern_ops"}),
        Index(
            "ix_project_status_region",
            "insurance_status",
            "region_code",
            postgresql_ops={"region_code": "varchar_pattern_ops"},
        ),
        # a region prefix other than a city's (a county, the province) with 投保状态, deep in id order: no
        # btree serves a prefix, an equality and the id order at once, so the id walk checks both from
        # the index itself (PostgreSQL INCLUDE: an index-only scan, 4× faster than checking each row in
        # the heap). A city's prefix is an equality instead: ix_project_city_status, below.
        Index("ix_project_id_filters", "id", postgresql_include=["region_code", "insurance_status"]),
    )
    id = Column(Integer, primary_key=True)
    enterprise_id = Column(Integer, ForeignKey("enterprise.id"), nullable=False)
    region_code = Column(String(6), ForeignKey("region.code"), nullable=False)
    project_code = Column(String(64), nullable=False, index=True)
    name = Column(String(255), nullable=False, index=True)
    builder_name = Column(String(255))
    address = Column(String(255))
    scale_content = Column(Text)
    investment = Column(Numeric(16, 2), nullable=False, default=0)  # 万元
    planned_start = Column(Date)
    planned_end = Column(Date)
    # Derived from the latest application / policy; kept here so lists filter on an indexed column.
    insurance_status = Column(String(16), nullable=False, default=ProjectInsuranceStatus.UNINSURED, index=True)

    enterprise = relationship("Enterprise", lazy="joined", innerjoin=True)
    region = relationship("Region")
    # The project's latest application (its 投保状态, insurer, policy follow it): a join on the newest id
    latest_application = relationship(
        "Application",
        primaryjoin=lambda: _latest_application_join(),
        viewonly=True,
        uselist=False,
    )

    def __repr__(self):
        return self.name

    @property
    def contact(self):
        """联系方式: the latest application's contact telephone, else the enterprise's contact mobile."""
        latest = self.latest_application
        return (latest.contact_phone if latest is not None else None) or self.enterprise.contact_mobile

    @property
    def region_text(self):
        """行政区划代码 as the lists show it: the code and the county's name."""
        region = self.region
        return f"{self.region_code} {region.name}" if region is not None else self.region_code


# The departments' list filtered by city (所属地市) and 投保状态 in id order, at any depth: the city is an
# equality on its four digits (views/search.py PrefixOf filters a city so), so the walk reads only the
# matching entries (50,000 rows in at 1M projects: 15 ms against 94 ms for the id walk that checks
# every row). region_code is included so that PostgreSQL answers from the index alone.
Index(
    "ix_project_city_status",
    Project.insurance_status,
    city_of(Project.region_code),
    Project.id,
    postgresql_include=["region_code"],
)


def _latest_application_join():
    from sqlalchemy import and_, func, select
    from sqlalchemy.orm import aliased

    from .insurance import Application

    newer = aliased(Application)
    newest = select(func.max(newer.id)).where(newer.project_id == Project.id).correlate(Project).scalar_subquery()
    return and_(Application.project_id == Project.id, Application.id == newest)


class RegistryProject(TimestampMixin, Model):
    """住建厅项目表: the department's list of valid projects (basis of 项目总数 and 注册比率)."""

    __tablename__ = "registry_project"
    __table_args__ = (CheckConstraint("investment IS NULL OR investment >= 0", name="ck_registry_investment"),)
    id = Column(Integer, primary_key=True)
    project_code = Column(String(64), nullable=False, unique=True)
    name = Column(String(255), nullable=False)
    region_code = Column(String(6), ForeignKey("region.code"), nullable=False, index=True)
    enterprise_name = Column(String(128))
    credit_code = Column(String(18), index=True)
    builder_name = Column(String(255))
    investment = Column(Numeric(16, 2))
    valid = Column(Boolean, nullable=False, default=True, index=True)
    import_batch = Column(String(64))
    imported_at = Column(UtcDateTime)

    region = relationship("Region")
