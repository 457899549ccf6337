"""THE row-visibility rule. Every list, detail, edit, action, download, export, chart and API goes
through it; no view filters rows on its own.

A user belongs to one party (``AppUser.party_kind`` + the matching id column). ``RULES`` maps each
model to a function ``(party) -> SQL criterion`` saying which rows that party may see:

- platform administrators (role Admin) and the province department see everything;
- a city or county department sees rows whose ``region_code`` starts with its region prefix;
- an enterprise its own rows, an insurer the rows naming it, a broker the rows naming it (its
  partner insurers' applications only where the application names the broker), a prevention org the
  orders dispatched to it, an expert the orders assigned to him or her.

Custom roles added by administrators (a read-only auditor, say) are scoped the same way: scope follows
the party, permissions follow the roles. A user with no party and no Admin role sees nothing.

Use:
    scoped(query, Model)              -> the query restricted to the current user's rows
    get_scoped_or_404(Model, pk)      -> the row, or abort(404) when absent or out of scope
    ScopeFilter                       -> a FAB BaseFilter for base_filters / query_rel_fields
"""

from dataclasses import dataclass

from flask import abort, g, has_request_context
from flask_appbuilder.models.filters import BaseFilter
from sqlalchemy import ColumnElement, and_, exists, false, or_, select

from app.extensions import db
from app.models import (
    Application,
    AppUser,
    AuditEvent,
    Claim,
    Department,
    DispatchOrder,
    Enterprise,
    Expert,
    FlowEvent,
    Hazard,
    HazardPhoto,
    Policy,
    Project,
    RegistryProject,
    Review,
    ServiceVisit,
    StoredFile,
    SyncTombstone,
)
from app.models.enums import ApplicationStatus, RegionLevel
from app.models.enums import PartyKind as P
from app.validators import INT32_MAX

ADMIN_ROLE = "Admin"


@dataclass(frozen=True)
class Party:
    kind: str | None
    id: int | None
    sees_all: bool = False
    region_prefix: str | None = None
    user_id: int | None = None

    @property
    def is_admin(self):
        return self.sees_all and self.kind is None


NOBODY = Party(None, None)


