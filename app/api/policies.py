"""Policies and the ledger (保单信息 / 保单台帐): read, the policy file and the signed agreement as files;
add a claim to a policy."""

from flask_appbuilder.api import expose, protect

from app.models import Policy

from .base import READ, ScopedModelRestApi, acting_user, guard, openapi, service
from .claims import ClaimApi, ClaimSchema

COLUMNS = [
    "id",
    "ledger_no",
    "policy_no",
    "status",
    "application_id",
    "project_id",
    "project_name",
    "project_code",
    "builder_name",
    "enterprise_id",
    "enterprise.name",
    "enterprise.contact_mobile",
    "region_code",
    "insurer_id",
    "insurer.short_name",
    "broker_id",
    "plan_id",
    "plan.code",
    "premium",
    "proposed_premium",
    "float_ratio",
    "premium_deviation_reason",
    "start_date",
    "end_date",
    "policy_file_id",
    "agreement_file_id",
    "created_at",
    "updated_at",
]


class PolicyApi(ScopedModelRestApi):
    resource_name = "policies"
    model = Policy
    class_permission_name = "ApiPolicy"
    openapi_spec_tag = "Policies"
    summary_name = "policy"
    include_route_methods = set(READ) | {"add_claim"}
    method_permission_name = dict(READ, add_claim="claim")
    file_relations = ("policy_file", "agreement_file")
    list_columns = COLUMNS
    show_columns = COLUMNS + ["surrender_reason"]
    search_columns = [
        "ledger_no",
        "policy_no",
        "project_name",
        "project_code",
        "enterprise",
        "enterprise_id",
        "insurer",
        "insurer_id",
        "broker_id",
        "application_id",
        "project_id",
        "plan_id",
        "premium",
        "status",
        "start_date",
        "end_date",
        "created_at",
        "region_code",
    ]
    order_columns = ["id", "ledger_no", "policy_no", "premium", "start_date", "end_date", "created_at"]

    @expose("/<int:pk>/claims", methods=["POST"])
    @protect()
    @guard
    @openapi("Add a claim to a policy (理赔信息)", body="ClaimSchema", ok=201, creates="ClaimApi")
    def add_claim(self, pk):
        def act(data, files):
            return service("claims").add_claim(pk, acting_user(), data).id

        return self.write(act, ClaimSchema, status=201, creates=ClaimApi)
