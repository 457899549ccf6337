"""Timestamps of the API: the database stores naive UTC; the API speaks ISO 8601 with an offset.

``isoformat`` is the ONE place an API timestamp is written (rows, cursors, webhook payloads, file
metadata); ``parse_instant`` the one place a client's timestamp is read (filters, ``since``). The
platform's zone is Asia/Shanghai (UTC+08:00, no daylight saving) unless PLATFORM_TIMEZONE says
otherwise. When app/clock.py is on the branch, ``isoformat`` delegates to ``clock.isoformat``.
"""

import re
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, has_app_context

DEFAULT_ZONE = "Asia/Shanghai"
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def zone():
    name = current_app.config.get("PLATFORM_TIMEZONE", DEFAULT_ZONE) if has_app_context() else DEFAULT_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone(timedelta(hours=8), "CST")


def isoformat(value):
    """A stored naive-UTC (or aware) datetime → '2026-04-20T08:00:00+08:00'; None stays None."""
    if value is None:
        return None
    try:  # the platform clock, once it exists, is the single source of the display zone
        from app import clock  # type: ignore[attr-defined]

        return clock.isoformat(value)
    except ImportError:
        pass
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone()).isoformat()


def to_utc_naive(value: datetime) -> datetime:
    """An aware datetime → naive UTC, as stored; a naive one is taken to be in the platform's zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone())
    return value.astimezone(UTC).replace(tzinfo=None)


def parse_instant(text) -> datetime:
    """An ISO 8601 date-time (offset optional; without one, the platform's zone) or a date (its start
    in the platform's zone) → naive UTC. Raises ValueError."""
    if not isinstance(text, str) or not text or len(text) > 40:
        raise ValueError("not a timestamp")
    s = text.strip()
    if _DATE_ONLY.match(s):
        return to_utc_naive(datetime.combine(date.fromisoformat(s), datetime.min.time()))
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    value = datetime.fromisoformat(s)
    return to_utc_naive(value)


def parse_date(text) -> date:
    if not isinstance(text, str) or not _DATE_ONLY.match(text.strip()):
        raise ValueError("not a date")
    return date.fromisoformat(text.strip())
