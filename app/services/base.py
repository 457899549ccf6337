"""What every business action shares: errors that map to HTTP codes, the compare-and-set
transition, the FlowEvent writer and the unit of work.

A service function validates (scoped fetch, allowed transition, rules), changes, writes the FlowEvent
and commits once. Views and the REST API call services and map their errors:
NotFound → 404, Forbidden → 403, Invalid → 422, Conflict → 409.
"""

from contextlib import contextmanager

from flask_babel import lazy_gettext as _
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.extensions import db
from app.models import FlowEvent
from app.models.base import utcnow
from app.security.scope import get_scoped, party_of
from app.workflows import TransitionError


class ServiceError(Exception):
    status = 400

    def __init__(self, message, errors=None):
        super().__init__(str(message))
        self.message = message
        self.errors = errors or {}


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Invalid(ServiceError):
    status = 422


class Conflict(ServiceError):
    status = 409


STALE_MESSAGE = _("该记录已被他人修改，请刷新后重试")


def check_version(obj, submitted):
    """Optimistic locking of an edit form: the ``row_version`` it was opened with must still be the row's.

    The form carries the version it showed; a save against a newer version is refused instead of
    overwriting the other person's change. (Two saves racing past this check are still told apart
    by the versioned UPDATE itself, see ``unit_of_work``.) A form without the field (an API client
    that does not send it) is not checked."""
    if submitted is None or str(submitted).strip() == "":
        return
    if str(obj.version) != str(submitted).strip():
        raise Conflict(STALE_MESSAGE)


def fetch(model, pk, user=None):
    """The row through the scope, or NotFound (an out-of-scope row is indistinguishable from none)."""
    obj = get_scoped(model, pk, user)
    if obj is None:
        raise NotFound(_("记录不存在或无权访问"))
    return obj


@contextmanager
def unit_of_work():
    """Commit once at the end; roll back (and drop files written meanwhile) on any error."""
    try:
        yield db.session
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(_("数据冲突：记录重复或已被他人修改")) from exc
    except StaleDataError as exc:  # the version_id_col UPDATE matched no row: saved by someone else meanwhile
        db.session.rollback()
        raise Conflict(STALE_MESSAGE) from exc
    except Exception:
        db.session.rollback()
        raise


def record_flow(entity_type, entity_id, action, from_status, to_status, user, comment=None):
    party = party_of(user) if user is not None else None
    ev = FlowEvent(
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        user_id=getattr(user, "id", None),
        username=getattr(user, "username", None),
        party_kind=party.kind if party else None,
        party_name=getattr(user, "party_name", "") if user is not None else "",
        comment=comment,
        created_at=utcnow(),
    )
    db.session.add(ev)
    # Webhooks: the outbox row of an event is written here, in the FlowEvent's own transaction.
    from app.api.webhooks import on_flow

    on_flow(entity_type, entity_id, action, from_status, to_status, comment)
    return ev


def check_allowed(obj, workflow, name, user):
    """The transition, or Forbidden (never this party's, or its guard refuses) / Conflict (not from this
    state) unless the user's party may fire ``name`` on ``obj`` now."""
    try:
        return workflow.check(name, party_of(user), obj)
    except TransitionError as exc:
        raise (Forbidden if exc.forbidden else Conflict)(exc.message) from exc


def transition(obj, workflow, name, user, comment=None, target=None, values=None, system=False):
    """Move ``obj`` along ``workflow`` by transition ``name``, atomically.

    The workflow table decides whether the user's party may fire it on this row now (parties, states,
    guard): Forbidden when it never may, Conflict when the row's state does not allow it. The UPDATE is
    a compare-and-set on (id, status, version): of two concurrent clicks exactly one changes the row; the
    other gets Conflict. ``target`` picks among several possible targets. ``system`` fires a transition
    no party may (expiry, timeouts). Does not commit: the caller's unit of work does.
    """
    if system:
        t = workflow[name]
        if obj.status not in t.sources:
            raise Conflict(_("当前状态不允许此操作"))
    else:
        t = check_allowed(obj, workflow, name, user)
    if t.needs_comment and not (comment or "").strip():
        raise Invalid(_("请填写意见"), errors={"comment": [_("请填写意见")]})
    to = target or t.target
    if to not in t.targets:
        raise Invalid(_("目标状态无效"))
    model = type(obj)
    from_status, version = obj.status, obj.version
    changes = dict(values or {})
    changes.update(status=to, version=version + 1, updated_at=utcnow())
    result = db.session.execute(
        update(model)
        .where(model.id == obj.id, model.status == from_status, model.version == version)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise Conflict(_("该记录已被他人处理，请刷新后重试"))
    record_flow(workflow.entity_type, obj.id, name, from_status, to, user, comment)
    db.session.expire(obj)
    return to
