"""The premium proposal (investment × rate × (1 + float ratio), at least the minimum), the deviation
rule, the ledger number and the policy form's checks."""

import re
from datetime import date
from decimal import Decimal

import pytest
from factories import insurance as f

from app import clock
from app.extensions import db
from app.models import Application, FloatRule, Policy, StoredFile
from app.models.enums import ApplicationStatus as A
from app.services import applications, claims, policies
from app.services.base import Forbidden, Invalid


def test_premium_formula_and_minimum(db_session):
    plan = f.plan("C")
    assert policies.premium_for(Decimal("1000"), plan, Decimal("0")) == (Decimal("1000") * 10000 * plan.rate).quantize(
        Decimal("0.01")
    )
    assert policies.premium_for(Decimal("1000"), plan, Decimal("0.10")) == (
        Decimal("1000") * 10000 * plan.rate * Decimal("1.10")
    ).quantize(Decimal("0.01"))
    assert policies.premium_for(Decimal("0.5"), plan, Decimal("0.3")) == plan.min_premium


def test_float_rule_picks_the_heaviest_matching_row(db_session):
    pairs = [(0, 0), (0, 2), (1, 0), (2, 0), (2, 9), (3, 5), (7, 0)]
    ratios = {(d, i): policies.float_rule_for(d, i).ratio for d, i in pairs}
    by_name = {r.name: r.ratio for r in db.session.query(FloatRule)}
    assert ratios[(0, 0)] == by_name["上年度无伤亡事故"]
    assert ratios[(0, 2)] == by_name["上年度发生伤残事故"]
    # a row's thresholds are minimums: 2 deaths meet 1人及以上, 7 meet 3人及以上
    assert ratios[(1, 0)] == ratios[(2, 0)] == ratios[(2, 9)] == by_name["上年度发生1人及以上死亡事故"]
    assert ratios[(3, 5)] == ratios[(7, 0)] == by_name["上年度发生3人及以上死亡事故（较大及以上事故）"]


def test_prior_year_claims_raise_the_proposal(db_session):
    account = f.make_enterprise_user()
    first = f.make_application("insured", enterprise=account.username, investment="2000")
    clean = policies.propose_premium(db.session.get(Application, first.id))
    assert clean["float_ratio"] == 0 and clean["deaths"] == 0 and clean["injuries"] == 0
    last_year = date(clock.today().year - 1, 6, 1)
    claims.add_claim(
        first.policy.id,
        f.user("insurer_picc"),
        dict(injured_count=0, death_count=1, estimated_loss="500000", submitted_date=last_year.isoformat()),
    )
    claims.add_claim(
        first.policy.id,
        f.user("insurer_picc"),
        dict(injured_count=4, death_count=0, submitted_date=clock.today().isoformat()),
    )  # this year: not counted
    second = f.make_application("approved", enterprise=account.username, investment="2000")
    proposal = policies.propose_premium(second)
    assert (proposal["deaths"], proposal["injuries"]) == (1, 0)
    assert proposal["rule"].name == "上年度发生1人及以上死亡事故"
    plan = second.plan
    assert proposal["proposed"] == policies.premium_for(Decimal("2000"), plan, proposal["rule"].ratio)
    assert proposal["proposed"] > clean["proposed"]


def test_deviation_beyond_tolerance_needs_a_reason(db_session):
    app = f.make_application("approved")
    proposed = policies.propose_premium(app)["proposed"]
    high = (proposed * Decimal("1.5")).quantize(Decimal("0.01"))
    with pytest.raises(Invalid) as exc:
        policies.issue_policy(app.id, f.user("insurer_picc"), f.issue_data(app, premium=str(high)), f.policy_files())
    assert "premium_deviation_reason" in exc.value.errors
    db.session.expire_all()
    assert db.session.get(Application, app.id).status == A.APPROVED
    within = (proposed * Decimal("1.05")).quantize(Decimal("0.01"))
    policy = policies.issue_policy(
        app.id, f.user("insurer_picc"), f.issue_data(app, premium=str(within)), f.policy_files()
    )
    assert policy.premium == within and policy.proposed_premium == proposed


def test_deviation_with_reason_is_recorded(db_session):
    app = f.make_application("approved")
    proposed = policies.propose_premium(app)["proposed"]
    policy = policies.issue_policy(
        app.id,
        f.user("insurer_picc"),
        f.issue_data(app, premium=str(proposed * 2), premium_deviation_reason="高风险深基坑工程，按再保条件上浮"),
        f.policy_files(),
    )
    assert policy.premium_deviation_reason.startswith("高风险")


def test_ledger_number_and_same_transaction(db_session):
    app = f.make_application("insured")
    policy = app.policy
    assert re.fullmatch(r"CB-\d{8}-\d{6}-[0-9A-F]{7}", policy.ledger_no)
    assert app.project.insurance_status == A.INSURED
    assert policy.policy_file.owner_type == "policy" and policy.policy_file.owner_id == policy.id
    numbers = {policies.new_ledger_no() for _ in range(50)}
    assert len(numbers) == 50


