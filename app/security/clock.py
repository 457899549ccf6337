"""The one clock of the login rules (sessions, lockout, challenges, password age). Tests replace
``now`` to move time instead of sleeping."""

from app.models.base import utcnow


def now():
    return utcnow()
