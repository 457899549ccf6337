"""Claims (理赔): read, add to a policy, correct."""

from flask_appbuilder.api import expose, protect
from flask_babel import lazy_gettext as _

from app.models import Claim
from app.services.base import NotFound
from app.services.commands import ClaimSchema

from .base import READ, ScopedModelRestApi, acting_user, guard, openapi, service

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


class ClaimPatchSchema(ClaimSchema):
    """A correction: only the fields sent change. ClaimSchema's field rules apply to what is sent;
    its defaults and cross-field checks apply when the service reads the whole corrected claim."""

    def load(self, data, *, partial=None, **kwargs):
        return super().load(data, partial=True, **kwargs)

    def _dates(self, data, **kwargs):  # not a hook here: the service checks the merged claim
        pass


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
