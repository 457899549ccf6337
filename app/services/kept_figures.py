"""Figures kept per scope, so that no request waits for aggregates over the fact tables: the 数据大屏's,
and the 统计报告's of a month still open (a closed month's are kept by ``statistics_store``).

Both aggregate every registry row, project, enterprise, claim and hazard in scope: ≈ 1 s at 1,000,000
projects. A wall display asks every minute, several departments at once, a clerk opens the month's
report again and again, and each worker process used to compute them again on its own after any change
anywhere. So each scope's figures are kept in ``KeptFigures`` under a key naming what they are (the
kind, its arguments, the scope), with the generation they were computed at (``figures_cache.generation``:
the newest FlowEvent, figure-changing AuditEvent and Application). A request reads its key's row (one primary-key read);
when the generation has moved on, or the row is older than ``FIGURES_CACHE_SECONDS``, it queues one
refresh (a compare-and-set on ``refresh_queued_at``, so that a hundred requests queue one job) and is
served the figures it has, which carry the time they were computed (数据截至). Only the very first
request of a key computes them itself.

Scopes are those of the closed-month statistics (``statistics_store.scope_key``): "all" for the province
department and Admin, a department's region prefix otherwise; any other party the permission was granted
to is computed from its rows and reused briefly by the worker (figures_cache): its figures follow its
own rows, not a region.
"""

import json
import logging
import time
from collections import namedtuple
from datetime import date, timedelta
from decimal import Decimal

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.jobs import job
from app.models import AppUser, KeptFigures
from app.models.base import utcnow
from app.security.scope import party_of

from . import figures_cache
from .statistics_store import scope_key

log = logging.getLogger(__name__)
# a refresh queued this long ago and not finished is taken for lost (its worker died) and queued again
REFRESH_LOST_AFTER = timedelta(minutes=5)


def _dump(figures):
    return json.dumps(figures, default=lambda v: {"decimal": str(v)}, ensure_ascii=False, sort_keys=True)


def _load(text):
    return json.loads(text, object_hook=lambda d: Decimal(d["decimal"]) if d.keys() == {"decimal"} else d)


# compute(user, *args) -> the figures; dump(figures) -> text; load(text) -> the figures
Kind = namedtuple("Kind", "compute dump load")


def _dashboard(user):
    from . import statistics

    return statistics.dashboard_from_rows(user)


def _report(user, report_type, month, locale):
    """(截止 report, month report) of an open month, in ``locale`` (the key's: a job has no request)."""
    from . import statistics_store

    with force_locale(locale):
        return statistics_store.compute_figures(report_type, date.fromisoformat(month), user)


def _kind(name):
    from . import statistics_store

    return {
        "dashboard": Kind(_dashboard, _dump, _load),
        "report": Kind(_report, statistics_store.dump_figures, statistics_store.load_figures),
    }[name]


# Raised whenever a kind's figures change shape: a row stored by another version is computed again in
# the request, never served (its keys may not be the ones the page reads).
FIGURES_VERSION = "1"


def _generation():
    return FIGURES_VERSION + ":" + ",".join(str(part or 0) for part in figures_cache.generation())


def _of_this_version(snap):
    return snap.generation.split(":", 1)[0] == FIGURES_VERSION


def _ttl():
    return current_app.config.get("FIGURES_CACHE_SECONDS", 30)


def key_of(kind, args, scope):
    return "|".join((kind, *args, scope))


def figures(user, kind, args=(), wait=0):
    """(figures, as_of): ``user``'s figures of ``kind`` (with ``args``, strings) and when they were
    computed. A department's (and Admin's) come from the scope's kept row, refreshed in the background
    when out of date — a request that queued the refresh waits up to ``wait`` seconds for it (a page
    looked at right after a change shows that change; the wall's refreshes do not wait); another
    party's come from the per-process figures cache."""
    compute, dump, load = _kind(kind)
    scope, user_id = scope_key(user), user.id  # the id read before any commit below expires the user
    if scope is None or not _ttl():
        party = party_of(user)
        cache_key = (kind, *args, party.kind, party.id, party.sees_all, party.region_prefix)
        return figures_cache.get(cache_key, lambda: (compute(user, *args), utcnow()))
    key = key_of(kind, args, scope)
    generation = _generation()
    snap = db.session.get(KeptFigures, key)
    if snap is None or not _of_this_version(snap):
        now = utcnow()
        values = compute(user, *args)
        _store(snap, key, generation, dump(values), now)
        return values, now
    out_of_date = snap.generation != generation or snap.computed_at < utcnow() - timedelta(seconds=_ttl())
    if out_of_date and _claim_refresh(key):
        try:
            refresh_figures.enqueue(kind, list(args), scope, user_id)
        except Exception:  # the queue is down: this request refreshes them itself, slower but right
            log.exception("could not queue the refresh of %s; computing it in the request", key)
            refresh_figures(kind, list(args), scope, user_id)
        else:
            _wait_for_refresh(key, wait)
    # read after the claim's commit: a queue that runs jobs at once (tests) has refreshed the row already
    return load(snap.figures), snap.computed_at


def _wait_for_refresh(key, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        queued = db.session.execute(select(KeptFigures.refresh_queued_at).where(KeptFigures.key == key)).scalar()
        db.session.commit()  # ends the read, so that the next one sees the worker's commit
        if queued is None:
            return
        time.sleep(0.1)


def _store(snap, key, generation, text, now):
    """The key's first figures (or those replacing another version's), computed by this request."""
    if snap is not None:
        snap.figures, snap.generation, snap.computed_at = text, generation, now
    else:
        try:
            with db.session.begin_nested():
                db.session.add(KeptFigures(key=key, figures=text, generation=generation, computed_at=now))
        except IntegrityError:  # another request stored the key's first figures meanwhile: theirs stand
            pass
    db.session.commit()


def _claim_refresh(key):
    """Mark the key's refresh as queued (committed); False when another request queued it already."""
    now = utcnow()
    claimed = db.session.execute(
        update(KeptFigures)
        .where(
            KeptFigures.key == key,
            or_(KeptFigures.refresh_queued_at.is_(None), KeptFigures.refresh_queued_at < now - REFRESH_LOST_AFTER),
        )
        .values(refresh_queued_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return claimed == 1


@job(retries=2, retry_delay=10)
def refresh_figures(kind, args, scope, user_id):
    """Compute the key's figures afresh, as the user who asked (any user of the scope sees the same)."""
    compute, dump, _load_figures = _kind(kind)
    key = key_of(kind, args, scope)
    user = db.session.get(AppUser, user_id)
    if user is None or scope_key(user) != scope:  # the account moved or went: the next request asks again
        text = None
    else:
        generation = _generation()  # read first: a change committed while computing asks for another refresh
        text = dump(compute(user, *args))
    changes = {"refresh_queued_at": None}
    if text is not None:
        changes.update(figures=text, generation=generation, computed_at=utcnow())
    db.session.execute(update(KeptFigures).where(KeptFigures.key == key).values(**changes))
    db.session.commit()
    return key
