"""The workflow tables, written down a second time by hand (no app needed).

The rows below are the manual's who-may-do-what-in-which-state, spelled out literally: a change to a
table in app/workflows must be mirrored here deliberately (and the manual checked), and a table that
drifts from it fails. The guard (``Workflow.check``) and the buttons (``Workflow.available``) are
checked against these rows too, for every party and every state.
"""

from dataclasses import dataclass

import pytest

from app import workflows

ENT, INS, BRK, ORG, EXP, DEPT = "enterprise", "insurer", "broker", "org", "expert", "department"
PARTIES = (ENT, INS, BRK, ORG, EXP, DEPT)

# (name, label, from states, to states, parties, (resource, permission), needs a comment, guarded)
APPLICATION = [
    ("submit", "提交保单", {"draft", "rejected"}, ("pending_review",), {ENT}, ("Application", "write"), False, False),
    ("withdraw", "撤回", {"pending_review"}, ("draft",), {ENT}, ("Application", "write"), False, False),
    ("approve", "复审通过", {"pending_review"}, ("approved",), {INS, BRK}, ("Application", "review"), False, False),
    ("reject", "复审不通过", {"pending_review"}, ("rejected",), {INS, BRK}, ("Application", "review"), True, False),
    ("issue_policy", "提交", {"approved"}, ("insured",), {INS}, ("Application", "issue"), False, False),
    ("expire", "到期", {"insured"}, ("expired",), set(), ("Application", "issue"), False, False),
    ("surrender", "退保", {"insured"}, ("surrendered",), {INS}, ("Policy", "surrender"), True, False),
]
APPLICATION_STATES = ["draft", "pending_review", "rejected", "approved", "insured", "expired", "surrendered"]

POLICY = [
    ("expire", "到期", {"insured"}, ("expired",), set(), ("Policy", "surrender"), False, False),
    ("surrender", "退保", {"insured"}, ("surrendered",), {INS}, ("Policy", "surrender"), True, False),
]
POLICY_STATES = ["insured", "expired", "surrendered"]

_RO, _ET, _EN, _RR = "ReceivedOrder", "ExpertTask", "EnterpriseTask", "ReportReview"
ORDER = [
    ("accept", "同意", {"pending"}, ("accepted",), {ORG}, (_RO, "accept"), False, False),
    ("refuse", "拒绝", {"pending"}, ("refused",), {ORG}, (_RO, "accept"), True, False),
    ("timeout", "超时", {"pending", "assigned"}, ("timeout",), set(), ("DispatchOrder", "dispatch"), False, False),
    ("redispatch", "再派单", {"refused", "timeout"}, ("redispatched",), {INS}, ("DispatchOrder", "dispatch"), False,
     False),
    ("assign", "派单", {"accepted", "expert_refused"}, ("assigned",), {ORG, INS}, ("DispatchOrder", "assign"), False,
     True),
    ("expert_accept", "同意", {"assigned"}, ("in_service",), {EXP}, (_ET, "handle"), False, False),
    ("expert_refuse", "拒绝", {"assigned"}, ("expert_refused",), {EXP}, (_ET, "handle"), True, False),
    ("submit_report", "提交报告", {"in_service"}, ("rectifying", "org_review", "insurer_review"), {EXP},
     (_ET, "handle"), False, False),
    ("submit_rectification", "提交整改", {"rectifying"}, ("verifying",), {ENT}, (_EN, "rectify"), False, False),
    ("verify", "验收", {"verifying"}, ("rectifying", "org_review", "insurer_review"), {EXP}, (_ET, "handle"), False,
     False),
    ("org_pass", "通过", {"org_review"}, ("insurer_review",), {ORG}, (_RR, "review"), False, False),
    ("org_fail", "不通过", {"org_review"}, ("in_service",), {ORG}, (_RR, "review"), True, False),
    ("insurer_pass", "通过", {"insurer_review"}, ("completed",), {INS}, (_RR, "review"), False, False),
    ("insurer_fail", "不通过", {"insurer_review"}, ("in_service",), {INS}, (_RR, "review"), True, False),
]  # fmt: skip
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
    ("rectify", "整改", {"open", "returned"}, ("submitted",), {ENT}, (_EN, "rectify"), False, False),
    ("pass", "验收合格", {"submitted"}, ("passed",), {EXP}, (_ET, "handle"), False, False),
    ("return", "验收不合格", {"submitted"}, ("returned",), {EXP}, (_ET, "handle"), True, False),
]
HAZARD_STATES = ["open", "submitted", "passed", "returned"]

TABLES = {
    "application": (APPLICATION, APPLICATION_STATES),
    "policy": (POLICY, POLICY_STATES),
    "dispatch_order": (ORDER, ORDER_STATES),
    "hazard": (HAZARD, HAZARD_STATES),
}


