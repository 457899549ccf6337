"""A brief, per-process cache for aggregate figures that are costly at scale (list statistics, the
dashboard), kept honest by a generation: the ids of the newest FlowEvent, the newest AuditEvent of an
action that changes figures (``FIGURE_ACTIONS``) and the newest Application. Every status change writes
a FlowEvent in the same transaction as the change; a registry import and an enterprise's first sign-in
(附件 2's 已登录建筑单位, created or not) record an AuditEvent of their own; a new draft application (which
writes neither) takes the next application id. So a cached figure is reused only while none of those
has happened since it was computed — and never longer than ``FIGURES_CACHE_SECONDS`` (edits that
record neither, such as a draft project's investment or a claim's amounts, show within that time).
Other sign-ins, exports, downloads and API calls change no figure and leave the cache alone.

Each worker process keeps its own entries (bounded in number); nothing is shared or written
anywhere, so there is nothing to invalidate across processes.
"""

import threading
import time
from collections import OrderedDict

from flask import current_app, g, has_request_context
from sqlalchemy import func, select

from app.extensions import db

MAX_ENTRIES = 2048
_entries: OrderedDict[object, tuple] = OrderedDict()  # key -> (expires_at, generation, value)
_lock = threading.Lock()


# the audit actions after which figures differ (app/security/audit.py ACTIONS)
FIGURE_ACTIONS = ("registry_import", "first_sign_in")


def generation():
    """The newest FlowEvent id, the newest id of an AuditEvent in ``FIGURE_ACTIONS`` and the newest
    Application id (index lookups in one query: ``ix_audit_event_action_id`` serves one max per action),
    once per request."""
    from app.models import Application, AuditEvent, FlowEvent

    if has_request_context() and "_figures_generation" in g:
        return g._figures_generation
    audit = [
        select(func.max(AuditEvent.id)).where(AuditEvent.action == action).scalar_subquery()
        for action in FIGURE_ACTIONS
    ]
    flow, *audited, application = db.session.execute(
        select(
            select(func.max(FlowEvent.id)).scalar_subquery(), *audit, select(func.max(Application.id)).scalar_subquery()
        )
    ).one()
    value = (flow, max((n or 0 for n in audited), default=0), application)
    if has_request_context():
        g._figures_generation = value
    return value


def get(key, compute, ttl=None):
    """The cached value of ``key`` when still fresh, else ``compute()`` (stored for the next caller)."""
    ttl = current_app.config.get("FIGURES_CACHE_SECONDS", 30) if ttl is None else ttl
    if not ttl:
        return compute()
    gen = generation()
    now = time.monotonic()
    with _lock:
        hit = _entries.get(key)
        if hit is not None and hit[0] > now and hit[1] == gen:
            _entries.move_to_end(key)
            return hit[2]
    value = compute()
    with _lock:
        _entries[key] = (now + ttl, gen, value)
        _entries.move_to_end(key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear():
    with _lock:
        _entries.clear()
