"""Every REST resource is registered here, called once from app.views.registry.register_views."""

from .applications import ApplicationApi
from .claims import ClaimApi
from .enterprises import EnterpriseApi
from .orders import DispatchOrderApi
from .policies import PolicyApi
from .projects import ProjectApi
from .reports import ServiceReportApi

APIS = (EnterpriseApi, ProjectApi, ApplicationApi, PolicyApi, ClaimApi, DispatchOrderApi, ServiceReportApi)


def register_api(appbuilder):
    for api in APIS:
        appbuilder.add_api(api)
