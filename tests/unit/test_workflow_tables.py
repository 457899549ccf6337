"""The workflow tables, written down a second time by hand (no app needed).

The rows below are the manual's who-may-do-what-in-which-state, spelled out literally: a change to a
table in app/workflows must be mirrored here deliberately (and the manual checked), and a table that
drifts from it fails. The guard (``Workflow.check``) and the buttons (``Workflow.available``) are
checked against these rows too, for every party and every state.
"""

import pytest

from app import workflows

ENT, INS, BRK, ORG, EXP, DEPT = "enterprise", "insurer", "broker", "org", "expert", "department"
PARTIES = (ENT, INS, BRK, ORG, EXP, DEPT)

# (name, label, from states, to states, parties, permission, needs a comment)
APPLICATION = [
    ("submit", "提交保单", {"draft", "rejected"}, ("pending_review",), {ENT}, "write", False),
    ("approve", "复审通过", {"pending_review"}, ("approved",), {INS, BRK}, "review", False),
    ("reject", "复审不通过", {"pending_review"}, ("rejected",), {INS, BRK}, "review", True),
    ("issue_policy", "提交", {"approved"}, ("insured",), {INS}, "issue", False),
    ("expire", "到期", {"insured"}, ("expired",), set(), "issue", False),
    ("surrender", "退保", {"insured"}, ("surrendered",), {INS}, "issue", True),
]
APPLICATION_STATES = ["draft", "pending_review", "rejected", "approved", "insured", "expired", "surrendered"]

ORDER = [
    ("accept", "同意", {"pending"}, ("accepted",), {ORG}, "accept", False),
    ("refuse", "拒绝", {"pending"}, ("refused",), {ORG}, "accept", True),
    ("timeout", "超时", {"pending", "assigned"}, ("timeout",), set(), "dispatch", False),
    ("redispatch", "再派单", {"refused", "timeout"}, ("redispatched",), {INS}, "dispatch", False),
    ("assign", "派单", {"accepted", "expert_refused"}, ("assigned",), {ORG, INS}, "assign", False),
    ("expert_accept", "同意", {"assigned"}, ("in_service",), {EXP}, "handle", False),
    ("expert_refuse", "拒绝", {"assigned"}, ("expert_refused",), {EXP}, "handle", True),
    (
        "submit_report",
        "提交报告",
        {"in_service"},
        ("rectifying", "org_review", "insurer_review"),
        {EXP},
        "handle",
        False,
    ),
    ("submit_rectification", "提交整改", {"rectifying"}, ("verifying",), {ENT}, "rectify", False),
    ("verify", "验收", {"verifying"}, ("rectifying", "org_review", "insurer_review"), {EXP}, "handle", False),
    ("org_pass", "通过", {"org_review"}, ("insurer_review",), {ORG}, "review", False),
    ("org_fail", "不通过", {"org_review"}, ("in_service",), {ORG}, "review", True),
    ("insurer_pass", "通过", {"insurer_review"}, ("completed",), {INS}, "review", False),
    ("insurer_fail", "不通过", {"insurer_review"}, ("in_service",), {INS}, "review", True),
]
ORDER_STATES = [
    "pending",
    "accepted",
    "refused",
    "timeout",
    "redispatched",
    "assigned",
    "expert_refused",
    "in_service",
    "rectifying",
    "verifying",
    "org_review",
    "insurer_review",
    "completed",
]

HAZARD = [
    ("rectify", "整改", {"open", "returned"}, ("submitted",), {ENT}, "rectify", False),
    ("pass", "验收合格", {"submitted"}, ("passed",), {EXP}, "handle", False),
    ("return", "验收不合格", {"submitted"}, ("returned",), {EXP}, "handle", True),
]
HAZARD_STATES = ["open", "submitted", "passed", "returned"]

TABLES = {
    "application": ("Application", APPLICATION, APPLICATION_STATES),
    "dispatch_order": ("DispatchOrder", ORDER, ORDER_STATES),
    "hazard": ("DispatchOrder", HAZARD, HAZARD_STATES),
}


def _rows(workflow):
    return [
        (t.name, str(t.label), set(t.sources), tuple(t.targets), set(t.parties), t.permission, t.needs_comment)
        for t in workflow.transitions.values()
    ]


def test_the_workflows_are_exactly_these():
    assert set(workflows.ALL) == set(TABLES)


@pytest.mark.parametrize("entity", sorted(TABLES))
def test_table_rows(entity):
    resource, rows, _states = TABLES[entity]
    workflow = workflows.ALL[entity]
    assert workflow.resource == resource
    assert _rows(workflow) == rows
    assert workflow.permissions() == sorted({r[5] for r in rows})


@pytest.mark.parametrize("entity", sorted(TABLES))
def test_guard_and_buttons_follow_the_rows(entity):
    _resource, rows, states = TABLES[entity]
    workflow = workflows.ALL[entity]
    for party in PARTIES:
        for state in states:
            may = [name for name, _l, sources, _t, parties, _p, _c in rows if party in parties and state in sources]
            assert [t.name for t in workflow.available(party, state)] == may, (party, state)
            for name, _l, sources, _t, parties, _p, _c in rows:
                if party in parties and state in sources:
                    assert workflow.check(name, party, state).name == name
                else:
                    with pytest.raises(workflows.TransitionError):
                        workflow.check(name, party, state)


@pytest.mark.parametrize("entity", sorted(TABLES))
def test_admin_passes_the_party_guard_but_not_the_state_guard(entity):
    _resource, rows, states = TABLES[entity]
    workflow = workflows.ALL[entity]
    for name, _l, sources, _t, _parties, _p, _c in rows:
        for state in states:
            if state in sources:
                assert workflow.check(name, None, state, is_admin=True).name == name
            else:
                with pytest.raises(workflows.TransitionError) as refused:
                    workflow.check(name, None, state, is_admin=True)
                assert "当前状态不允许此操作" in str(refused.value)


def test_refusal_reasons():
    with pytest.raises(workflows.TransitionError) as party:
        workflows.ALL["application"].check("approve", ENT, "pending_review")
    assert str(party.value) == "您无权执行此操作"
    with pytest.raises(workflows.TransitionError) as state:
        workflows.ALL["application"].check("approve", INS, "approved")
    assert str(state.value) == "当前状态不允许此操作，可能已被他人处理，请刷新后重试"


def test_single_target_and_choice():
    order = workflows.ALL["dispatch_order"]
    assert order["accept"].target == "accepted"
    assert order["submit_report"].target is None  # the service picks one of the three


def test_transitions_are_constants():
    import dataclasses

    t = workflows.ALL["application"]["submit"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.sources = frozenset({"approved"})
    assert {t: 1}[t] == 1  # hashable: a frozen row
