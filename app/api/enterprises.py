"""Enterprises (建筑施工企业) the caller may see: an insurer or broker sees the enterprises of its applications."""

from app.models import Enterprise

from .base import ScopedModelRestApi

COLUMNS = [
    "id",
    "name",
    "credit_code",
    "region_code",
    "registered_address",
    "business_address",
    "contact_name",
    "contact_mobile",
    "contact_email",
    "legal_name",
    "legal_mobile",
    "created_at",
    "updated_at",
]


class EnterpriseApi(ScopedModelRestApi):
    resource_name = "enterprises"
    model = Enterprise
    class_permission_name = "ApiEnterprise"
    openapi_spec_tag = "Enterprises"
    summary_name = "enterprise"
    list_columns = COLUMNS
    show_columns = COLUMNS + ["business_scope"]
    search_columns = ["name", "credit_code", "region_code", "created_at"]
    order_columns = ["id", "name", "credit_code", "region_code", "created_at"]
