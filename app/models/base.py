from sqlalchemy import Column, DateTime, Integer
from sqlalchemy.orm import declared_attr
from sqlalchemy.types import TypeDecorator

from app import clock


def utcnow():
    """The column default of every timestamp: the platform clock's current UTC instant."""
    return clock.now()


class UtcDateTime(TypeDecorator):
    """An instant: stored in UTC (timestamptz on PostgreSQL; naive UTC text on SQLite), read back
    timezone-aware in UTC on both. A naive value written is taken to be UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = clock.as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return clock.as_utc(value)


class TimestampMixin:
    created_at = Column(UtcDateTime, nullable=False, default=utcnow, index=True)
    updated_at = Column(UtcDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class VersionMixin:
    """Optimistic locking: services compare-and-set on (id, status, version)."""

    version = Column(Integer, nullable=False, default=1)

    @declared_attr
    def __mapper_args__(cls):
        return {"version_id_col": cls.version}
