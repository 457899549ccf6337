"""The platform's one clock.

Instants are stored as UTC (``models.base.UtcDateTime``: timestamptz on PostgreSQL) and shown everywhere —
pages, exports, workbooks, PDFs, ledger and order numbers, the API — in the platform's zone, ``TIMEZONE``
(Asia/Shanghai unless configured otherwise). "Today" is always the platform zone's date: between 00:00 and
08:00 Beijing time the UTC date is still yesterday.

Tests move time by replacing ``now`` (``monkeypatch.setattr(clock, "now", …)``); everything else reads it
through this module.
"""

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"
MINUTE = "%Y-%m-%d %H:%M"
SECOND = "%Y-%m-%d %H:%M:%S"


@lru_cache(maxsize=8)
def _zone(name):
    return ZoneInfo(name)


def zone() -> ZoneInfo:
    """The platform's time zone (config ``TIMEZONE``)."""
    from flask import current_app, has_app_context

    name = current_app.config.get("TIMEZONE") if has_app_context() else None
    return _zone(name or DEFAULT_ZONE)


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date in the platform's zone."""
    return local(now()).date()


def as_utc(value: datetime | None) -> datetime | None:
    """An instant in UTC; a naive value is taken to be UTC already (as stored)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def local(value: datetime | None) -> datetime | None:
    """The instant as wall-clock time of the platform's zone."""
    return None if value is None else as_utc(value).astimezone(zone())


def fmt(value, pattern: str = MINUTE) -> str:
    """An instant (or a date) as the platform zone's wall clock, "" for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local(value).strftime(pattern)
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    return str(value)


def fmt_seconds(value) -> str:
    return fmt(value, SECOND)


def isoformat(value: datetime | None) -> str | None:
    """ISO 8601 with the platform zone's offset (the API's timestamps), to the second."""
    return None if value is None else local(value).isoformat(timespec="seconds")


def naive_utc(value: datetime | None = None) -> datetime:
    """UTC without tzinfo, for Flask-AppBuilder's own columns (ab_user), which are naive."""
    return as_utc(value or now()).replace(tzinfo=None)
