"""Closed months are computed once: the 统计报告 figures and workbook of a closed month, per scope.

A month's statistics do not change after it closes, late corrections aside. The first request for a
closed month (the page, the workbook, or ``flask jobs warm-statistics``) computes them and keeps them
in ``StatisticsSnapshot`` (figures as JSON, the workbook in the file store); later requests are
served from there. A change dated in a closed month — a transition (its FlowEvent) or an edited row of
a policy, claim, order or hazard whose statistical date (policy 生效日期, claim 提交日期, order
dispatch time) lies in that month — marks stale, in the same transaction, every snapshot whose
figures include that month: the rest of its year (the 截止 sheets are cumulative) and the same months
of the next year (their 去年同期 columns).

A computation first claims its snapshot row (committed, figures NULL, not stale) and stores its result
with a compare-and-set on ``stale = false``: a change committed while it ran leaves the result
unstored (it is still handed to whoever asked, being right as of its start).

Scopes: "all" (the province department and Admin) or a department's region prefix; other parties
have no statistics permission and are never stored. The figures come from
``statistics.company_report``; when summary tables (rollups) feed that function, the store keeps
working unchanged — it stores whatever the figures function returns.
"""

import json
import logging
import os
import secrets
import shutil
from datetime import date
from decimal import Decimal

from flask_babel import get_locale
from flask_babel import lazy_gettext as _
from sqlalchemy import event, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Claim, DispatchOrder, FlowEvent, Hazard, Policy, Region, StatisticsSnapshot
from app.models.base import utcnow
from app.models.enums import PartyKind
from app.reports.statistics_xlsx import made_for_line, write_workbook
from app.security.scope import party_of
from app.storage import get_storage

from . import statistics

log = logging.getLogger(__name__)
SCOPE_ALL = "all"
TOUCHED = "azx_statistics_touched"


# ---------------------------------------------------------------------------------------------------
# Scope, names
# ---------------------------------------------------------------------------------------------------


def scope_key(user):
    """The snapshot scope of ``user``'s statistics, or None when they are never stored."""
    party = party_of(user)
    if party.sees_all:
        return SCOPE_ALL
    if party.kind == PartyKind.DEPARTMENT and party.region_prefix:
        return party.region_prefix[:16]
    return None


def scope_name(scope):
    if scope in (None, SCOPE_ALL):
        return str(_("全省"))
    name = db.session.execute(select(Region.name).where(Region.code == scope.ljust(6, "0"))).scalar()
    return name or scope


def locale_key():
    return str(get_locale() or "zh")[:8]


def workbook_name(report_type, month):
    return f"{statistics.REPORT_TYPES[report_type]}统计_{month:%Y%m}.xlsx"


# ---------------------------------------------------------------------------------------------------
# Figures as JSON
# ---------------------------------------------------------------------------------------------------


def _plain(value):
    return str(value) if isinstance(value, Decimal) else value


def dump_report(report):
    def row(r):
        return {
            "seq": r.seq,
            "name": r.name,
            "kind": r.kind,
            "figures": {k: [_plain(v) for v in t] for k, t in r.figures.items()},
        }

    return {
        "report": report.report,
        "period": [report.period.start.isoformat(), report.period.end.isoformat()],
        "previous": [report.previous.start.isoformat(), report.previous.end.isoformat()],
        "rows": [row(r) for r in report.rows],
        "total": row(report.total),
    }


def load_report(data):
    metrics = statistics.METRICS[data["report"]]
    kinds = {m.key: m.kind for m in metrics}

    def value(key, v):
        return int(v) if kinds[key] == "count" else Decimal(v)

    def row(r, name=None):
        figures = {k: tuple(value(k, v) for v in t) for k, t in r["figures"].items()}
        return statistics.CompanyRow(r["seq"], name or r["name"], r["kind"], figures)

    period = statistics.Period(*(date.fromisoformat(d) for d in data["period"]))
    previous = statistics.Period(*(date.fromisoformat(d) for d in data["previous"]))
    return statistics.CompanyReport(
        data["report"],
        statistics.report_title(period),
        period,
        previous,
        metrics,
        [row(r) for r in data["rows"]],
        row(data["total"], str(_("合计"))),
    )


