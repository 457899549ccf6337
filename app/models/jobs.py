"""Long work's records: a user's exports and imports run as jobs (我的导出/导入), and the closed months'
statistics kept once computed, the 数据大屏 figures kept per scope."""

from flask_appbuilder import Model
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from .base import UtcDateTime, utcnow


class JobRun(Model):
    """One export, workbook or import run as a job for a user: its state, progress, result and file."""

    __tablename__ = "job_run"
    __table_args__ = (Index("ix_job_run_user", "user_id", "id"),)
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    kind = Column(String(24), nullable=False)  # export | statistics | registry_import
    title = Column(String(255), nullable=False)
    params = Column(Text, nullable=False, default="{}")  # JSON: what to run (filters, format, month …)
    # set while queued or running: a second identical request finds the running job by it
    active_key = Column(String(64), unique=True)
    status = Column(String(16), nullable=False, default="queued")  # queued | running | done | failed
    done = Column(BigInteger, nullable=False, default=0)
    total = Column(BigInteger, nullable=False, default=0)
    message = Column(Text)  # the result in words, or the reason of the failure
    file_key = Column(String(100))
    file_name = Column(String(255))
    file_size = Column(BigInteger)
    created_at = Column(UtcDateTime, nullable=False, default=utcnow, index=True)
    started_at = Column(UtcDateTime)
    finished_at = Column(UtcDateTime)
    expires_at = Column(UtcDateTime, index=True)

    user = relationship("AppUser", lazy="joined")


class StatisticsSnapshot(Model):
    """A closed month's 统计报告 for one scope: its figures (JSON) and its workbook (a stored file).

    ``figures`` is NULL while the first computation runs; ``stale`` is set by a change dated in the
    month (or in the months its figures include), and the next request computes it again."""

    __tablename__ = "statistics_snapshot"
    __table_args__ = (
        UniqueConstraint("report", "month", "scope", "locale", name="uq_statistics_snapshot"),
        Index("ix_statistics_snapshot_month", "month"),
    )
    id = Column(Integer, primary_key=True)
    report = Column(String(16), nullable=False)  # insurance | prevention | claims
    month = Column(Date, nullable=False)  # the month's first day
    scope = Column(String(16), nullable=False)  # "all" or a department's region prefix
    locale = Column(String(8), nullable=False)
    stale = Column(Boolean, nullable=False, default=False)
    figures = Column(Text)
    file_key = Column(String(100))
    file_size = Column(BigInteger)
    detail_rows = Column(Integer)
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)
    computed_at = Column(UtcDateTime)


class KeptFigures(Model):
    """Figures of one scope as they stood at ``generation`` (app/services/kept_figures.py): the 数据大屏's
    and an open month's 统计报告; every request of the scope reads them; the task queue computes them
    again once the generation moves on, so that no request waits for the aggregates over the fact tables."""

    __tablename__ = "kept_figures"
    # what and whose: "dashboard|all", "report|insurance|2026-12-01|zh|2301" (kind, arguments, scope)
    key = Column(String(120), primary_key=True)
    figures = Column(Text, nullable=False)  # JSON
    generation = Column(String(64), nullable=False)  # of figures_cache.generation() when computing began
    computed_at = Column(UtcDateTime, nullable=False, default=utcnow)
    refresh_queued_at = Column(UtcDateTime)  # set while a refresh is queued or running
