"""Webhooks: events for insurers' and brokers' core systems, from an outbox, signed, retried.

Events (``EVENTS``) come from the workflow's FlowEvents: ``app/services/base.py`` ``record_flow``
calls ``on_flow`` for every FlowEvent, in the same transaction; ``on_flow`` maps it (``event_for``) and
writes one ``WebhookEvent`` per receiving company plus one ``WebhookDelivery`` per subscribed active
endpoint of that company. ``policy.expiring`` comes from a daily scan (``flask webhooks scan``), once
per policy and end date. Only a company with an endpoint subscribed to the event gets rows. The
deliveries are queued when the transaction commits and sent by the
task queue (``deliver_webhook``): a 2xx answer is success; anything else is retried with
exponential back-off (huey's retry_delay × retry_backoff^n) up to WEBHOOK_ATTEMPTS attempts.

Signatures follow Standard Webhooks (standardwebhooks.com): headers ``webhook-id`` (the event id,
the same on every retry: deduplicate on it), ``webhook-timestamp`` (Unix seconds) and
``webhook-signature: v1,<base64 HMAC-SHA256 over "{id}.{timestamp}.{body}">``, keyed with the
endpoint's secret ``whsec_<base64>``. The secret is shown once, when the endpoint is registered; it
is stored encrypted under a key derived from SECRET_KEY.

Endpoints must be HTTPS and may not resolve to a private, loopback or link-local address unless
WEBHOOK_ALLOW_PRIVATE_NETWORKS is set (tests, a private integration network).
"""

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, g, request
from flask_appbuilder.api import BaseApi, expose, protect
from flask_babel import lazy_gettext as _
from marshmallow import ValidationError, fields, validate, validates
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.jobs import job
from app.models import (
    Application,
    DispatchOrder,
    InsuranceCompany,
    Policy,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from app.models.base import utcnow
from app.models.enums import ApplicationStatus as A
from app.models.enums import OrderStatus as O
from app.models.enums import PartyKind, PolicyStatus
from app.security.scope import party_of
from app.services.commands import InputSchema

from . import idempotency
from .base import ScopedModelRestApi, check_pk, guard
from .problems import Problem
from .timefmt import isoformat

log = logging.getLogger(__name__)

EVENTS = {
    "application.submitted": "An application was submitted for review (提交保单)",
    "application.resubmitted": "A rejected application was submitted again",
    "application.withdrawn": "The enterprise withdrew a submitted application (撤回)",
    "order.refused": "The prevention organisation refused a dispatch order (拒绝)",
    "order.timed_out": "A dispatch order was not accepted by its deadline (超时)",
    "report.submitted": "A service report reached the insurer's review (待保险机构审核)",
    "report.approved": "The insurer approved a service report (通过); the order is complete",
    "policy.expiring": "A policy ends within WEBHOOK_EXPIRING_DAYS days",
    "policy.expired": "A policy passed its end date (已到期)",
}
RESOURCE_OF = {"application": "applications", "dispatch_order": "orders", "policy": "policies"}
MAX_ENDPOINTS = 10
SIGNATURE_TOLERANCE = 300


# ---------------------------------------------------------------- mapping FlowEvents
def event_for(entity_type, action, from_status, to_status):
    """The webhook event type of a FlowEvent, or None."""
    if entity_type == "application":
        if action == "submit":
            return "application.resubmitted" if from_status == A.REJECTED else "application.submitted"
        if action == "withdraw":
            return "application.withdrawn"
    if entity_type == "dispatch_order":
        if action == "refuse":
            return "order.refused"
        if action == "timeout":
            return "order.timed_out"
        if to_status == O.INSURER_REVIEW and from_status != O.INSURER_REVIEW:
            return "report.submitted"
        if action == "insurer_pass":
            return "report.approved"
    if entity_type == "policy" and action == "expire":
        return "policy.expired"
    return None


def _companies(entity_type, entity_id):
    """The companies an event about this row goes to: its insurer and its broker."""
    if entity_type in ("application", "policy"):
        row = db.session.get(Application if entity_type == "application" else Policy, entity_id)
        return [c for c in (row.insurer_id, row.broker_id) if c] if row else []
    if entity_type == "dispatch_order":
        row = db.session.get(DispatchOrder, entity_id)
        if row is None:
            return []
        broker = db.session.execute(select(Policy.broker_id).where(Policy.id == row.policy_id)).scalar()
        return [c for c in (row.insurer_id, broker) if c]
    return []


def on_flow(entity_type, entity_id, action, from_status, to_status, comment=None):
    """Called by record_flow for every FlowEvent, inside its transaction."""
    event_type = event_for(entity_type, action, from_status, to_status)
    if event_type is None:
        return []
    data = {
        "resource": RESOURCE_OF.get(entity_type, entity_type),
        "id": entity_id,
        "action": action,
        "status": to_status,
        "previous_status": from_status,
    }
    events = [emit(company_id, event_type, data) for company_id in dict.fromkeys(_companies(entity_type, entity_id))]
    return [e for e in events if e is not None]


def _outbox_ready():
    """The webhook tables exist (code newer than the schema, as in a rolling upgrade, sends nothing)."""
    if current_app.extensions.get("azx_outbox_ready"):
        return True
    from sqlalchemy import inspect as sa_inspect

    ready = sa_inspect(db.session.connection()).has_table("webhook_delivery")
    if ready:
        current_app.extensions["azx_outbox_ready"] = True
    return ready


def emit(company_id, event_type, data, dedupe_key=None):
    """Write the event for one company and a delivery per subscribed active endpoint (uncommitted);
    the deliveries are queued once the transaction commits. A company with no endpoint subscribed
    to the event gets no row at all. Returns the event, or None."""
    if not _outbox_ready():
        return None
    endpoints = [
        e
        for e in db.session.execute(
            select(WebhookEndpoint).where(WebhookEndpoint.company_id == company_id, WebhookEndpoint.active.is_(True))
        ).scalars()
        if event_type in e.event_list
    ]
    if not endpoints:
        return None
    event_id = str(uuid.uuid4())
    now = utcnow()
    body = {
        "id": event_id,
        "type": event_type,
        "created_at": isoformat(now),
        "company_id": company_id,
        "data": dict(data, url=f"/api/v1/{data['resource']}/{data['id']}"),
    }
    event = WebhookEvent(
        event_id=event_id,
        company_id=company_id,
        event_type=event_type,
        dedupe_key=dedupe_key,
        payload=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        created_at=now,
    )
    db.session.add(event)
    deliveries = [WebhookDelivery(event=event, endpoint_id=e.id, status="pending", created_at=now) for e in endpoints]
    db.session.add_all(deliveries)
    db.session.flush()
    for delivery in deliveries:
        deliver_webhook.enqueue_on_commit(delivery.id)
    return event


def scan_expiring(today=None, days=None):
    """policy.expiring for every active policy ending within ``days`` (WEBHOOK_EXPIRING_DAYS, 30) of
    ``today``: once per policy and end date, however often the scan runs. Returns how many were raised."""
    from app.services.base import unit_of_work

    today = today or clock.today()
    days = days if days is not None else current_app.config.get("WEBHOOK_EXPIRING_DAYS", 30)
    policies = db.session.execute(
        select(Policy).where(
            Policy.status == PolicyStatus.ACTIVE,
            Policy.end_date >= today,
            Policy.end_date <= today + timedelta(days=days),
        )
    ).scalars()
    raised = 0
    for policy in policies:
        for company_id in dict.fromkeys(c for c in (policy.insurer_id, policy.broker_id) if c):
            key = f"policy.expiring:{policy.id}:{policy.end_date.isoformat()}"
            exists = db.session.execute(
                select(WebhookEvent.id).where(WebhookEvent.company_id == company_id, WebhookEvent.dedupe_key == key)
            ).first()
            if exists:
                continue
            data = {
                "resource": "policies",
                "id": policy.id,
                "action": "expiring",
                "status": policy.status,
                "previous_status": policy.status,
                "end_date": policy.end_date.isoformat(),
            }
            try:
                with unit_of_work():
                    event = emit(company_id, "policy.expiring", data, dedupe_key=key)
            except Exception:  # a concurrent scan raised it first (the unique key): nothing to do
                log.info("policy.expiring %s for company %s already raised", policy.id, company_id)
                continue
            raised += event is not None
    return raised


# ---------------------------------------------------------------- secrets and signatures
def _fernet():
    key = hashlib.sha256(b"azx-webhook-secret:" + current_app.config["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def new_secret():
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_of(endpoint):
    try:
        return _fernet().decrypt(endpoint.secret_encrypted.encode()).decode()
    except InvalidToken as exc:
        raise RuntimeError("webhook secret unreadable: SECRET_KEY changed since it was registered") from exc


def sign(secret, event_id, timestamp, body: bytes):
    """Standard Webhooks' v1 signature."""
    key = base64.b64decode(secret.split("_", 1)[1])
    mac = hmac.new(key, f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(secret, headers, body: bytes, now=None, tolerance=SIGNATURE_TOLERANCE):
    """What a receiver does (docs/api.md shows the same in a few lines): True when one of the
    signatures matches and the timestamp is fresh."""
    event_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    try:
        if abs((now or time.time()) - int(stamp)) > tolerance:
            return False
    except ValueError:
        return False
    expected = sign(secret, event_id, stamp, body)
    return any(hmac.compare_digest(expected, s) for s in headers.get("webhook-signature", "").split())


# ---------------------------------------------------------------- endpoints (registration)
def check_url(url, resolve=True):
    """The refusal message for ``url``, or None when it may receive webhooks."""
    parts = urlsplit(url or "")
    if parts.scheme != "https" or not parts.hostname:
        return _("须为 https:// 地址")
    if parts.username or parts.password:
        return _("地址中不能包含用户名或密码")
    if len(url) > 500:
        return _("地址过长")
    if not resolve or current_app.config.get("WEBHOOK_ALLOW_PRIVATE_NETWORKS"):
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return _("无法解析该主机名")
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
            return _("地址指向内部网络，不允许")
    return None


def create_endpoint(company_id, url, events, description, user, record=None):
    """Register an endpoint; returns (endpoint, secret). The secret is shown once. Commits — with the
    pending idempotency ``record``, if any, naming the endpoint (in the same transaction)."""
    from app.services.base import Invalid

    errors = {}
    company = db.session.get(InsuranceCompany, company_id) if company_id else None
    if company is None:
        errors["company"] = [_("请选择保险机构")]
    url = (url or "").strip()
    problem = check_url(url)
    if problem:
        errors["url"] = [problem]
    events = list(dict.fromkeys(events or []))
    if not events or any(e not in EVENTS for e in events):
        errors["events"] = [_("请选择事件：%(names)s", names=", ".join(EVENTS))]
    if company is not None:
        count = db.session.execute(
            select(func.count(WebhookEndpoint.id)).where(
                WebhookEndpoint.company_id == company.id, WebhookEndpoint.active.is_(True)
            )
        ).scalar_one()
        if count >= MAX_ENDPOINTS:
            errors["url"] = [_("每个机构最多 %(n)s 个有效的接收地址", n=MAX_ENDPOINTS)]
    if errors:
        raise Invalid(next(iter(errors.values()))[0], errors=errors)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        company_id=company.id,
        url=url,
        description=(description or "").strip()[:200] or None,
        events=" ".join(events),
        secret_encrypted=_fernet().encrypt(secret.encode()).decode(),
        secret_hint=secret[:10],
        active=True,
        created_at=utcnow(),
        created_by_id=getattr(user, "id", None),
    )
    db.session.add(endpoint)
    if record is not None:
        db.session.flush()
        record.status_code = 201
        record.response_body = json.dumps({"id": endpoint.id})
    db.session.commit()
    return endpoint, secret


def disable_endpoint(endpoint):
    if endpoint.active:
        endpoint.active = False
        endpoint.disabled_at = utcnow()
        db.session.execute(
            WebhookDelivery.__table__.update()
            .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
            .values(status="failed", last_error="endpoint disabled")
        )
    db.session.commit()
    return endpoint


# ---------------------------------------------------------------- delivery
class DeliveryFailed(Exception):
    pass


def attempts_allowed():
    return deliver_webhook.retries + 1


def _post(url, body, headers, timeout):
    """POST once; (status, error text). Redirects are not followed."""
    cafile = current_app.config.get("WEBHOOK_CA_BUNDLE")
    context = ssl.create_default_context(cafile=cafile)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), NoRedirect)
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener.open(req, timeout=timeout) as resp:
            resp.read(4096)
            return resp.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, str(getattr(exc, "reason", exc))[:500]


@job(retries=7, retry_delay=30, retry_backoff=2)
def deliver_webhook(delivery_id):
    """Send one delivery; raise (so that the queue retries with back-off) while it may still succeed."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != "pending":
        return delivery.status if delivery else None
    endpoint, event = delivery.endpoint, delivery.event
    now = utcnow()
    if not endpoint.active:
        delivery.status, delivery.last_error = "failed", "endpoint disabled"
        db.session.commit()
        return delivery.status
    problem = check_url(endpoint.url)
    if problem:
        status, error = None, str(problem)
    else:
        body = event.payload.encode("utf-8")
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "anzexian-webhooks/1",
            "webhook-id": event.event_id,
            "webhook-timestamp": stamp,
            "webhook-signature": sign(secret_of(endpoint), event.event_id, stamp, body),
            "webhook-event": event.event_type,
        }
        status, error = _post(endpoint.url, body, headers, current_app.config.get("WEBHOOK_TIMEOUT_SECONDS", 10))
    delivery.attempts = (delivery.attempts or 0) + 1
    delivery.last_attempt_at = now
    delivery.last_status_code = status
    delivery.last_error = error
    if status is not None and 200 <= status < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
        db.session.commit()
        return "delivered"
    if delivery.attempts >= attempts_allowed():
        delivery.status, delivery.next_attempt_at = "failed", None
        db.session.commit()
        return "failed"
    wait = deliver_webhook.retry_delay * (deliver_webhook.retry_backoff or 1) ** (delivery.attempts - 1)
    delivery.next_attempt_at = now + timedelta(seconds=wait)
    db.session.commit()
    raise DeliveryFailed(f"delivery {delivery_id}: {error or status}")


def redeliver_due():
    """Queue every pending delivery whose retry is overdue (the queue lost it, or was down when the
    event committed). Returns how many were queued."""
    cutoff = utcnow() - timedelta(minutes=5)
    ids = (
        db.session.execute(
            select(WebhookDelivery.id).where(
                WebhookDelivery.status == "pending",
                func.coalesce(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at) < cutoff,
            )
        )
        .scalars()
        .all()
    )
    for delivery_id in ids:
        deliver_webhook.enqueue(delivery_id)
    return len(ids)


# ---------------------------------------------------------------- the API
def endpoint_json(endpoint):
    return {
        "id": endpoint.id,
        "company_id": endpoint.company_id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.event_list,
        "secret_hint": endpoint.secret_hint,
        "active": bool(endpoint.active),
        "created_at": isoformat(endpoint.created_at),
        "disabled_at": isoformat(endpoint.disabled_at),
    }


def delivery_json(d):
    return {
        "id": d.id,
        "event_id": d.event.event_id,
        "event_type": d.event.event_type,
        "status": d.status,
        "attempts": d.attempts,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "last_attempt_at": isoformat(d.last_attempt_at),
        "next_attempt_at": isoformat(d.next_attempt_at),
        "delivered_at": isoformat(d.delivered_at),
        "created_at": isoformat(d.created_at),
        "payload": json.loads(d.event.payload),
    }


class EndpointSchema(InputSchema):
    """An endpoint to register: an https:// URL and the events it receives."""

    url = fields.String(required=True, validate=validate.Length(min=8, max=500))
    events = fields.List(
        fields.String(validate=validate.OneOf(sorted(EVENTS))),
        required=True,
        validate=validate.Length(min=1, max=len(EVENTS)),
    )
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))

    @validates("url")
    def _url(self, value, **kwargs):
        problem = check_url(value, resolve=False)
        if problem:
            raise ValidationError(str(problem))


