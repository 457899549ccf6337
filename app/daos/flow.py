"""The 流程 timelines: FlowEvents of given rows, through the FlowEvent scope, oldest first."""

from sqlalchemy import and_, or_, select

from app.extensions import db
from app.models import FlowEvent
from app.security.scope import scoped_select


def events_of(pairs):
    """FlowEvents of the (entity_type, ids) pairs: ``[("application", [1, 2]), ("policy", [7])]``."""
    pairs = [(kind, list(ids)) for kind, ids in pairs if ids]
    if not pairs:
        return []
    criterion = or_(*[and_(FlowEvent.entity_type == kind, FlowEvent.entity_id.in_(ids)) for kind, ids in pairs])
    return db.session.execute(scoped_select(FlowEvent).where(criterion).order_by(FlowEvent.id)).scalars().all()


def ids_of(model, column, values):
    """The ids of ``model`` rows whose ``column`` is one of ``values`` (hazards of orders, say)."""
    if not values:
        return []
    return db.session.scalars(select(model.id).where(getattr(model, column).in_(list(values)))).all()