@dataclass
class Party:
    kind: str | None
    is_admin: bool = False


@dataclass
class Row:
    status: str
    org_id: int | None = None


def _rows(workflow):
    return [
        (
            t.name,
            str(t.label),
            set(t.sources),
            tuple(t.targets),
            set(t.parties),
            (t.resource, t.permission),
            t.needs_comment,
            t.guard is not None,
        )
        for t in workflow.transitions.values()
    ]


def test_the_workflows_are_exactly_these():
    assert set(workflows.ALL) == set(TABLES)


@pytest.mark.parametrize("entity", sorted(TABLES))
def test_table_rows(entity):
    rows, _states = TABLES[entity]
    assert _rows(workflows.ALL[entity]) == rows


@pytest.mark.parametrize("party", PARTIES)
def test_permissions_of_each_party_are_its_rows(party):
    expected: dict[str, set] = {}
    for rows, _states in TABLES.values():
        for row in rows:
            if party in row[4]:
                expected.setdefault(row[5][0], set()).add(row[5][1])
    assert workflows.permissions_of(party) == expected


@pytest.mark.parametrize("entity", sorted(TABLES))
def test_guard_and_buttons_follow_the_rows(entity):
    rows, states = TABLES[entity]
    workflow = workflows.ALL[entity]
    for kind in PARTIES:
        party = Party(kind)
        for state in states:
            # an org_id on the row: the insurer's 派单 guard refuses it, only the org assigns it
            for row in (Row(state), Row(state, org_id=7)):
                may = [
                    r[0] for r in rows if kind in r[4] and state in r[2] and not (r[7] and kind == INS and row.org_id)
                ]
                assert [t.name for t in workflow.available(row, party)] == may, (kind, state, row)
                for r in rows:
                    if r[0] in may:
                        assert workflow.check(r[0], party, row).name == r[0]
                    else:
                        with pytest.raises(workflows.TransitionError):
                            workflow.check(r[0], party, row)
        assert workflow.states_to_act(kind) == sorted({s for r in rows if kind in r[4] for s in r[2]})


@pytest.mark.parametrize("entity", sorted(TABLES))
def test_admin_passes_the_party_guard_but_not_the_state_guard(entity):
    rows, states = TABLES[entity]
    workflow = workflows.ALL[entity]
    admin = Party(None, is_admin=True)
    for r in rows:
        for state in states:
            row = Row(state, org_id=7)
            if state in r[2]:
                assert workflow.check(r[0], admin, row).name == r[0]
            else:
                with pytest.raises(workflows.TransitionError) as refused:
                    workflow.check(r[0], admin, row)
                assert "当前状态不允许此操作" in str(refused.value)


def test_refusal_reasons():
    application = workflows.ALL["application"]
    with pytest.raises(workflows.TransitionError) as party:
        application.check("approve", Party(ENT), Row("pending_review"))
    assert str(party.value) == "您无权执行此操作" and party.value.forbidden
    with pytest.raises(workflows.TransitionError) as state:
        application.check("approve", Party(INS), Row("approved"))
    assert str(state.value) == "当前状态不允许此操作，可能已被他人处理，请刷新后重试" and not state.value.forbidden
    with pytest.raises(workflows.TransitionError) as guard:
        workflows.ALL["dispatch_order"].check("assign", Party(INS), Row("accepted", org_id=7))
    assert str(guard.value) == "该派单由事故预防机构指派专家" and guard.value.forbidden


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
    rows = [t for wf in workflows.ALL.values() for t in wf.transitions.values()]
    assert all(isinstance(hash(t), int) for t in rows)  # a guarded row too: its Guard is frozen as well
    with pytest.raises(dataclasses.FrozenInstanceError):
        workflows.ALL["dispatch_order"]["assign"].guard.message = "x"


def test_the_assign_guard_compares_kinds_by_value():
    # party kinds are read from the database: equal strings, not the constants' own objects
    org = Party("".join(["o", "r", "g"]))
    assert workflows.ALL["dispatch_order"].check("assign", org, Row("accepted", org_id=7)).name == "assign"


@pytest.mark.parametrize(
    "value,label", [("submit", "提交保单"), ("org_fail", "不通过"), ("terminate", "终止"), ("nothing", "nothing")]
)
def test_action_labels_of_flow_records(value, label):
    assert str(workflows.action_label(value)) == label


@pytest.mark.parametrize(
    "value,label",
    [
        (None, "—"),
        ("", "—"),
        ("draft", "草稿"),
        ("in_service", "服务中"),
        ("open", "待整改"),
        ("passed", "验收合格"),
        ("active", "启用"),
        ("inactive", "停用"),
        ("nothing", "nothing"),
    ],
)
def test_status_labels_of_flow_records(value, label):
    assert str(workflows.status_label(value)) == label
