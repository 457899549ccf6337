"""Dispatch orders: the ORDER table enforced by the services, dispatch rules, refusal and re-dispatch
chains, assignment to experts, timeouts (service and `flask orders check-timeouts`)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from factories.prevention import (  # noqa: F401  (ctx is a fixture)
    ROLE_USERS,
    ctx,
    make_policy,
    order_data,
    order_in,
    title_id,
    user,
)
from factories.prevention import (
    fresh_order as _order,
)

from app import clock
from app.models.enums import OrderStatus as O
from app.services.base import Conflict, Forbidden, Invalid, NotFound
from app.workflows import ORDER


def _events(oid):
    from app.extensions import db
    from app.models import FlowEvent

    return (
        db.session.query(FlowEvent).filter_by(entity_type="dispatch_order", entity_id=oid).order_by(FlowEvent.id).all()
    )


# --- the workflow table, as the services apply it ------------------------------------------------


def _call(name, oid, username):
    from app.services import orders

    actor = user(username)
    expert_id = user("expert_demo").expert_id
    return {
        "accept": lambda: orders.accept(oid, actor),
        "refuse": lambda: orders.refuse(oid, actor, "理由"),
        "assign": lambda: orders.assign(oid, actor, expert_id),
        "expert_accept": lambda: orders.expert_accept(oid, actor),
        "expert_refuse": lambda: orders.expert_refuse(oid, actor, "理由"),
        "redispatch": lambda: orders.redispatch(oid, actor, order_data()),
    }[name]()


TABLE_CASES = [
    ("accept", "pending"),
    ("refuse", "pending"),
    ("assign", "accepted"),
    ("assign", "expert_refused"),
    ("expert_accept", "assigned"),
    ("expert_refuse", "assigned"),
    ("redispatch", "refused"),
    ("redispatch", "timeout"),
]


@pytest.mark.parametrize("name,state", TABLE_CASES)
@pytest.mark.parametrize("role", sorted(ROLE_USERS))
def test_dispatch_workflow_table(ctx, name, state, role):
    """From each source state, a transition succeeds exactly for the parties the table names (and the
    rows the scope shows them); every success writes its FlowEvent."""
    t = ORDER[name]
    assert state in t.sources
    oid, _pid, _h = order_in(state)
    before = len(_events(oid))
    # Beyond the table: an insurer assigns experts only on orders it gave to its own experts.
    allowed = role in t.parties and not (name == "assign" and role == "insurer")
    if allowed:
        _call(name, oid, ROLE_USERS[role])
        order = _order(oid)
        assert order.status in t.targets
        assert _events(oid)[before].action == name
        assert _events(oid)[before].from_status == state
    else:
        with pytest.raises((Conflict, Forbidden, NotFound)):
            _call(name, oid, ROLE_USERS[role])
        assert _order(oid).status == state
        assert len(_events(oid)) == before


@pytest.mark.parametrize("name", ["accept", "refuse", "assign", "expert_accept", "expert_refuse"])
def test_transition_refused_from_a_wrong_state(ctx, name):
    wrong = "completed"
    assert wrong not in ORDER[name].sources
    oid, _p, _h = order_in(wrong, hazards=0)
    parties = ORDER[name].parties
    party = "org" if "org" in parties else sorted(parties)[0]
    with pytest.raises(Conflict):
        _call(name, oid, ROLE_USERS[party])
    assert _order(oid).status == wrong


def test_double_accept_is_a_conflict_not_a_second_event(ctx):
    from app.services import orders

    oid, _p, _h = order_in("pending")
    orders.accept(oid, user("org_demo"))
    with pytest.raises(Conflict):
        orders.accept(oid, user("org_demo"))
    assert [e.action for e in _events(oid)] == ["dispatch", "accept"]


def test_stale_version_loses_the_compare_and_set(ctx):
    """Two clicks that read the same version: the second UPDATE matches no row."""
    from app.extensions import db
    from app.services.base import transition

    oid, _p, _h = order_in("pending")
    org = user("org_demo")
    stale = _order(oid)
    db.session.expunge(stale)
    from app.services import orders

    orders.accept(oid, org)
    stale_copy = db.session.merge(stale, load=False)
    with pytest.raises(Conflict):
        transition(stale_copy, ORDER, "refuse", org, comment="迟到的拒绝")
    assert _order(oid).status == O.ACCEPTED


# --- dispatch ------------------------------------------------------------------------------------


def test_dispatch_many_policies_creates_one_order_each(ctx):
    from app.services import orders

    policies = [make_policy(), make_policy()]
    created = orders.dispatch(user("insurer_picc"), [p.id for p in policies], order_data())
    assert [o.policy_id for o in created] == [p.id for p in policies]
    for order in created:
        assert order.status == O.PENDING
        assert order.order_no.startswith("PD" + clock.today().strftime("%Y%m%d")) and len(order.order_no) == 16
        assert order.fee == Decimal("1000.00")
        assert {i.code for i in order.service_items} == {"S02", "S04"}
        assert [e.action for e in _events(order.id)] == ["dispatch"]
    assert len({o.order_no for o in created}) == 2


@pytest.mark.parametrize(
    "overrides,field",
    [
        (dict(end_date=(clock.today() - timedelta(days=1)).isoformat()), "end_date"),
        (dict(deadline=(clock.today() - timedelta(days=1)).isoformat()), "deadline"),
        (dict(deadline=(clock.today() + timedelta(days=60)).isoformat()), "deadline"),
        (dict(start_date="2026-13-01"), "start_date"),
        (dict(service_item_ids=[]), "service_item_ids"),
        (dict(service_place="  "), "service_place"),
        (dict(org_id=None), "org_id"),
        (dict(fee="-5"), "fee"),
        (dict(fee="abc"), "fee"),
    ],
)
def test_dispatch_bad_input_saves_nothing(ctx, overrides, field):
    from app.extensions import db
    from app.models import DispatchOrder
    from app.services import orders

    policy = make_policy()
    with pytest.raises(Invalid) as err:
        orders.dispatch(user("insurer_picc"), [policy.id], order_data(**overrides))
    assert field in err.value.errors
    assert db.session.query(DispatchOrder).filter_by(policy_id=policy.id).count() == 0


def test_dispatch_only_by_the_policys_insurer(ctx):
    from app.services import orders

    policy = make_policy(insurer="人保财险")
    with pytest.raises(NotFound):
        orders.dispatch(user("insurer_pingan"), [policy.id], order_data())
    with pytest.raises(Forbidden):
        orders.dispatch(user("org_demo"), [policy.id], order_data())


def test_dispatch_refuses_a_policy_not_in_force(ctx):
    from app.services import orders

    policy = make_policy(status="surrendered")
    with pytest.raises(Invalid):
        orders.dispatch(user("insurer_picc"), [policy.id], order_data())


def test_fee_may_not_exceed_the_policys_prevention_fund(ctx):
    """Fund = premium × prevention_fee_share (0.21): 10,000 元 premium → 2,100 元."""
    from app.extensions import db
    from app.models import DispatchOrder, Setting
    from app.services import orders

    ins, org = user("insurer_picc"), user("org_demo")
    policy = make_policy(premium="10000.00")
    [first] = orders.dispatch(ins, [policy.id], order_data(fee="1500"))
    with pytest.raises(Invalid) as err:
        orders.dispatch(ins, [policy.id], order_data(fee="700"))
    assert "2,100.00" in str(err.value.message) and "1,500.00" in str(err.value.message)
    orders.dispatch(ins, [policy.id], order_data(fee="600"))
    # A refused order no longer draws on the fund: its re-dispatch may carry the fee again.
    orders.refuse(first.id, org, "无法承接")
    orders.redispatch(first.id, ins, order_data(fee="1500"))
    assert db.session.query(DispatchOrder).filter_by(policy_id=policy.id).count() == 3
    # The share is a setting.
    setting = db.session.get(Setting, "prevention_fee_share")
    setting.value = "0.05"
    db.session.commit()
    try:
        with pytest.raises(Invalid):
            orders.dispatch(ins, [make_policy(premium="10000.00").id], order_data(fee="501"))
    finally:
        setting.value = "0.21"
        db.session.commit()


def test_the_fund_used_is_the_policys_own_serving_orders_less_the_one_edited(ctx):
    """What the fund check subtracts: the fees of this policy's orders that still draw on its fund
    (a refused one no longer does), without the order whose terms are being changed."""
    from app.services import orders

    ins, org = user("insurer_picc"), user("org_demo")
    policy, later = make_policy(premium="100000.00"), make_policy(premium="100000.00")
    assert orders.fund_used(policy.id) == Decimal("0")
    [first] = orders.dispatch(ins, [policy.id], order_data(fee="1500"))
    [second] = orders.dispatch(ins, [policy.id], order_data(fee="600.50"))
    orders.dispatch(ins, [later.id], order_data(fee="900"))  # another policy, of a higher id
    assert orders.fund_used(policy.id) == Decimal("2100.50")
    assert orders.fund_used(policy.id, exclude_order_id=first.id) == Decimal("600.50")
    assert orders.fund_used(policy.id, exclude_order_id=second.id) == Decimal("1500")
    orders.refuse(first.id, org, "无法承接")
    assert orders.fund_used(policy.id) == Decimal("600.50")
    assert orders.fund_used(later.id) == Decimal("900")


# --- refusal and re-dispatch chains ---------------------------------------------------------------


def test_refusal_and_redispatch_chain(ctx):
    from app.services import orders

    ins, org = user("insurer_picc"), user("org_demo")
    oid, pid, _h = order_in("pending")
    orders.refuse(oid, org, "本机构专家已满负荷")
    first = _order(oid)
    assert first.status == O.REFUSED and first.refuse_reason == "本机构专家已满负荷"
    assert _events(oid)[-1].comment == "本机构专家已满负荷"
    second = orders.redispatch(oid, ins, order_data())
    assert _order(oid).status == O.REDISPATCHED
    assert second.parent_id == oid and second.policy_id == pid and second.status == O.PENDING
    assert [e.action for e in _events(second.id)] == ["redispatch"]
    # refused again, then timed out, then re-dispatched: a chain of three parents
    orders.refuse(second.id, org, "仍无法承接")
    third = orders.redispatch(second.id, ins, order_data())
    orders.check_timeouts(date.fromisoformat(order_data()["deadline"]) + timedelta(days=1))
    assert _order(third.id).status == O.TIMEOUT
    fourth = orders.redispatch(third.id, ins, order_data())
    chain, node = [], _order(fourth.id)
    while node is not None:
        chain.append(node.id)
        node = node.parent
    assert chain == [fourth.id, third.id, second.id, oid]
    with pytest.raises(Conflict):  # an order is re-dispatched once
        orders.redispatch(third.id, ins, order_data())


def test_refusal_needs_a_reason(ctx):
    from app.services import orders

    oid, _p, _h = order_in("pending")
    with pytest.raises(Invalid):
        orders.refuse(oid, user("org_demo"), "  ")
    assert _order(oid).status == O.PENDING


def test_redispatch_with_bad_input_keeps_the_old_order_open(ctx):
    from app.services import orders

    oid, _p, _h = order_in("refused")
    with pytest.raises(Invalid):
        orders.redispatch(oid, user("insurer_picc"), order_data(service_item_ids=[]))
    assert _order(oid).status == O.REFUSED


# --- assignment -----------------------------------------------------------------------------------


def _expert(name, title_code, username_org="org_demo", active=True, company=None):
    from app.demo.data import make_id_number
    from app.extensions import db
    from app.models import Expert, InsuranceCompany

    n = db.session.query(Expert).count() + 500
    kwargs = (
        {"company_id": db.session.query(InsuranceCompany).filter_by(short_name=company).one().id}
        if company
        else {"org_id": user(username_org).org_id}
    )
    expert = Expert(
        name=name,
        mobile="13900000000",
        id_number=make_id_number("230103", date(1980, 1, 1), n % 1000),
        title_level_id=title_id(title_code),
        qualification="注册安全工程师",
        active=active,
        **kwargs,
    )
    db.session.add(expert)
    db.session.commit()
    return expert


def test_assign_checks_title_activity_and_affiliation(ctx):
    from app.services import orders

    org = user("org_demo")
    oid, _p, _h = order_in("accepted", required_title_id=title_id("senior"))
    junior = _expert("初级专家", "junior")
    with pytest.raises(Invalid) as err:
        orders.assign(oid, org, junior.id)
    assert "职称" in str(err.value.message)
    retired = _expert("解约专家", "principal", active=False)
    with pytest.raises(Invalid) as err:
        orders.assign(oid, org, retired.id)
    assert "解约" in str(err.value.message)
    foreign = _expert("保险公司专家", "principal", company="人保财险")
    with pytest.raises(Invalid):
        orders.assign(oid, org, foreign.id)
    assert _order(oid).status == O.ACCEPTED
    orders.assign(oid, org, user("expert_demo").expert_id)
    assert _order(oid).status == O.ASSIGNED


def test_expert_refusal_goes_back_to_the_org_which_reassigns(ctx):
    from app.services import orders

    org, exp = user("org_demo"), user("expert_demo")
    oid, _p, _h = order_in("expert_refused")
    assert _events(oid)[-1].comment == "时间冲突"
    other = _expert("李专家", "senior")
    orders.assign(oid, org, other.id)
    order = _order(oid)
    assert order.status == O.ASSIGNED and order.expert_id == other.id
    with pytest.raises(NotFound):  # the first expert no longer sees it
        orders.expert_accept(oid, exp)


def test_insurer_dispatches_to_its_own_expert(ctx):
    from app.extensions import db
    from app.models import AppUser
    from app.services import orders

    own = _expert("人保自有专家", "senior", company="人保财险")
    policy = make_policy()
    [order] = orders.dispatch(user("insurer_picc"), [policy.id], order_data(org_id=None, expert_id=own.id))
    assert order.status == O.ASSIGNED and order.org_id is None and order.expert_id == own.id
    other = _expert("平安专家", "senior", company="平安财险")
    with pytest.raises(Invalid):
        orders.dispatch(user("insurer_picc"), [make_policy().id], order_data(org_id=None, expert_id=other.id))
    # the expert refuses; the insurer re-assigns another own expert, who accepts
    accounts = []
    for expert in (own, _expert("人保自有专家二", "principal", company="人保财险")):
        accounts.append(
            AppUser(
                username=f"expert_own_{expert.id}",
                first_name="自有",
                last_name="专家",
                email=f"own{expert.id}@example.invalid",
                active=True,
                party_kind="expert",
                expert_id=expert.id,
            )
        )
    db.session.add_all(accounts)
    db.session.commit()
    orders.expert_refuse(order.id, accounts[0], "外地出差")
    assert _order(order.id).status == O.EXPERT_REFUSED
    with pytest.raises(Invalid):  # an org's expert is not the insurer's to assign
        orders.assign(order.id, user("insurer_picc"), user("expert_demo").expert_id)
    orders.assign(order.id, user("insurer_picc"), accounts[1].expert_id)
    orders.expert_accept(order.id, accounts[1])
    assert _order(order.id).status == O.IN_SERVICE


# --- timeouts -------------------------------------------------------------------------------------


def test_check_timeouts_marks_unaccepted_orders_and_is_idempotent(ctx):
    from app.services import orders

    deadline = clock.today() + timedelta(days=2)
    orders.check_timeouts(deadline + timedelta(days=1))  # the demo's own orders first (rolled back after the test)
    pending, _p, _h = order_in("pending", deadline=deadline.isoformat())
    accepted, _p, _h = order_in("accepted", deadline=deadline.isoformat())
    assigned_after_accept, _p, _h = order_in("assigned", deadline=deadline.isoformat())
    later, _p, _h = order_in("pending", deadline=(deadline + timedelta(days=5)).isoformat())
    assert orders.check_timeouts(deadline) == 0  # the deadline day itself is still in time
    assert orders.check_timeouts(deadline + timedelta(days=1)) == 1  # the pending one only
    assert _order(pending).status == O.TIMEOUT
    assert _order(accepted).status == O.ACCEPTED
    assert _order(assigned_after_accept).status == O.ASSIGNED
    assert _order(later).status == O.PENDING
    event = _events(pending)[-1]
    assert event.action == "timeout" and event.user_id is None
    assert orders.check_timeouts(deadline + timedelta(days=1)) == 0
    assert len(_events(pending)) == 2


def test_check_timeouts_command(app, ctx):
    runner = app.test_cli_runner()
    deadline = clock.today() + timedelta(days=3)
    oid, _p, _h = order_in("pending", deadline=deadline.isoformat())
    day = (deadline + timedelta(days=1)).isoformat()
    result = runner.invoke(args=["orders", "check-timeouts", "--today", day])
    assert result.exit_code == 0, result.output
    assert "timed out:" in result.output
    assert _order(oid).status == O.TIMEOUT
    again = runner.invoke(args=["orders", "check-timeouts", "--today", day])
    assert again.output.strip() == "timed out: 0"


@pytest.mark.parametrize(
    "command", [["orders", "check-timeouts"], ["policies", "expire"], ["webhooks", "scan"]], ids=" ".join
)
def test_scheduled_jobs_refuse_a_malformed_day(app, command):
    result = app.test_cli_runner().invoke(args=[*command, "--today", "2026-13-01"])
    assert result.exit_code == 2  # click's usage error
    assert "Invalid value for '--today'" in result.output and "Traceback" not in result.output
