"""State machines as data.

Each workflow is a table of transitions: name, label, the states it leaves, the states it may reach, the
party kinds allowed to fire it, the FAB permission (resource, name) it needs and, where the state and the
party are not enough, a guard on the row itself. This one table decides "may this party do this now":

- the services call ``Workflow.check`` (through ``services.base.transition``) before changing a row;
- the pages ask ``Workflow.available`` which transitions to offer as buttons (``views/buttons.py``);
- ``security/roles.py`` grants each role the permissions of the transitions its party may fire;
- the parametrised tests read the same rows.

Views never set a status and never decide on their own who may press a button.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _

from app.models.enums import ApplicationStatus as A
from app.models.enums import HazardStatus as H
from app.models.enums import OrderStatus as O
from app.models.enums import PartyKind as P
from app.models.enums import PolicyStatus as PS


class TransitionError(Exception):
    """The transition is not allowed (HTTP 409: the state moved on, or 403 when ``forbidden``)."""

    def __init__(self, message, forbidden=False):
        super().__init__(str(message))
        self.message = message
        self.forbidden = forbidden


NOT_YOURS = _("您无权执行此操作")
STATE_MOVED = _("当前状态不允许此操作，可能已被他人处理，请刷新后重试")


@dataclass(frozen=True)
class Guard:
    """A condition on the row beyond its state: ``test(row, party)`` true, else ``message``."""

    test: Callable[[Any, Any], bool]
    message: object


@dataclass(frozen=True)
class Transition:
    name: str
    label: object
    sources: frozenset
    targets: tuple
    parties: frozenset
    resource: str  # the FAB class_permission_name of the view that offers it
    permission: str  # … and the permission on it (can_<permission>)
    needs_comment: bool = False
    guard: Guard | None = None

    @property
    def target(self):
        return self.targets[0] if len(self.targets) == 1 else None

    def refusal(self, obj, party):
        """Why ``party`` may not fire this on ``obj`` now (a TransitionError), or None when it may."""
        if not party.is_admin and party.kind not in self.parties:
            return TransitionError(NOT_YOURS, forbidden=True)
        if obj.status not in self.sources:
            return TransitionError(STATE_MOVED)
        if self.guard is not None and not party.is_admin and not self.guard.test(obj, party):
            return TransitionError(self.guard.message, forbidden=True)
        return None


class Workflow:
    def __init__(self, entity_type, resource, transitions):
        self.entity_type = entity_type
        self.transitions = {}
        for name, label, sources, targets, parties, permission, *rest in transitions:
            opts = rest[0] if rest else {}
            res, perm = permission if isinstance(permission, tuple) else (resource, permission)
            targets = (targets,) if isinstance(targets, str) else tuple(targets)
            self.transitions[name] = Transition(
                name, label, frozenset(sources), targets, frozenset(parties), res, perm, **opts
            )

    def __getitem__(self, name) -> Transition:
        return self.transitions[name]

    def check(self, name, party, obj):
        """The transition, or TransitionError unless ``party`` may fire ``name`` on ``obj`` now."""
        transition = self.transitions[name]
        refusal = transition.refusal(obj, party)
        if refusal is not None:
            raise refusal
        return transition

    def available(self, obj, party):
        """The transitions ``party`` may fire on ``obj`` now (the buttons of its row)."""
        return [t for t in self.transitions.values() if party.kind in t.parties and t.refusal(obj, party) is None]

    def states_to_act(self, party_kind):
        """The states in which a party of ``party_kind`` has a transition to fire (its 待办任务)."""
        return sorted({s for t in self.transitions.values() if party_kind in t.parties for s in t.sources})

    def permissions(self, party_kind):
        """{resource: {permission}} a role of ``party_kind`` needs to fire its transitions."""
        granted: dict[str, set] = {}
        for t in self.transitions.values():
            if party_kind in t.parties:
                granted.setdefault(t.resource, set()).add(t.permission)
        return granted


def _insurer_assigns_own_orders(order, party):
    # An order dispatched to a prevention org is the org's to assign; the insurer assigns (and
    # re-assigns after a refusal) only the orders it dispatched to its own experts.
    return party.kind == P.ORG or not order.org_id


# (name, label, from, to, parties, permission[, options]) — permission is a name on the workflow's
# resource or a (resource, name) pair.
APPLICATION = Workflow(
    "application",
    "Application",
    [
        ("submit", _("提交保单"), {A.DRAFT, A.REJECTED}, A.PENDING_REVIEW, {P.ENTERPRISE}, "write"),
        ("withdraw", _("撤回"), {A.PENDING_REVIEW}, A.DRAFT, {P.ENTERPRISE}, "write"),
        ("approve", _("复审通过"), {A.PENDING_REVIEW}, A.APPROVED, {P.INSURER, P.BROKER}, "review"),
        ("reject", _("复审不通过"), {A.PENDING_REVIEW}, A.REJECTED, {P.INSURER, P.BROKER}, "review",
         {"needs_comment": True}),
        ("issue_policy", _("提交"), {A.APPROVED}, A.INSURED, {P.INSURER}, "issue"),
        ("expire", _("到期"), {A.INSURED}, A.EXPIRED, set(), "issue"),
        ("surrender", _("退保"), {A.INSURED}, A.SURRENDERED, {P.INSURER}, ("Policy", "surrender"),
         {"needs_comment": True}),
    ],
)  # fmt: skip

POLICY = Workflow(
    "policy",
    "Policy",
    [
        ("expire", _("到期"), {PS.ACTIVE}, PS.EXPIRED, set(), "surrender"),
        ("surrender", _("退保"), {PS.ACTIVE}, PS.SURRENDERED, {P.INSURER}, "surrender", {"needs_comment": True}),
    ],
)

ORDER = Workflow(
    "dispatch_order",
    "DispatchOrder",
    [
        ("accept", _("同意"), {O.PENDING}, O.ACCEPTED, {P.ORG}, ("ReceivedOrder", "accept")),
        ("refuse", _("拒绝"), {O.PENDING}, O.REFUSED, {P.ORG}, ("ReceivedOrder", "accept"), {"needs_comment": True}),
        ("timeout", _("超时"), {O.PENDING, O.ASSIGNED}, O.TIMEOUT, set(), "dispatch"),
        ("redispatch", _("再派单"), {O.REFUSED, O.TIMEOUT}, O.REDISPATCHED, {P.INSURER}, "dispatch"),
        ("assign", _("派单"), {O.ACCEPTED, O.EXPERT_REFUSED}, O.ASSIGNED, {P.ORG, P.INSURER}, "assign",
         {"guard": Guard(_insurer_assigns_own_orders, _("该派单由事故预防机构指派专家"))}),
        ("expert_accept", _("同意"), {O.ASSIGNED}, O.IN_SERVICE, {P.EXPERT}, ("ExpertTask", "handle")),
        ("expert_refuse", _("拒绝"), {O.ASSIGNED}, O.EXPERT_REFUSED, {P.EXPERT}, ("ExpertTask", "handle"),
         {"needs_comment": True}),
        ("submit_report", _("提交报告"), {O.IN_SERVICE}, (O.RECTIFYING, O.ORG_REVIEW, O.INSURER_REVIEW),
         {P.EXPERT}, ("ExpertTask", "handle")),
        ("submit_rectification", _("提交整改"), {O.RECTIFYING}, O.VERIFYING, {P.ENTERPRISE},
         ("EnterpriseTask", "rectify")),
        ("verify", _("验收"), {O.VERIFYING}, (O.RECTIFYING, O.ORG_REVIEW, O.INSURER_REVIEW), {P.EXPERT},
         ("ExpertTask", "handle")),
        ("org_pass", _("通过"), {O.ORG_REVIEW}, O.INSURER_REVIEW, {P.ORG}, ("ReportReview", "review")),
        ("org_fail", _("不通过"), {O.ORG_REVIEW}, O.IN_SERVICE, {P.ORG}, ("ReportReview", "review"),
         {"needs_comment": True}),
        ("insurer_pass", _("通过"), {O.INSURER_REVIEW}, O.COMPLETED, {P.INSURER}, ("ReportReview", "review")),
        ("insurer_fail", _("不通过"), {O.INSURER_REVIEW}, O.IN_SERVICE, {P.INSURER}, ("ReportReview", "review"),
         {"needs_comment": True}),
    ],
)  # fmt: skip

HAZARD = Workflow(
    "hazard",
    "DispatchOrder",
    [
        ("rectify", _("整改"), {H.OPEN, H.RETURNED}, H.SUBMITTED, {P.ENTERPRISE}, ("EnterpriseTask", "rectify")),
        ("pass", _("验收合格"), {H.SUBMITTED}, H.PASSED, {P.EXPERT}, ("ExpertTask", "handle")),
        ("return", _("验收不合格"), {H.SUBMITTED}, H.RETURNED, {P.EXPERT}, ("ExpertTask", "handle"),
         {"needs_comment": True}),
    ],
)  # fmt: skip

ALL = {wf.entity_type: wf for wf in (APPLICATION, POLICY, ORDER, HAZARD)}

# The labels of 流程记录 (FlowEvent rows): the entity, the action (a transition's label, or one of the
# recorded steps outside the tables) and the statuses, each shown by its label, never its stored value.
ENTITY_LABELS = {
    "application": _("投保申请"),
    "policy": _("保单"),
    "order": _("派单"),
    "hazard": _("隐患"),
    "expert": _("事故预防专家"),
}
OTHER_ACTIONS = {
    "sign_in": _("签到"),
    "issue": _("出单"),
    "claim_add": _("新增理赔"),
    "claim_update": _("修改理赔"),
    "dispatch": _("派单"),
    "redispatch": _("重新派单"),
    "terminate": _("终止"),
    "timeout": _("超时"),
}
_STATUS_SETS = (A, PS, O, H)


def action_label(value):
    for wf in ALL.values():
        if value in wf.transitions:
            return wf.transitions[value].label
    return OTHER_ACTIONS.get(value, value)


def status_label(value):
    """The label of a stored status of any workflow (the sets share no value with a different label
    that a flow record would mix up: the first set holding it answers)."""
    if value in (None, ""):
        return "—"
    for choice_set in _STATUS_SETS:
        if value in choice_set.values():
            return choice_set.label(value)
    return {"active": _("启用"), "inactive": _("停用")}.get(value, value)


def permissions_of(party_kind):
    """{resource: {permission}} of every transition a party of ``party_kind`` may fire (for roles.py)."""
    granted: dict[str, set] = {}
    for workflow in ALL.values():
        for resource, names in workflow.permissions(party_kind).items():
            granted.setdefault(resource, set()).update(names)
    return granted
