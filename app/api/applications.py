"""Applications (投保信息): read, review (复审通过 / 不通过), issue the policy (出单, multipart with PDFs),
withdraw (撤回, the enterprise), the uploads (营业执照 … 用户协议) as files."""

from flask_appbuilder.api import expose, protect

from app.models import Application
from app.models.insurance import APPLICATION_FILE_SLOTS
from app.services.commands import EmptySchema, InputSchema, IssuePolicySchema, Text

from .base import READ, ScopedModelRestApi, acting_user, guard, openapi, service
from .policies import PolicyApi

COLUMNS = [
    "id",
    "status",
    "project_id",
    "project.name",
    "project.project_code",
    "project.investment",
    "enterprise_id",
    "enterprise.name",
    "region_code",
    "insurer_id",
    "insurer.short_name",
    "broker_id",
    "broker.short_name",
    "plan_id",
    "plan.code",
    "contact_phone",
    "agreed",
    "review_opinion",
    *[f"{slot}_file_id" for slot in APPLICATION_FILE_SLOTS],
    "submitted_at",
    "reviewed_at",
    "created_at",
    "updated_at",
    "version",
]
POLICY_FILES = {
    "policy_file": "The policy (保单), PDF, at most 20 MB",
    "agreement_file": "The signed user agreement (用户协议), PDF, JPEG or PNG, at most 20 MB",
}


class ApproveSchema(InputSchema):
    opinion = Text(allow_none=True)


class RejectSchema(InputSchema):
    opinion = Text(required=True)


class ApplicationApi(ScopedModelRestApi):
    resource_name = "applications"
    model = Application
    class_permission_name = "ApiApplication"
    openapi_spec_tag = "Applications"
    summary_name = "application"
    include_route_methods = set(READ) | {"approve", "reject", "issue_policy", "withdraw"}
    method_permission_name = dict(READ, approve="review", reject="review", issue_policy="issue", withdraw="withdraw")
    file_relations = tuple(f"{slot}_file" for slot in APPLICATION_FILE_SLOTS)
    list_columns = COLUMNS
    show_columns = COLUMNS
    search_columns = [
        "status",
        "project",
        "project_id",
        "enterprise",
        "enterprise_id",
        "insurer",
        "insurer_id",
        "broker",
        "broker_id",
        "plan",
        "region_code",
        "submitted_at",
        "reviewed_at",
        "created_at",
    ]
    order_columns = ["id", "status", "submitted_at", "reviewed_at", "created_at", "updated_at"]

    @expose("/<int:pk>/approve", methods=["POST"])
    @protect()
    @guard
    @openapi("Approve an application awaiting review (复审通过: pending_review → approved)", body="ApproveSchema")
    def approve(self, pk):
        return self.transition(pk, ApproveSchema, "applications", "approve", "opinion")

    @expose("/<int:pk>/reject", methods=["POST"])
    @protect()
    @guard
    @openapi(
        "Reject an application awaiting review (复审不通过: pending_review → rejected); opinion required",
        body="RejectSchema",
    )
    def reject(self, pk):
        return self.transition(pk, RejectSchema, "applications", "reject", "opinion")

    @expose("/<int:pk>/policy", methods=["POST"])
    @protect()
    @guard
    @openapi(
        "Issue the policy of an approved application (出单: approved → insured), with its PDF files",
        body="IssuePolicySchema",
        ok=201,
        multipart_files=POLICY_FILES,
        creates="PolicyApi",
    )
    def issue_policy(self, pk):
        def act(data, files):
            return service("policies").issue_policy(pk, acting_user(), data, files).id

        return self.write(
            act, IssuePolicySchema, file_fields=("policy_file", "agreement_file"), status=201, creates=PolicyApi
        )

    @expose("/<int:pk>/withdraw", methods=["POST"])
    @protect()
    @guard
    @openapi("Withdraw a submitted application (撤回: pending_review → draft; the enterprise)", body="EmptySchema")
    def withdraw(self, pk):
        return self.transition(pk, EmptySchema, "applications", "withdraw")
