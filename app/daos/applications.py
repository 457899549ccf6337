"""投保信息's figures: count and investment per 投保状态 of a filtered list (one SQL GROUP BY)."""

from decimal import Decimal

from sqlalchemy import func

from app.extensions import db
from app.models import Application, Project
from app.models.enums import ApplicationStatus
from app.services import figures_cache


def status_totals(apply_filters, key):
    """[(label, count, investment)] per status in the workflow's order, and the (count, investment) total.

    ``apply_filters(query)`` narrows a query on Application to the list's rows (the scope and the user's
    filters); ``key`` identifies those filters for ``figures_cache``, which reuses the figures while no
    application was added and no transition happened (at 1M rows an insurer's 50,000 applications take
    ~200 ms to sum)."""

    def compute():
        query = db.session.query(Application.status, func.count(Application.id), func.sum(Project.investment))
        query = apply_filters(query.join(Project, Application.project_id == Project.id))
        return {s: (n, Decimal(total or 0)) for s, n, total in query.group_by(Application.status).all()}

    by_status = figures_cache.get(("application_statistics", *key), compute)
    rows = [(ApplicationStatus.label(s), *by_status[s]) for s in ApplicationStatus.values() if s in by_status]
    total = (sum(n for _l, n, _t in rows), sum((t for _l, _n, t in rows), Decimal(0)))
    return rows, total
