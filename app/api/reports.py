"""Service reports (事故预防服务报告): the expert's submitted visit records, read-only, with their files:
the 签到 photo, the generated report PDF, the signed scan, and every hazard and rectification photo."""

from sqlalchemy import select

from app.extensions import db
from app.models import Hazard, HazardPhoto, ServiceVisit

from .base import ScopedModelRestApi

COLUMNS = [
    "id",
    "order_id",
    "order.order_no",
    "order.status",
    "order.project_id",
    "order.policy_id",
    "order.expert_id",
    "signin_time",
    "signin_address",
    "signin_lat",
    "signin_lon",
    "service_record",
    "conclusion",
    "signin_photo_file_id",
    "report_file_id",
    "signed_scan_file_id",
    "submitted_at",
    "created_at",
    "updated_at",
]


class ServiceReportApi(ScopedModelRestApi):
    resource_name = "reports"
    model = ServiceVisit
    class_permission_name = "ApiServiceReport"
    openapi_spec_tag = "Service reports"
    summary_name = "report"
    base_order = ("submitted_at", "desc")
    list_columns = COLUMNS
    show_columns = COLUMNS
    search_columns = ["order", "order_id", "submitted_at", "signin_time", "created_at"]
    order_columns = ["id", "submitted_at", "signin_time"]
    file_relations = ("signin_photo_file", "report_file", "signed_scan_file")

    def base_criteria(self):
        """A visit is a report once the expert has submitted it."""
        return [ServiceVisit.submitted_at.isnot(None)]

    def extra_files(self, visit):
        """The signed reports the current one replaced (kept in the order's history), then the photos of
        the order's hazards (隐患照片) and of their rectification (整改照片)."""
        rows = db.session.execute(
            select(HazardPhoto)
            .join(Hazard, Hazard.id == HazardPhoto.hazard_id)
            .where(Hazard.order_id == visit.order_id)
            .order_by(Hazard.seq, HazardPhoto.id)
        ).scalars()
        previous = [("signed_scan_previous", f) for f in visit.replaced_scans]
        return previous + [(f"{p.kind}_photo", p.file) for p in rows if p.file is not None]
