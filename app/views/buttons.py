"""Buttons: one shape for every button of a row or a page, rendered by one macro (``azx/_macros.html``
``buttons``), and the buttons of a workflow row taken from the workflow table itself.

Which transitions a party may fire on a row now is the table's answer (``Workflow.available``: parties,
states, guard); whether the user's role holds the transition's permission is FAB's (``may``). This module
only says how each transition is reached from a page: which endpoint, GET form or POST with a
confirmation, and the manual's label when it differs from the transition's.
"""

from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import lazy_gettext as _

from app.security.scope import party_of
from app.workflows import APPLICATION, ORDER


@dataclass(frozen=True)
class Button:
    label: object
    url: str
    post: bool = False  # a POST form (with the CSRF token) instead of a link
    confirm: object = None  # asked before a POST is sent
    style: str = "default"
    id: str | None = None


def may(permission, resource) -> bool:
    """Whether the signed-in user's roles hold ``can_<permission>`` on ``resource``."""
    return current_app.appbuilder.sm.has_access("can_" + permission, resource)


@dataclass(frozen=True)
class Reach:
    """How a page reaches a transition: the endpoint (given the row's id as ``arg``), and the button."""

    endpoint: str
    label: object = None  # default: the transition's own label
    post: bool = False
    confirm: object = None
    style: str = "primary"
    arg: str = "pk"
    attr: str = "id"


REACH = {
    APPLICATION.entity_type: {
        "approve": Reach("ApplicationView.review", _("审核")),
        "reject": Reach("ApplicationView.review", _("审核")),
        "issue_policy": Reach("ApplicationView.issue", _("提交")),
        "submit": Reach("ApplicationView.fill", _("修改"), arg="project_id", attr="project_id"),
    },
    ORDER.entity_type: {
        "accept": Reach("ReceivedOrderView.accept", post=True, confirm=_("确定承接该事故预防服务单？"),
                        style="success"),
        "refuse": Reach("ReceivedOrderView.refuse", style="danger"),
        "redispatch": Reach("DispatchOrderView.redispatch"),
        "assign": Reach("DispatchOrderView.assign"),
        "expert_accept": Reach("ExpertTodoView.accept", post=True, confirm=_("确定接受该事故预防服务单？"),
                               style="success"),
        "expert_refuse": Reach("ExpertTodoView.refuse", style="danger"),
        "submit_report": Reach("ExpertTodoView.handle", _("处理")),
        "verify": Reach("ExpertTodoView.handle", _("验收")),
        "submit_rectification": Reach("EnterpriseTodoView.show", _("整改")),
        "org_pass": Reach("ReportReviewView.review", _("审核")),
        "org_fail": Reach("ReportReviewView.review", _("审核")),
        "insurer_pass": Reach("ReportReviewView.review", _("审核")),
        "insurer_fail": Reach("ReportReviewView.review", _("审核")),
    },
}  # fmt: skip


def allowed(workflow, name, obj, party=None) -> bool:
    """Whether the user may fire transition ``name`` on ``obj`` now: the party by the workflow table, the
    role by its permission (a page shows the transition's form exactly then)."""
    transition = workflow[name]
    party = party or party_of()
    return transition.refusal(obj, party) is None and may(transition.permission, transition.resource)


def workflow_buttons(workflow, obj, party=None):
    """The buttons of ``obj``'s row: every transition the party may fire now and the role may press,
    each once (approve and reject open the same 审核 form)."""
    party = party or party_of()
    reach = REACH.get(workflow.entity_type, {})
    buttons, seen = [], set()
    for transition in workflow.available(obj, party):
        how = reach.get(transition.name)
        if how is None or not may(transition.permission, transition.resource):
            continue
        url = url_for(how.endpoint, **{how.arg: getattr(obj, how.attr)})
        if url in seen:
            continue
        seen.add(url)
        buttons.append(Button(how.label or transition.label, url, how.post, how.confirm, how.style))
    return buttons
