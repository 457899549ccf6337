"""The platform's time for outputs: "exported at" stamps, local times in cells, today's date.

One place for the reports to ask, so that they follow the platform clock (``app/clock.py``) once it
is there; until then the platform zone is ``PLATFORM_TIMEZONE`` (Asia/Shanghai by default).
Stored instants are naive UTC (``app.models.base.utcnow``).
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

try:  # the platform clock, when it has landed
    from app import clock as _clock
except ImportError:  # pragma: no cover - depends on the branch
    _clock = None

DEFAULT_ZONE = "Asia/Shanghai"


def zone():
    name = current_app.config.get("PLATFORM_TIMEZONE", DEFAULT_ZONE) if has_app_context() else DEFAULT_ZONE
    return ZoneInfo(name or DEFAULT_ZONE)


def now_utc() -> datetime:
    """The aware UTC instant."""
    if _clock is not None:
        return _clock.now()
    return datetime.now(UTC)


def local(dt: datetime) -> datetime:
    """A stored instant (naive UTC or aware) as a naive wall-clock time in the platform's zone."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(zone()).replace(tzinfo=None)


def now_local() -> datetime:
    return local(now_utc())


def today():
    """Today in the platform's zone."""
    if _clock is not None:
        return _clock.today()
    return now_local().date()
