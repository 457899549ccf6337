"""Dispatch orders (派单): read; dispatch (insurer); accept or refuse (prevention org)."""

from flask_appbuilder.api import expose, protect

from app.models import DispatchOrder
from app.services.commands import DispatchSchema, EmptySchema, InputSchema, Text

from .base import READ, ScopedModelRestApi, acting_user, guard, openapi, service

COLUMNS = [
    "id",
    "order_no",
    "status",
    "parent_id",
    "policy_id",
    "policy.policy_no",
    "project_id",
    "project.name",
    "enterprise_id",
    "region_code",
    "insurer_id",
    "insurer.short_name",
    "org_id",
    "org.name",
    "expert_id",
    "expert.name",
    "service_place",
    "start_date",
    "end_date",
    "deadline",
    "required_title_id",
    "fee",
    "refuse_reason",
    "accepted_at",
    "completed_at",
    "created_at",
    "updated_at",
    "version",
    # the newest review: a 不通过 while the order is 服务中 is why it came back (DispatchOrder.latest_return)
    "latest_review.stage",
    "latest_review.verdict",
    "latest_review.opinion",
    "latest_review.created_at",
]


class RefuseSchema(InputSchema):
    reason = Text(required=True)


class DispatchOrderApi(ScopedModelRestApi):
    resource_name = "orders"
    model = DispatchOrder
    class_permission_name = "ApiDispatchOrder"
    openapi_spec_tag = "Dispatch orders"
    summary_name = "order"
    include_route_methods = set(READ) | {"dispatch", "accept", "refuse"}
    method_permission_name = dict(READ, dispatch="dispatch", accept="accept", refuse="accept")
    list_columns = COLUMNS
    show_columns = COLUMNS
    search_columns = [
        "order_no",
        "status",
        "policy",
        "policy_id",
        "project",
        "project_id",
        "enterprise_id",
        "insurer_id",
        "org",
        "org_id",
        "expert",
        "expert_id",
        "parent_id",
        "deadline",
        "start_date",
        "end_date",
        "accepted_at",
        "completed_at",
        "created_at",
        "region_code",
    ]
    order_columns = ["id", "order_no", "status", "deadline", "start_date", "created_at"]

    @expose("/", methods=["POST"])
    @protect()
    @guard
    @openapi(
        "Dispatch prevention-service orders for one or more policies (派单)",
        body="DispatchSchema",
        ok=201,
        pk=False,
        many=True,
        creates="DispatchOrderApi",
    )
    def dispatch(self):
        def act(data, files):
            return [o.id for o in service("orders").dispatch(acting_user(), data.pop("policy_ids"), data)]

        return self.write(act, DispatchSchema, status=201, creates=DispatchOrderApi, many=True)

    @expose("/<int:pk>/accept", methods=["POST"])
    @protect()
    @guard
    @openapi("Accept an order dispatched to the caller's organisation (同意: pending → accepted)", body="EmptySchema")
    def accept(self, pk):
        return self.transition(pk, EmptySchema, "orders", "accept")

    @expose("/<int:pk>/refuse", methods=["POST"])
    @protect()
    @guard
    @openapi(
        "Refuse an order dispatched to the caller's organisation (拒绝: pending → refused); reason required",
        body="RefuseSchema",
    )
    def refuse(self, pk):
        return self.transition(pk, RefuseSchema, "orders", "refuse", "reason")
