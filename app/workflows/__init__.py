"""State machines as data.

Each workflow is a table of transitions: name, label, the states it leaves, the states it may reach,
the party kinds allowed to fire it and the FAB permission it needs. The same table drives the guard in
the services (``Workflow.check``), the buttons a view shows (``Workflow.available``), the permission
names synced into roles, and the parametrised tests. Views never set a status themselves.
"""

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _

from app.models.enums import ApplicationStatus as A
from app.models.enums import HazardStatus as H
from app.models.enums import OrderStatus as O
from app.models.enums import PartyKind as P


class TransitionError(Exception):
    """The transition is not allowed from the current state (HTTP 409)."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class Transition:
    name: str
    label: object
    sources: frozenset
    targets: tuple
    parties: frozenset
    permission: str
    needs_comment: bool = False

    @property
    def target(self):
        return self.targets[0] if len(self.targets) == 1 else None


def T(name, label, sources, targets, parties, permission, needs_comment=False):
    if isinstance(targets, str):
        targets = (targets,)
    return Transition(name, label, frozenset(sources), tuple(targets), frozenset(parties), permission, needs_comment)


@dataclass
class Workflow:
    entity_type: str
    resource: str  # the FAB class_permission_name the permissions belong to
    transitions: dict = field(default_factory=dict)

    def __init__(self, entity_type, resource, transitions):
        self.entity_type = entity_type
        self.resource = resource
        self.transitions = {t.name: t for t in transitions}

    def __getitem__(self, name) -> Transition:
        return self.transitions[name]

    def check(self, name, party_kind, status, is_admin=False):
        """Raise TransitionError unless ``name`` may fire from ``status`` for this party."""
        t = self.transitions[name]
        if not is_admin and party_kind not in t.parties:
            raise TransitionError(_("您无权执行此操作"))
        if status not in t.sources:
            raise TransitionError(_("当前状态不允许此操作，可能已被他人处理，请刷新后重试"))
        return t

    def available(self, party_kind, status):
        """Transitions this party could fire now (for buttons)."""
        return [t for t in self.transitions.values() if party_kind in t.parties and status in t.sources]

    def permissions(self):
        return sorted({t.permission for t in self.transitions.values()})


APPLICATION = Workflow(
    "application",
    "Application",
    [
        T("submit", _("提交保单"), {A.DRAFT, A.REJECTED}, A.PENDING_REVIEW, {P.ENTERPRISE}, "write"),
        T("withdraw", _("撤回"), {A.PENDING_REVIEW}, A.DRAFT, {P.ENTERPRISE}, "write"),
        T("approve", _("复审通过"), {A.PENDING_REVIEW}, A.APPROVED, {P.INSURER, P.BROKER}, "review"),
        T(
            "reject",
            _("复审不通过"),
            {A.PENDING_REVIEW},
            A.REJECTED,
            {P.INSURER, P.BROKER},
            "review",
            needs_comment=True,
        ),
        T("issue_policy", _("提交"), {A.APPROVED}, A.INSURED, {P.INSURER}, "issue"),
        T("expire", _("到期"), {A.INSURED}, A.EXPIRED, set(), "issue"),
        T("surrender", _("退保"), {A.INSURED}, A.SURRENDERED, {P.INSURER}, "issue", needs_comment=True),
    ],
)

ORDER = Workflow(
    "dispatch_order",
    "DispatchOrder",
    [
        T("accept", _("同意"), {O.PENDING}, O.ACCEPTED, {P.ORG}, "accept"),
        T("refuse", _("拒绝"), {O.PENDING}, O.REFUSED, {P.ORG}, "accept", needs_comment=True),
        T("timeout", _("超时"), {O.PENDING, O.ASSIGNED}, O.TIMEOUT, set(), "dispatch"),
        T("redispatch", _("再派单"), {O.REFUSED, O.TIMEOUT}, O.REDISPATCHED, {P.INSURER}, "dispatch"),
        T("assign", _("派单"), {O.ACCEPTED, O.EXPERT_REFUSED}, O.ASSIGNED, {P.ORG, P.INSURER}, "assign"),
        T("expert_accept", _("同意"), {O.ASSIGNED}, O.IN_SERVICE, {P.EXPERT}, "handle"),
        T("expert_refuse", _("拒绝"), {O.ASSIGNED}, O.EXPERT_REFUSED, {P.EXPERT}, "handle", needs_comment=True),
        T(
            "submit_report",
            _("提交报告"),
            {O.IN_SERVICE},
            (O.RECTIFYING, O.ORG_REVIEW, O.INSURER_REVIEW),
            {P.EXPERT},
            "handle",
        ),
        T("submit_rectification", _("提交整改"), {O.RECTIFYING}, O.VERIFYING, {P.ENTERPRISE}, "rectify"),
        T("verify", _("验收"), {O.VERIFYING}, (O.RECTIFYING, O.ORG_REVIEW, O.INSURER_REVIEW), {P.EXPERT}, "handle"),
        T("org_pass", _("通过"), {O.ORG_REVIEW}, O.INSURER_REVIEW, {P.ORG}, "review"),
        T("org_fail", _("不通过"), {O.ORG_REVIEW}, O.IN_SERVICE, {P.ORG}, "review", needs_comment=True),
        T("insurer_pass", _("通过"), {O.INSURER_REVIEW}, O.COMPLETED, {P.INSURER}, "review"),
        T("insurer_fail", _("不通过"), {O.INSURER_REVIEW}, O.IN_SERVICE, {P.INSURER}, "review", needs_comment=True),
    ],
)

HAZARD = Workflow(
    "hazard",
    "DispatchOrder",
    [
        T("rectify", _("整改"), {H.OPEN, H.RETURNED}, H.SUBMITTED, {P.ENTERPRISE}, "rectify"),
        T("pass", _("验收合格"), {H.SUBMITTED}, H.PASSED, {P.EXPERT}, "handle"),
        T("return", _("验收不合格"), {H.SUBMITTED}, H.RETURNED, {P.EXPERT}, "handle", needs_comment=True),
    ],
)

ALL = {wf.entity_type: wf for wf in (APPLICATION, ORDER, HAZARD)}
