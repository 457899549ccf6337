"""One clock: one event — a policy created at 17:55 UTC — reads the same minute, the platform zone's wall
clock (Asia/Shanghai: 01:55 the next day), on the 保单台帐 page, in its export (csv) and in the REST API
(ISO 8601 with the +08:00 offset); and as a visit's 签到时间 in the generated report PDF."""

from datetime import UTC, datetime

from factories.api import jwt_headers

from app import clock
from app.extensions import db
from app.models import InsuranceCompany, Policy

INSTANT = datetime(2026, 3, 10, 17, 55, 30, tzinfo=UTC)
WALL = "2026-03-11 01:55"


def test_one_event_reads_the_same_minute_everywhere(app, client, as_user):
    with app.app_context():
        picc = db.session.query(InsuranceCompany).filter_by(short_name="人保财险").one()
        policy = db.session.query(Policy).filter_by(insurer_id=picc.id).order_by(Policy.id).first()
        policy.created_at = INSTANT
        db.session.commit()
        policy_id, project = policy.id, policy.project_name
        assert clock.fmt(INSTANT) == WALL  # the platform zone's wall clock
    insurer = as_user("insurer_picc")
    page = insurer.get("/ledger/list/", query_string={"project": project}).get_data(as_text=True)
    assert WALL + ":30" in page
    exported = insurer.get("/ledger/export/", query_string={"fmt": "csv", "project": project})
    assert exported.status_code == 200
    assert WALL in exported.get_data(as_text=True)
    api = client.get(f"/api/v1/policies/{policy_id}", headers=jwt_headers(client, "insurer_picc"))
    assert api.status_code == 200, api.json
    body = api.json.get("result", api.json)
    assert body["created_at"].startswith("2026-03-11T01:55:30") and body["created_at"].endswith("+08:00")
    # nowhere the UTC reading of the same instant
    assert "2026-03-10 17:55" not in page and "2026-03-10 17:55" not in exported.get_data(as_text=True)


def test_the_report_pdf_reads_the_same_minute(app):
    """The same instant as a visit's 签到时间, in the generated report (the PDF the reviewers download)."""
    import subprocess

    from app.models import DispatchOrder, ServiceVisit
    from app.reports.service_report_pdf import render_service_report

    with app.test_request_context():
        visit = db.session.query(ServiceVisit).order_by(ServiceVisit.id).first()
        if visit is None:  # the demo data always has one; an empty database would make this pass vacuously
            raise AssertionError("no service visit in the demo data")
        visit.signin_time = INSTANT
        db.session.flush()
        order = db.session.get(DispatchOrder, visit.order_id)
        pdf = render_service_report(order)
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    text = text.decode()
    assert WALL in text and "2026-03-10 17:55" not in text
