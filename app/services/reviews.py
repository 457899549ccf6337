"""报告审核: the org's and the insurer's verdicts on a service report.

The stage follows the order's state: 待审核 is the org's review, 待保险机构审核 the insurer's. The
insurer's pass completes the order and archives the 事故预防服务报告 PDF with the visit.
"""

from flask_babel import lazy_gettext as _

from app.extensions import db
from app.models import DispatchOrder, Review
from app.models.base import utcnow
from app.models.enums import OrderStatus as O
from app.models.enums import PartyKind as P
from app.models.enums import ReviewStage, Verdict
from app.storage import attach, store_bytes
from app.workflows import ORDER

from .base import Conflict, Invalid, fetch, transition, unit_of_work

STAGES = {
    O.ORG_REVIEW: (ReviewStage.ORG, "org_pass", "org_fail"),
    O.INSURER_REVIEW: (ReviewStage.INSURER, "insurer_pass", "insurer_fail"),
}


# Who reads the generated report while it is under review: the reviewers (org, insurer and its broker)
# and its author; once the insurer has passed it, whoever sees the order.
REVIEW_READERS = (P.ORG, P.INSURER, P.BROKER, P.EXPERT)


def report_available(order, party) -> bool:
    """Whether ``party`` may download the order's report now: at every review stage (marked 草稿,
    ``is_draft``) for the reviewers, once completed for anyone in the order's scope."""
    if order.status == O.COMPLETED:
        return True
    return order.status in STAGES and party.kind in REVIEW_READERS


def is_draft(order) -> bool:
    """The report is a 草稿 until the insurer's verdict completes the order."""
    return order.status != O.COMPLETED


def awaiting(party):
    """The order states whose reports await this party's review: the org's 待审核, the insurer's (and its
    broker's, to read) 待保险机构审核; other parties see both stages."""
    kind = party.kind
    if kind == P.ORG:
        return [O.ORG_REVIEW]
    if kind in (P.INSURER, P.BROKER):
        return [O.INSURER_REVIEW]
    return list(STAGES)


def review(order_id, user, passed: bool, opinion):
    """通过 / 不通过 with an opinion (required when failing). A fail returns the order to the expert."""
    opinion = (opinion or "").strip()
    with unit_of_work():
        order = fetch(DispatchOrder, order_id, user)
        if order.status not in STAGES:
            raise Conflict(_("当前状态不允许此操作，可能已被他人处理，请刷新后重试"))
        if not passed and not opinion:
            raise Invalid(_("审核不通过时请填写审核意见"), errors={"opinion": [_("请填写审核意见")]})
        if len(opinion) > 2000:
            raise Invalid(_("审核意见过长"), errors={"opinion": [_("审核意见过长")]})
        stage, pass_name, fail_name = STAGES[order.status]
        values = {}
        completing = passed and stage == ReviewStage.INSURER
        if completing:
            values["completed_at"] = utcnow()
        transition(order, ORDER, pass_name if passed else fail_name, user, comment=opinion or None, values=values)
        db.session.add(
            Review(
                order_id=order.id,
                stage=stage,
                verdict=Verdict.PASS if passed else Verdict.FAIL,
                opinion=opinion,
                reviewer_id=user.id,
                created_at=utcnow(),
            )
        )
        db.session.flush()
        if completing:
            archive_report(order, user)
    return order


def archive_report(order, user):
    """Render the 事故预防服务报告 and keep it with the visit (the service archive of AQ 9010)."""
    from app.reports.service_report_pdf import render_service_report

    db.session.refresh(order)
    visit = order.visit
    pdf = render_service_report(order)
    stored = store_bytes(
        db.session,
        pdf,
        f"事故预防服务报告_{order.order_no}.pdf",
        "report_pdf",
        user_id=user.id if user else None,
        validate=False,
    )
    attach(stored, visit)
    visit.report_file = stored
    return stored
