"""All models, imported once so that Model.metadata knows every table."""

from .api import ApiKey, ApiRateCounter, ApiTokenRevocation, IdempotencyRecord, SyncTombstone  # noqa: F401
from .audit import AuditEvent, FlowEvent  # noqa: F401
from .files import StoredFile  # noqa: F401
from .insurance import Application, Claim, Policy  # noqa: F401
from .jobs import JobRun, KeptFigures, StatisticsSnapshot  # noqa: F401
from .parties import Department, Enterprise, Expert, InsuranceCompany, PreventionOrg, broker_partnership  # noqa: F401
from .prevention import DispatchOrder, Hazard, HazardPhoto, Review, ServiceVisit, order_service_item  # noqa: F401
from .projects import Project, RegistryProject  # noqa: F401
from .reference import (  # noqa: F401
    FloatRule,
    HazardCategory,
    MajorHazardStandard,
    Plan,
    Region,
    ServiceItem,
    Setting,
    TitleLevel,
)
from .security import LoginChallenge, UserSession  # noqa: F401
from .user import AppUser  # noqa: F401
from .webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent  # noqa: F401
