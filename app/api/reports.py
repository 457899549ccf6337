"""Service reports (事故预防服务报告): the expert's submitted visit records, read-only."""

from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface

from app.models import ServiceVisit

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
    "report_file_id",
    "signed_scan_file_id",
    "submitted_at",
]


class SubmittedFilter(BaseFilter):
    """A visit is a report once the expert has submitted it."""

    name = "submitted"

    def apply(self, query, value):
        return query.filter(self.model.submitted_at.isnot(None))


class ServiceReportApi(ScopedModelRestApi):
    resource_name = "reports"
    datamodel = SQLAInterface(ServiceVisit)
    class_permission_name = "ApiServiceReport"
    openapi_spec_tag = "Service reports"
    base_filters = [["submitted_at", SubmittedFilter, None]]
    base_order = ("submitted_at", "desc")
    list_columns = COLUMNS
    show_columns = COLUMNS
    search_columns = ["order", "submitted_at", "signin_time"]
    order_columns = ["id", "submitted_at", "signin_time"]