class WebhookApi(BaseApi):
    """``/api/v1/webhooks``: a company's endpoints and their delivery log. Registering and disabling
    are for the company's API key (its core system); its staff with a password token may read."""

    resource_name = "webhooks"
    version = "v1"
    class_permission_name = "ApiWebhook"
    scope_model = {"pk": WebhookEndpoint}  # <pk> is one of the company's endpoints
    openapi_spec_tag = "Webhooks"
    allow_browser_login = False
    include_route_methods = {"list_endpoints", "create", "show", "disable", "deliveries", "events"}
    method_permission_name = {
        "list_endpoints": "read",
        "show": "read",
        "deliveries": "read",
        "events": "read",
        "create": "write",
        "disable": "write",
    }

    response = staticmethod(ScopedModelRestApi.response)
    response_401 = ScopedModelRestApi.response_401
    response_403 = ScopedModelRestApi.response_403
    response_404 = ScopedModelRestApi.response_404
    response_400 = ScopedModelRestApi.response_400
    response_500 = ScopedModelRestApi.response_500

    @staticmethod
    def _company_id():
        party = party_of(g.user)
        if party.kind in (PartyKind.INSURER, PartyKind.BROKER) and party.id:
            return party.id
        raise Problem("forbidden", _("只有保险公司或经纪公司的账号可以管理 Webhook"))

    def _endpoint(self, pk):
        check_pk(pk)
        endpoint = db.session.get(WebhookEndpoint, pk)
        if endpoint is None or endpoint.company_id != self._company_id():
            raise Problem("not_found")
        return endpoint

    @staticmethod
    def _require_key():
        if not getattr(g, "api_key_id", None):
            raise Problem("forbidden", _("注册或停用 Webhook 须使用本机构的 API 密钥"))

    @expose("/events", methods=["GET"])
    @protect()
    @guard
    def events(self):
        return self.response(200, result=[{"type": k, "description": v} for k, v in EVENTS.items()])

    @expose("/", methods=["GET"])
    @protect()
    @guard
    def list_endpoints(self):
        rows = db.session.execute(
            select(WebhookEndpoint).where(WebhookEndpoint.company_id == self._company_id()).order_by(WebhookEndpoint.id)
        ).scalars()
        return self.response(200, result=[endpoint_json(e) for e in rows])

    @expose("/", methods=["POST"])
    @protect()
    @guard
    def create(self):
        """Register an endpoint. With an Idempotency-Key a retry answers the first registration again
        (its secret read back from the endpoint: the stored answer never holds it)."""
        from app.services.base import Invalid

        self._require_key()
        company_id = self._company_id()
        key = idempotency.request_key_or_problem()
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            raise Problem("invalid_json", _("请求体应为 JSON 对象"))
        record = None
        if key:
            kind, value = idempotency.begin_or_problem(g.user.id, key, idempotency.fingerprint(payload, {}))
            if kind == "replay":
                endpoint = self._endpoint(value[1]["id"])
                body = {"id": endpoint.id, "result": endpoint_json(endpoint), "secret": secret_of(endpoint)}
                response = self.response(201, **body)
                response.headers["Idempotent-Replayed"] = "true"
                return response
            record = value
        try:
            data = EndpointSchema().load(payload)
        except ValidationError as exc:
            raise Problem("validation_failed", _("输入有误"), exc.messages) from None
        try:
            endpoint, secret = create_endpoint(
                company_id, data["url"], data["events"], data.get("description"), g.user, record=record
            )
        except Invalid as exc:
            raise Problem("validation_failed", exc.message, exc.errors) from None
        return self.response(201, id=endpoint.id, result=endpoint_json(endpoint), secret=secret)

    @expose("/<int:pk>", methods=["GET"])
    @protect()
    @guard
    def show(self, pk):
        return self.response(200, id=pk, result=endpoint_json(self._endpoint(pk)))

    @expose("/<int:pk>", methods=["DELETE"])
    @protect()
    @guard
    def disable(self, pk):
        """Disabling twice is harmless, so an Idempotency-Key is accepted (checked) and needs no record."""
        idempotency.request_key_or_problem()
        self._require_key()
        endpoint = disable_endpoint(self._endpoint(pk))
        return self.response(200, id=pk, result=endpoint_json(endpoint))

    @expose("/<int:pk>/deliveries", methods=["GET"])
    @protect()
    @guard
    def deliveries(self, pk):
        endpoint = self._endpoint(pk)
        raw = request.args.get("page", "0")
        if not raw.isdigit() or int(raw) > 100_000:
            raise Problem("invalid_query", _("page 应为不小于 0 的整数"), errors={"page": [_("应为不小于 0 的整数")]})
        page, size = int(raw), 50
        total = db.session.execute(
            select(func.count(WebhookDelivery.id)).where(WebhookDelivery.endpoint_id == endpoint.id)
        ).scalar_one()
        rows = db.session.execute(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id)
            .order_by(WebhookDelivery.id.desc())
            .offset(page * size)
            .limit(size)
        ).scalars()
        return self.response(200, id=pk, count=total, page=page, result=[delivery_json(d) for d in rows])