def test_policy_number_unique_per_insurer(db_session):
    first = f.make_application("insured")
    second = f.make_application("approved")
    with pytest.raises(Invalid) as exc:
        policies.issue_policy(
            second.id, f.user("insurer_picc"), f.issue_data(second, policy_no=first.policy.policy_no), f.policy_files()
        )
    assert "policy_no" in exc.value.errors
    other = f.make_application("approved", insurer="平安财险", enterprise="enterprise_demo2")
    policy = policies.issue_policy(
        other.id, f.user("insurer_pingan"), f.issue_data(other, policy_no=first.policy.policy_no), f.policy_files()
    )
    assert policy.policy_no == first.policy.policy_no


def test_end_date_after_start_and_agreement_required(db_session):
    app = f.make_application("approved")
    with pytest.raises(Invalid) as exc:
        policies.issue_policy(
            app.id,
            f.user("insurer_picc"),
            f.issue_data(app, start_date="2026-05-01", end_date="2026-05-01", agreed=""),
            f.policy_files(),
        )
    assert {"end_date", "agreed"} <= set(exc.value.errors)


def test_bad_policy_file_leaves_nothing_behind(app, db_session):
    import io
    import os

    from werkzeug.datastructures import FileStorage

    made = f.make_application("approved")
    root = app.config["FILE_STORAGE_ROOT"]
    files_before = sum(len(names) for _d, _s, names in os.walk(root))
    rows_before = db.session.query(StoredFile).count()
    bad = {
        "policy_file": FileStorage(stream=io.BytesIO(b"<html>not a pdf</html>"), filename="保单.pdf"),
        "agreement_file": f.pdf_upload("协议.pdf"),
    }
    with pytest.raises(Invalid) as exc:
        policies.issue_policy(made.id, f.user("insurer_picc"), f.issue_data(made), bad)
    assert "policy_file" in exc.value.errors
    assert db.session.query(StoredFile).count() == rows_before
    assert sum(len(names) for _d, _s, names in os.walk(root)) == files_before
    assert db.session.query(Policy).filter_by(application_id=made.id).count() == 0


def test_claims_total_and_timeline(db_session):
    from app.models import FlowEvent

    made = f.make_application("insured")
    insurer = f.user("insurer_picc")
    claim = claims.add_claim(
        made.policy.id,
        insurer,
        dict(injured_count=1, death_count=0, settled_amount="100.50", settled_date=clock.today().isoformat()),
    )
    claims.add_claim(
        made.policy.id,
        insurer,
        dict(injured_count=0, death_count=0, settled_amount="99.50", settled_date=clock.today().isoformat()),
    )
    assert claims.settled_total(made.policy.id) == Decimal("200.00")
    claims.update_claim(
        claim.id,
        insurer,
        dict(
            injured_count=2,
            death_count=0,
            settled_amount="100.50",
            settled_date=clock.today().isoformat(),
            remark="补充伤者",
        ),
    )
    events = db.session.query(FlowEvent).filter_by(entity_type="policy", entity_id=made.policy.id).all()
    assert [e.action for e in events].count("claim_add") == 2
    update = [e for e in events if e.action == "claim_update"][0]
    assert "伤残人数: 2" in update.comment and "补充伤者" in update.comment
    with pytest.raises(Invalid):
        claims.add_claim(made.policy.id, insurer, dict(injured_count=-1, death_count=0, remark="x" * 501))
    with pytest.raises(Forbidden):
        claims.add_claim(made.policy.id, f.user("broker_kunlun"), dict(injured_count=0, death_count=0))


def test_new_application_refused_while_one_is_open(db_session):
    made = f.make_application("pending_review")
    from app.services.base import Conflict

    with pytest.raises(Conflict):
        applications.save_application(
            f.user("enterprise_demo"), made.project_id, f.application_data(), f.application_files()
        )


def test_broker_partners_only(db_session):
    project = f.make_project()
    with pytest.raises(Invalid) as exc:
        applications.save_application(
            f.user("enterprise_demo"), project.id, f.application_data(insurer="平安财险", broker="昆仑保险经纪"), {}
        )
    assert "insurer_id" in exc.value.errors


def test_submit_requires_every_upload_and_the_agreement(db_session):
    project = f.make_project()
    ent = f.user("enterprise_demo")
    data = dict(f.application_data(), agreed="")
    made = applications.save_application(ent, project.id, data, {"business_license": f.pdf_upload()})
    with pytest.raises(Invalid) as exc:
        applications.submit(made.id, ent)
    assert {"contract", "agreement", "agreed"} <= set(exc.value.errors)
    assert "business_license" not in exc.value.errors
    db.session.expire_all()
    assert db.session.get(Application, made.id).status == A.DRAFT
