"""Every REST resource is registered here, called once from app.views.init_views.register_views; so
are the API's request hooks (rate limits and their headers) and the public OpenAPI document."""

from .applications import ApplicationApi
from .claims import ClaimApi
from .deletions import DeletionApi
from .enterprises import EnterpriseApi
from .orders import DispatchOrderApi
from .policies import PolicyApi
from .projects import ProjectApi
from .reports import ServiceReportApi
from .webhooks import WebhookApi

APIS = (
    EnterpriseApi,
    ProjectApi,
    ApplicationApi,
    PolicyApi,
    ClaimApi,
    DispatchOrderApi,
    ServiceReportApi,
    DeletionApi,
    WebhookApi,
)


def register_api(appbuilder):
    for api in APIS:
        appbuilder.add_api(api)
    from flask import current_app

    app = current_app
    from . import openapi, ratelimit

    # FAB's route /api/<version>/_openapi, answered with our contract and without login.
    app.view_functions["OpenApi.get"] = openapi.serve
    app.before_request(ratelimit.before_api_request)
    app.after_request(_api_headers)


def _api_headers(response):
    from flask import request

    from . import problems, ratelimit

    if (
        request.path.startswith("/api/")
        and response.status_code >= 400
        and response.mimetype == "application/json"
        and not response.direct_passthrough
    ):
        # an answer of FAB's own API code (its menu API, a decorator) in the one problem shape
        response = problems.from_legacy(response)
    response = ratelimit.after_api_request(response)
    if request.path.startswith("/api/") and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response