def dump_figures(figures):
    cumulative, monthly = figures
    return json.dumps({"cumulative": dump_report(cumulative), "month": dump_report(monthly)})


def load_figures(text):
    data = json.loads(text)
    return load_report(data["cumulative"]), load_report(data["month"])


def compute_figures(report_type, month, user):
    """(截止 report, month report) computed from the rows."""
    periods = statistics.report_periods(month)
    return (
        statistics.company_report(report_type, user, periods["cumulative"]),
        statistics.company_report(report_type, user, periods["month"]),
    )


# ---------------------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------------------


def _key(report_type, month, scope):
    return dict(report=report_type, month=month, scope=scope, locale=locale_key())


def _find(report_type, month, scope):
    k = _key(report_type, month, scope)
    return db.session.execute(select(StatisticsSnapshot).filter_by(**k)).scalars().first()


def _storable(month, user):
    scope = scope_key(user)
    return scope if scope is not None and statistics.is_closed(month) else None


def figures(report_type, month, user, wait=0):
    """(截止 report, month report, as_of): a closed month's from the store (as_of None: they are final);
    an open month's kept per scope and refreshed by the task queue (app/services/kept_figures.py: a
    page waits up to ``wait`` seconds for a refresh it queued), with the time they were computed."""
    if not statistics.is_closed(month):
        from . import kept_figures

        args = (report_type, month.isoformat(), locale_key())
        (cumulative, monthly), as_of = kept_figures.figures(user, "report", args, wait)
        return cumulative, monthly, as_of
    scope = _storable(month, user)
    if scope is None:
        return (*compute_figures(report_type, month, user), None)
    snap = _find(report_type, month, scope)
    if snap is not None and not snap.stale and snap.figures:
        return (*load_figures(snap.figures), None)
    claim = _claim(report_type, month, scope)
    cumulative, monthly = compute_figures(report_type, month, user)
    if claim is not None:
        _store(claim, cumulative, monthly)
    return cumulative, monthly, None


def stored_workbook(report_type, month, user):
    """The fresh stored workbook of a closed month (its snapshot), or None."""
    scope = _storable(month, user)
    if scope is None:
        return None
    snap = _find(report_type, month, scope)
    if snap is None or snap.stale or not snap.figures or not snap.file_key:
        return None
    if not get_storage().exists(snap.file_key):
        return None
    return snap


def _claim(report_type, month, scope):
    """Mark the snapshot row as being computed (committed); returns its id, or None when another
    computation holds it. A stale or workbook-less row is reset for the new computation."""
    k = _key(report_type, month, scope)
    snap = db.session.execute(select(StatisticsSnapshot).filter_by(**k)).scalars().first()
    try:
        if snap is None:
            snap = StatisticsSnapshot(**k, stale=False, figures=None, created_at=utcnow())
            db.session.add(snap)
        else:  # recomputed: nothing of the old result is served meanwhile
            snap.stale, snap.figures = False, None
        db.session.commit()
        return snap.id
    except IntegrityError:  # another worker claimed it at the same moment
        db.session.rollback()
        return None


