"""Projects (项目信息) in the caller's scope."""

from app.models import Project

from .base import ScopedModelRestApi

COLUMNS = [
    "id",
    "project_code",
    "name",
    "enterprise_id",
    "enterprise.name",
    "region_code",
    "builder_name",
    "address",
    "investment",
    "planned_start",
    "planned_end",
    "insurance_status",
    "created_at",
    "updated_at",
]


class ProjectApi(ScopedModelRestApi):
    resource_name = "projects"
    model = Project
    class_permission_name = "ApiProject"
    openapi_spec_tag = "Projects"
    summary_name = "project"
    list_columns = COLUMNS
    show_columns = COLUMNS + ["scale_content"]
    search_columns = [
        "project_code",
        "name",
        "enterprise",
        "enterprise_id",
        "region_code",
        "insurance_status",
        "investment",
        "planned_start",
        "planned_end",
        "created_at",
    ]
    order_columns = ["id", "project_code", "name", "region_code", "investment", "created_at"]
