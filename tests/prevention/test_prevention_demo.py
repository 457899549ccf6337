"""The demo stage builds, through the services, an order in every state on 人保财险's insured
policies of enterprise_demo — and nothing when there is no such policy."""

from factories.prevention import ctx, make_policy  # noqa: F401  (ctx is a fixture)

from app.models.enums import OrderStatus


def _orders(policy_ids):
    from app.extensions import db
    from app.models import DispatchOrder

    return db.session.query(DispatchOrder).filter(DispatchOrder.policy_id.in_(policy_ids)).all()


def test_demo_stage_covers_every_state(ctx):
    from app.demo import prevention as demo_prevention

    policies = [make_policy(premium="98000"), make_policy(premium="98000")]
    foreign = make_policy(insurer="平安财险", enterprise_user=None)
    demo_prevention.build(None, policies=policies + [foreign])
    orders = _orders([p.id for p in policies])
    assert {o.status for o in orders} == set(OrderStatus.values())
    assert _orders([foreign.id]) == []
    [done] = [o for o in orders if o.status == OrderStatus.COMPLETED]
    assert done.visit.signin_source == "exif" and done.visit.report_file.kind == "report_pdf"
    assert len(done.hazards) == 4 and any(h.standard_id for h in done.hazards)
    kinds = {p.kind for h in done.hazards for p in h.photos}
    assert kinds == {"hazard", "rectification"}
    assert [(r.stage, r.verdict) for r in done.reviews] == [("org", "pass"), ("insurer", "pass")]
    assert [o for o in orders if o.parent_id]  # a re-dispatch chain


def test_demo_stage_without_insured_policies_does_nothing(ctx):
    from app.demo import prevention as demo_prevention
    from app.extensions import db
    from app.models import DispatchOrder

    before = db.session.query(DispatchOrder).count()
    demo_prevention.build(None, policies=[])
    demo_prevention.build(None, policies=[make_policy(insurer="平安财险", enterprise_user=None)])
    assert db.session.query(DispatchOrder).count() == before
