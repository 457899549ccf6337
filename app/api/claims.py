"""Claims (理赔): read, add to a policy, correct."""

from flask_appbuilder.api import expose, protect
from flask_babel import lazy_gettext as _

from app.models import Claim
from app.services.base import NotFound

from .base import (
    READ,
    Day,
    InputSchema,
    Int,
    Money,
    ScopedModelRestApi,
    Str,
    acting_user,
    date_order,
    guard,
    openapi,
    raise_if,
    service,
    validates_schema,
)

COLUMNS = [
    "id",
    "policy_id",
    "policy.policy_no",
    "policy.ledger_no",
    "enterprise_id",
    "insurer_id",
    "region_code",
    "injured_count",
    "death_count",
    "estimated_loss",
    "settled_date",
    "settled_amount",
    "submitted_date",
    "remark",
    "created_at",
    "updated_at",
]


class ClaimSchema(InputSchema):
    """A claim: 伤残人数, 死亡人数, 预估损失, 结案日期, 结案金额, 报案日期, 备注."""

    injured_count = Int(minimum=0, load_default=0)
    death_count = Int(minimum=0, load_default=0)
    estimated_loss = Money(allow_none=True)
    settled_date = Day(allow_none=True)
    settled_amount = Money(allow_none=True)
    submitted_date = Day(required=True)
    remark = Str(500, allow_none=True)

    @validates_schema(skip_on_field_errors=False)
    def _dates(self, data, **kwargs):
        raise_if(date_order(data, "submitted_date", "settled_date", message=_("结案日期不能早于报案日期")))


class ClaimPatchSchema(ClaimSchema):
    """A correction: only the fields sent change."""

    injured_count = Int(minimum=0)
    death_count = Int(minimum=0)
    submitted_date = Day()


class ClaimApi(ScopedModelRestApi):
    resource_name = "claims"
    model = Claim
    class_permission_name = "ApiClaim"
    openapi_spec_tag = "Claims"
    summary_name = "claim"
    include_route_methods = set(READ) | {"update_claim"}
    method_permission_name = dict(READ, update_claim="write")
    list_columns = COLUMNS
    show_columns = COLUMNS
    search_columns = [
        "policy",
        "policy_id",
        "enterprise_id",
        "insurer_id",
        "submitted_date",
        "settled_date",
        "estimated_loss",
        "settled_amount",
        "region_code",
        "created_at",
    ]
    order_columns = ["id", "submitted_date", "settled_date", "estimated_loss", "settled_amount", "created_at"]

    @expose("/<int:pk>", methods=["PATCH"])
    @protect()
    @guard
    @openapi("Correct a claim (理赔信息修改); only the fields sent change", method="patch", body="ClaimPatchSchema")
    def update_claim(self, pk):
        def act(data, files):
            current = self.row(pk)
            if current is None:
                raise NotFound(_("记录不存在或无权访问"))
            # the service takes the whole claim: the fields not sent keep their values
            full = {f: getattr(current, f) for f in ClaimSchema._declared_fields}
            full.update(data)
            return service("claims").update_claim(pk, acting_user(), full).id

        return self.write(act, ClaimPatchSchema)
