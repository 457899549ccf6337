"""The compare-and-set of ``transition()`` compares the version, not only the status: an order that left
在服务 and came back (提交报告 → 机构审核 → 不通过 → 在服务) has the same status and a higher version, and a
submit_report by someone who loaded it before the round trip is refused as a Conflict."""

import pytest
from factories.prevention import ctx, order_in, site_photo, user  # noqa: F401  (ctx is a fixture)

from app.extensions import db
from app.models import DispatchOrder
from app.models.enums import OrderStatus as O
from app.services import reviews, visits
from app.services.base import Conflict


def test_stale_submit_report_after_a_round_trip_is_a_conflict(app, ctx):
    oid, _policy, _hazards = order_in("in_service")
    db.session.commit()
    stale = db.session.get(DispatchOrder, oid)  # the expert's page, opened now
    stale_version = stale.version
    assert stale.status == O.IN_SERVICE

    with app.app_context():  # meanwhile, in other requests
        exp, org = user("expert_demo"), user("org_demo")
        visits.sign_in(oid, exp, site_photo())
        visits.save_report(oid, exp, {"service_record": "现场检查脚手架"})
        visits.submit_report(oid, exp)
        assert db.session.get(DispatchOrder, oid).status == O.ORG_REVIEW
        reviews.review(oid, org, False, "服务过程记录不完整")
        db.session.expire_all()
        back = db.session.get(DispatchOrder, oid)
        assert (back.status, back.version) == (O.IN_SERVICE, stale_version + 2)

    # the stale page submits: same status, older version
    assert (stale.status, stale.version) == (O.IN_SERVICE, stale_version)
    with pytest.raises(Conflict) as refused:
        visits.submit_report(oid, user("expert_demo"))
    assert str(refused.value) == "该记录已被他人处理，请刷新后重试"