def current_user_obj():
    if has_request_context():
        user = getattr(g, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            return user
    return None


def party_of(user=None) -> Party:
    """The party a user acts for; cached on the request."""
    if user is None:
        user = current_user_obj()
    if user is None or not getattr(user, "is_authenticated", True):
        return NOBODY
    cache = g.setdefault("_party_cache", {}) if has_request_context() else {}
    if user.id in cache:
        return cache[user.id]
    party = _compute_party(user)
    cache[user.id] = party
    return party


def _compute_party(user) -> Party:
    kind = getattr(user, "party_kind", None)
    if kind is None:
        is_admin = any(r.name == ADMIN_ROLE for r in user.roles)
        return Party(None, None, sees_all=is_admin, user_id=user.id)
    if kind == P.DEPARTMENT:
        dept = db.session.get(Department, user.department_id) if user.department_id else None
        if dept is None:
            return Party(kind, None, user_id=user.id)
        region = dept.region
        if region is not None and region.level == RegionLevel.PROVINCE:
            return Party(kind, dept.id, sees_all=True, region_prefix=region.prefix, user_id=user.id)
        prefix = region.prefix if region is not None else dept.region_code
        return Party(kind, dept.id, region_prefix=prefix, user_id=user.id)
    pid = {
        P.ENTERPRISE: user.enterprise_id,
        P.INSURER: user.company_id,
        P.BROKER: user.company_id,
        P.ORG: user.org_id,
        P.EXPERT: user.expert_id,
    }.get(kind)
    return Party(kind, pid, user_id=user.id)


def _in_region(column, party):
    return column.like(party.region_prefix + "%")


def _orders_of(party):
    """Criterion on DispatchOrder for the party (shared by orders and everything under them)."""
    k, pid = party.kind, party.id
    if k == P.ENTERPRISE:
        return DispatchOrder.enterprise_id == pid
    if k == P.INSURER:
        return DispatchOrder.insurer_id == pid
    if k == P.BROKER:
        return DispatchOrder.policy_id.in_(select(Policy.id).where(Policy.broker_id == pid))
    if k == P.ORG:
        return DispatchOrder.org_id == pid
    if k == P.EXPERT:
        return DispatchOrder.expert_id == pid
    if k == P.DEPARTMENT:
        return _in_region(DispatchOrder.region_code, party)
    return false()


# An insurer or broker sees an application once it is submitted: drafts are the enterprise's own.
_SUBMITTED: ColumnElement[bool] = Application.status != ApplicationStatus.DRAFT


def _application_rule(party):
    if party.kind == P.INSURER:
        return and_(Application.insurer_id == party.id, _SUBMITTED)
    if party.kind == P.BROKER:
        return and_(Application.broker_id == party.id, _SUBMITTED)
    return _owned_by_columns(Application)(party)


def _enterprise_rule(party):
    k, pid = party.kind, party.id
    eid = Enterprise.id
    if k == P.ENTERPRISE:
        return eid == pid
    if k == P.INSURER:
        return exists().where(Application.enterprise_id == eid, Application.insurer_id == pid, _SUBMITTED)
    if k == P.BROKER:
        return exists().where(Application.enterprise_id == eid, Application.broker_id == pid, _SUBMITTED)
    if k in (P.ORG, P.EXPERT):
        return exists().where(DispatchOrder.enterprise_id == eid, _orders_of(party))
    if k == P.DEPARTMENT:
        return or_(
            _in_region(Enterprise.region_code, party),
            exists().where(Project.enterprise_id == eid, _in_region(Project.region_code, party)),
        )
    return false()


def _project_rule(party):
    k, pid = party.kind, party.id
    if k == P.ENTERPRISE:
        return Project.enterprise_id == pid
    if k == P.INSURER:
        return exists().where(Application.project_id == Project.id, Application.insurer_id == pid, _SUBMITTED)
    if k == P.BROKER:
        return exists().where(Application.project_id == Project.id, Application.broker_id == pid, _SUBMITTED)
    if k in (P.ORG, P.EXPERT):
        return exists().where(DispatchOrder.project_id == Project.id, _orders_of(party))
    if k == P.DEPARTMENT:
        return _in_region(Project.region_code, party)
    return false()


def _owned_by_columns(model, orders_through=None):
    """Rows carrying enterprise_id / insurer_id / broker_id / region_code columns of their own."""

    def rule(party):
        k, pid = party.kind, party.id
        if k == P.ENTERPRISE:
            return model.enterprise_id == pid
        if k == P.INSURER:
            return model.insurer_id == pid
        if k == P.BROKER:
            if hasattr(model, "broker_id"):
                return model.broker_id == pid
            return model.policy_id.in_(select(Policy.id).where(Policy.broker_id == pid))
        if k in (P.ORG, P.EXPERT) and orders_through is not None:
            return exists().where(getattr(DispatchOrder, orders_through) == model.id, _orders_of(party))
        if k == P.DEPARTMENT:
            return _in_region(model.region_code, party)
        return false()

    return rule


def _under_order(model, column="order_id"):
    def rule(party):
        if party.kind == P.DEPARTMENT and hasattr(model, "region_code"):
            return _in_region(model.region_code, party)
        return getattr(model, column).in_(select(DispatchOrder.id).where(_orders_of(party)))

    return rule


def _expert_rule(party):
    k, pid = party.kind, party.id
    if k == P.EXPERT:
        return Expert.id == pid
    if k == P.ORG:
        return Expert.org_id == pid
    if k == P.INSURER:
        return or_(
            Expert.company_id == pid,
            Expert.org_id.in_(select(DispatchOrder.org_id).where(DispatchOrder.insurer_id == pid)),
            exists().where(DispatchOrder.expert_id == Expert.id, DispatchOrder.insurer_id == pid),
        )
    if k in (P.ENTERPRISE, P.BROKER, P.DEPARTMENT):
        return exists().where(DispatchOrder.expert_id == Expert.id, _orders_of(party))
    return false()


def _hazard_photo_rule(party):
    return HazardPhoto.hazard_id.in_(select(Hazard.id).where(RULES[Hazard](party)))


def _department_rule(party):
    if party.kind == P.DEPARTMENT:
        return Department.id == party.id
    return false()


def _registry_rule(party):
    if party.kind == P.DEPARTMENT:
        return _in_region(RegistryProject.region_code, party)
    return false()


def _own_user_rule(party):
    return AppUser.id == party.user_id if party.user_id else false()


_FLOW_ENTITIES = {
    "application": Application,
    "policy": Policy,
    "dispatch_order": DispatchOrder,
    "hazard": Hazard,
    "claim": Claim,
    "project": Project,
    "enterprise": Enterprise,
}


def _flow_rule(party):
    return or_(
        *[
            and_(FlowEvent.entity_type == name, FlowEvent.entity_id.in_(select(m.id).where(RULES[m](party))))
            for name, m in _FLOW_ENTITIES.items()
        ]
    )


RULES = {
    Enterprise: _enterprise_rule,
    Project: _project_rule,
    Application: _application_rule,
    Policy: _owned_by_columns(Policy, orders_through="policy_id"),
    Claim: _owned_by_columns(Claim),
    DispatchOrder: _orders_of,
    ServiceVisit: _under_order(ServiceVisit),
    Hazard: _under_order(Hazard),
    Review: _under_order(Review),
    HazardPhoto: _hazard_photo_rule,
    Expert: _expert_rule,
    Department: _department_rule,
    RegistryProject: _registry_rule,
    AppUser: _own_user_rule,
    FlowEvent: _flow_rule,
    AuditEvent: lambda party: false(),
    SyncTombstone: _owned_by_columns(SyncTombstone),  # scoped as the row it stands for
    StoredFile: lambda party: false(),  # files are reached through their owner: see file_owner_visible
}
"""Models absent from RULES (reference data, insurance companies, prevention orgs) are public to every
signed-in user: they are directories the forms need. Write access to them is a permission matter."""


def criterion(model, user=None):
    """The SQL criterion for ``model`` and the user's party, or None for 'no restriction'."""
    party = party_of(user)
    if party.sees_all:
        return None
    rule = RULES.get(model)
    if rule is None:
        return None if party.user_id else false()
    return rule(party)


def scoped(query, model, user=None):
    """Restrict an ORM Query or a Select on ``model`` to the rows the user may see."""
    crit = criterion(model, user)
    if crit is None:
        return query
    return query.filter(crit) if hasattr(query, "filter") else query.where(crit)


def scoped_select(model, user=None, *columns):
    """select(model) (or the given columns of it) restricted to the user's rows."""
    stmt = select(*(columns or (model,)))
    crit = criterion(model, user)
    return stmt if crit is None else stmt.where(crit)


def is_visible(model, pk, user=None) -> bool:
    if not valid_pk(pk):
        return False
    crit = criterion(model, user)
    stmt = select(model.id).where(model.id == pk)
    if crit is not None:
        stmt = stmt.where(crit)
    return db.session.execute(stmt.limit(1)).first() is not None


def valid_pk(pk) -> bool:
    """Whether ``pk`` can be a row id at all (a positive integer within the column's range)."""
    try:
        return 0 < int(str(pk).strip()) <= INT32_MAX
    except (TypeError, ValueError):
        return False


def get_scoped(model, pk, user=None):
    if not valid_pk(pk):
        return None
    pk = int(str(pk).strip())
    stmt = select(model).where(model.id == pk)
    crit = criterion(model, user)
    if crit is not None:
        stmt = stmt.where(crit)
    return db.session.execute(stmt).scalars().first()


def get_scoped_or_404(model, pk, user=None):
    obj = get_scoped(model, pk, user)
    if obj is None:
        abort(404)
    return obj


# Files: a StoredFile is visible when its owner row is.
FILE_OWNERS = {
    "enterprise": Enterprise,
    "application": Application,
    "policy": Policy,
    "expert": Expert,
    "service_visit": ServiceVisit,
    "hazard": Hazard,
    "dispatch_order": DispatchOrder,
    "registry_import": RegistryProject,
}


def file_visible(stored_file, user=None) -> bool:
    party = party_of(user)
    if party.sees_all:
        return True
    model = FILE_OWNERS.get(stored_file.owner_type)
    if model is None or stored_file.owner_id is None:
        return False
    return is_visible(model, stored_file.owner_id, user)


def get_scoped_file_or_404(file_id, user=None):
    f = db.session.get(StoredFile, int(file_id)) if valid_pk(file_id) else None
    if f is None or not file_visible(f, user):
        abort(404)
    return f


class ScopeFilter(BaseFilter):
    """FAB filter applying the scope of the filter's model: ``base_filters = [["id", ScopeFilter, None]]``.

    Also used in ``*_query_rel_fields`` so related-field dropdowns list only rows in scope.
    """

    name = "scope"

    def apply(self, query, value):
        return scoped(query, self.model)


class OwnPartyFilter(BaseFilter):
    """Narrows a party directory (insurance companies, orgs) to the user's own record: 会员信息."""

    name = "own party"

    def apply(self, query, value):
        party = party_of()
        if party.is_admin:
            return query
        return query.filter(self.model.id == party.id) if party.id else query.filter(false())