def _store(snap_id, cumulative, monthly, file_key=None, file_size=None, detail_rows=None):
    """Compare-and-set the computed figures (and workbook) into the claimed row: nothing is stored if
    a change made it stale meanwhile. Returns True when stored."""
    figures_json = dump_figures((cumulative, monthly))
    old_key = db.session.execute(select(StatisticsSnapshot.file_key).where(StatisticsSnapshot.id == snap_id)).scalar()
    values = dict(figures=figures_json, computed_at=utcnow())
    if file_key is not None:
        values.update(file_key=file_key, file_size=file_size, detail_rows=detail_rows)
    result = db.session.execute(
        update(StatisticsSnapshot)
        .where(StatisticsSnapshot.id == snap_id, StatisticsSnapshot.stale.is_(False))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    stored = result.rowcount == 1
    if stored and file_key is not None and old_key and old_key != file_key:
        get_storage().delete(old_key)
    return stored


def detail_kinds(stmt):
    """Each detail column's kind (export.NUMBER_FORMATS), from its SQL type."""
    from app.reports.export import _kind_of_type

    kinds = []
    for column in stmt.selected_columns:
        kind = _kind_of_type(column)
        kinds.append("count" if kind == "integer" else kind)
    return kinds


def write_report_workbook(path, report_type, month, user, progress=None, made_for=None, reports=None):
    """Write the workbook of ``report_type`` for ``month`` to ``path``; returns the detail row count.
    ``progress(done, total)`` follows the detail rows (the summaries come first and are quick)."""
    periods = statistics.report_periods(month)
    cumulative, monthly = reports or compute_figures(report_type, month, user)  # the summary as of its detail rows
    headers, stmt, status_columns = statistics.detail_rows(report_type, user, periods["cumulative"])
    total = None
    if progress is not None:
        from app.reports.export import count_rows

        total = count_rows(stmt, 10**9)
        progress(0, total)
    rows = db.session.execute(stmt.execution_options(yield_per=1000))
    return write_workbook(
        path,
        cumulative,
        monthly,
        headers,
        rows,
        status_columns,
        detail_kinds(stmt),
        made_for=made_for,
        progress=(lambda n: progress(n, total)) if progress is not None else None,
    )


def put_file(path, key):
    """Move the finished file at ``path`` into the file store under ``key``: copied beside its final
    name and renamed into place, so no reader ever sees a half-written file (a failed copy — a full
    disk — leaves nothing)."""
    storage = get_storage()
    if hasattr(storage, "path"):
        final = storage.path(key)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        part = final + ".part"
        try:
            shutil.copyfile(path, part)
            os.replace(part, final)
        except BaseException:
            for leftover in (part, final):
                try:
                    os.remove(leftover)
                except OSError:
                    pass
            raise
    else:  # pragma: no cover - another storage backend: its own atomic write
        with open(path, "rb") as fh:
            storage.write(key, fh.read())
    return os.path.getsize(path)


def workbook_for(report_type, month, user, path, progress=None):
    """Write the workbook to ``path`` — for a closed month stored as well (or copied from the store
    when it is there already). Returns the detail row count."""
    scope = _storable(month, user)
    if scope is None:
        return write_report_workbook(
            path, report_type, month, user, progress, made_for=made_for_line(user, scope_name(scope_key(user)))
        )
    snap = stored_workbook(report_type, month, user)
    if snap is not None:
        with get_storage().open(snap.file_key) as src, open(path, "wb") as dst:
            shutil.copyfileobj(src, dst)
        return snap.detail_rows or 0
    claim = _claim(report_type, month, scope)
    reports = compute_figures(report_type, month, user)
    rows = write_report_workbook(
        path, report_type, month, user, progress, made_for=made_for_line(scope_name=scope_name(scope)), reports=reports
    )
    if claim is not None:
        key = f"stat-{report_type}-{month:%Y%m}-{secrets.token_hex(12)}.xlsx"
        size = put_file(path, key)
        if not _store(claim, *reports, file_key=key, file_size=size, detail_rows=rows):
            get_storage().delete(key)
    return rows


# ---------------------------------------------------------------------------------------------------
# Invalidation: a change dated in a closed month marks the snapshots that include it stale
# ---------------------------------------------------------------------------------------------------


def _day(value):
    if value is None:
        return None
    return value.date() if hasattr(value, "date") and callable(value.date) else value


def _dates_of_object(obj, dates, refs):
    from sqlalchemy import inspect as sa_inspect

    state = sa_inspect(obj)
    attr = {Policy: "start_date", Claim: "submitted_date", DispatchOrder: "created_at"}.get(type(obj))
    if attr is not None:
        dates.add(_day(getattr(obj, attr, None)))
        history = state.attrs[attr].history
        dates.update(_day(v) for v in history.deleted or ())
    if isinstance(obj, Hazard) and obj.order_id:
        refs.add(("dispatch_order", obj.order_id))
    if isinstance(obj, Claim) and obj.policy_id:
        refs.add(("policy_only", obj.policy_id))
    if isinstance(obj, DispatchOrder) and obj.policy_id:
        refs.add(("policy_only", obj.policy_id))


@event.listens_for(Session, "after_flush")
def _collect(session, _context):
    touched = session.info.setdefault(TOUCHED, (set(), set()))
    dates, refs = touched
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, FlowEvent):
            refs.add((obj.entity_type, obj.entity_id))
        elif isinstance(obj, (Policy, Claim, DispatchOrder, Hazard)):
            if obj in session.dirty and not session.is_modified(obj, include_collections=False):
                continue
            _dates_of_object(obj, dates, refs)