# ---------------------------------------------------------------- contract
def add_paths(spec):
    from .openapi import IDEMPOTENCY, PK, WRITE_ERRORS, _json, _object, _operation, _param, _params, _ref, _responses

    ts = {"type": "string", "format": "date-time", "nullable": True}
    spec.components.schema(
        "WebhookEndpoint",
        _object(
            {
                "id": {"type": "integer"},
                "company_id": {"type": "integer"},
                "url": {"type": "string"},
                "description": {"type": "string", "nullable": True},
                "events": {"type": "array", "items": {"type": "string", "enum": sorted(EVENTS)}},
                "secret_hint": {"type": "string"},
                "active": {"type": "boolean"},
                "created_at": {"type": "string", "format": "date-time"},
                "disabled_at": ts,
            },
            ["id", "company_id", "url", "events", "secret_hint", "active", "created_at"],
        ),
    )
    spec.components.schema(
        "WebhookPayload",
        {
            "type": "object",
            "required": ["id", "type", "created_at", "company_id", "data"],
            "properties": {
                "id": {"type": "string"},
                "type": {"type": "string", "enum": sorted(EVENTS)},
                "created_at": {"type": "string", "format": "date-time"},
                "company_id": {"type": "integer"},
                "data": {"type": "object", "additionalProperties": True},
            },
        },
    )
    spec.components.schema(
        "WebhookDelivery",
        _object(
            {
                "id": {"type": "integer"},
                "event_id": {"type": "string"},
                "event_type": {"type": "string"},
                "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
                "attempts": {"type": "integer"},
                "last_status_code": {"type": "integer", "nullable": True},
                "last_error": {"type": "string", "nullable": True},
                "last_attempt_at": ts,
                "next_attempt_at": ts,
                "delivered_at": ts,
                "created_at": {"type": "string", "format": "date-time"},
                "payload": _ref("schemas", "WebhookPayload"),
            },
            ["id", "event_id", "event_type", "status", "attempts", "created_at", "payload"],
        ),
    )
    endpoint = _ref("schemas", "WebhookEndpoint")
    one = _object({"id": {"type": "integer"}, "result": endpoint})
    created = _object(
        {
            "id": {"type": "integer"},
            "result": endpoint,
            "secret": {"type": "string", "description": "whsec_…, shown this once"},
        }
    )
    event = _object({"type": {"type": "string"}, "description": {"type": "string"}})
    deliveries = _object(
        {
            "id": {"type": "integer"},
            "count": {"type": "integer"},
            "page": {"type": "integer"},
            "result": {"type": "array", "items": _ref("schemas", "WebhookDelivery")},
        }
    )

    def operation(action, summary, responses, **more):
        return _operation("webhooks", action, "Webhooks", summary, responses, **more)

    base = "/api/v1/webhooks"
    spec.path(
        path=base + "/events",
        operations={
            "get": operation(
                "events",
                "The event types a company can subscribe to",
                _responses("The events", _object({"result": {"type": "array", "items": event}})),
            )
        },
    )
    spec.path(
        path=base + "/",
        operations={
            "get": operation(
                "list",
                "The company's webhook endpoints",
                _responses("The endpoints", _object({"result": {"type": "array", "items": endpoint}})),
            ),
            "post": operation(
                "create",
                "Register an HTTPS endpoint (the company's API key); the signing secret is shown once",
                _responses("Registered", created, WRITE_ERRORS, "201"),
                parameters=_params(IDEMPOTENCY),
                requestBody={"required": True, "content": _json(_ref("schemas", "EndpointSchema"))},
            ),
        },
    )
    spec.path(
        path=base + "/{pk}",
        operations={
            "get": operation("get", "One endpoint", _responses("The endpoint", one), parameters=_params(PK)),
            "delete": operation(
                "disable",
                "Disable an endpoint (its pending deliveries are dropped)",
                _responses("Disabled", one, WRITE_ERRORS),
                parameters=_params(PK, IDEMPOTENCY),
            ),
        },
    )
    spec.path(
        path=base + "/{pk}/deliveries",
        operations={
            "get": operation(
                "deliveries",
                "The delivery log of an endpoint, newest first (50 a page)",
                _responses("Deliveries", deliveries),
                parameters=_params(PK, _param("query", "page", {"type": "integer", "minimum": 0})),
            )
        },
    )
