"""Timestamps of the API: instants are stored in UTC; the API speaks ISO 8601 with the platform's offset.

``isoformat`` is the ONE place an API timestamp is written (rows, cursors' neighbours, webhook
payloads, file metadata): the platform clock's ``clock.isoformat``. ``parse_instant`` is the one place
a client's timestamp is read (filters, ``since``): an offset is honoured; without one the time is the
platform zone's wall clock, and a bare date is its midnight there.
"""

import re
from datetime import UTC, date, datetime

from app import clock

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def isoformat(value):
    """An instant → '2026-04-20T08:00:00+08:00'; None stays None."""
    return clock.isoformat(value)


def to_utc(value: datetime) -> datetime:
    """An aware datetime → UTC; a naive one is the platform zone's wall clock."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=clock.zone())
    return value.astimezone(UTC)


def parse_instant(text) -> datetime:
    """An ISO 8601 date-time or date → an aware UTC instant. Raises ValueError."""
    if not isinstance(text, str) or not text or len(text) > 40:
        raise ValueError("not a timestamp")
    s = text.strip()
    if _DATE_ONLY.match(s):
        return to_utc(datetime.combine(date.fromisoformat(s), datetime.min.time()))
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    return to_utc(datetime.fromisoformat(s))


def parse_date(text) -> date:
    if not isinstance(text, str) or not _DATE_ONLY.match(text.strip()):
        raise ValueError("not a date")
    return date.fromisoformat(text.strip())