@event.listens_for(Session, "after_rollback")
def _forget(session):
    session.info.pop(TOUCHED, None)


@event.listens_for(Session, "before_commit")
def _invalidate(session):
    if session.info.get(TOUCHED) is None:
        return
    session.flush()
    dates, refs = session.info.pop(TOUCHED, (set(), set()))
    if not dates and not refs:
        return
    try:
        dates |= _dates_of_refs(session, refs)
        mark_stale(session, {d for d in dates if d is not None})
    except Exception:  # the change must not commit without its invalidation: the transaction fails
        log.exception("statistics snapshots: invalidation failed")
        raise


def _dates_of_refs(session, refs):
    by_type = {}
    for kind, pk in refs:
        by_type.setdefault(kind, set()).add(pk)
    dates = set()

    def add(stmt):
        dates.update(_day(v) for v in session.execute(stmt).scalars())

    if ids := by_type.get("application"):
        add(select(Policy.start_date).where(Policy.application_id.in_(ids)))
    if ids := by_type.get("policy"):
        add(select(Policy.start_date).where(Policy.id.in_(ids)))
        add(select(Claim.submitted_date).where(Claim.policy_id.in_(ids)))
    if ids := by_type.get("policy_only"):
        add(select(Policy.start_date).where(Policy.id.in_(ids)))
    if ids := by_type.get("dispatch_order"):
        add(select(DispatchOrder.created_at).where(DispatchOrder.id.in_(ids)))
    if ids := by_type.get("hazard"):
        add(
            select(DispatchOrder.created_at).join(Hazard, Hazard.order_id == DispatchOrder.id).where(Hazard.id.in_(ids))
        )
    return dates


_TABLE_SEEN: set[str] = set()


def _store_exists(session):
    """Whether the database has the snapshot table (a database not yet migrated to it has nothing to
    invalidate); asked once per engine."""
    bind = session.get_bind()
    url = str(getattr(bind, "engine", bind).url)  # a Connection (a test's transaction) or an Engine
    if url not in _TABLE_SEEN:
        from sqlalchemy import inspect as sa_inspect

        if not sa_inspect(session.connection()).has_table(StatisticsSnapshot.__tablename__):
            return False
        _TABLE_SEEN.add(url)
    return True


def mark_stale(session, dates):
    """Mark stale every snapshot whose figures include one of ``dates`` that lies in a closed month."""
    months = {date(d.year, d.month, 1) for d in dates if statistics.is_closed(date(d.year, d.month, 1))}
    if not months or not _store_exists(session):
        return 0
    M = StatisticsSnapshot.month
    ranges = []
    for m in months:
        ranges.append(M.between(m, date(m.year, 12, 1)))  # the rest of its year (cumulative)
        nxt = date(m.year + 1, m.month, 1)
        ranges.append(M.between(nxt, date(m.year + 1, 12, 1)))  # the next year's 去年同期
    result = session.execute(
        update(StatisticsSnapshot)
        .where(StatisticsSnapshot.stale.is_(False), or_(*ranges))
        .values(stale=True)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def purge_stale():
    """Delete stale snapshots and their workbooks; returns how many."""
    rows = db.session.execute(
        select(StatisticsSnapshot.id, StatisticsSnapshot.file_key).where(StatisticsSnapshot.stale.is_(True))
    ).all()
    for snap_id, key in rows:
        db.session.execute(
            StatisticsSnapshot.__table__.delete().where(
                StatisticsSnapshot.id == snap_id, StatisticsSnapshot.stale.is_(True)
            )
        )
        db.session.commit()
        if key:
            get_storage().delete(key)
    return len(rows)
