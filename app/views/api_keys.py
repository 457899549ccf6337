"""API密钥: the administrator issues, lists and revokes the REST API keys of insurers and brokers, and
manages their webhook endpoints (Webhook) with each endpoint's delivery log."""

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from sqlalchemy import func, select

from app.api import webhooks
from app.api.keys import ROLE_OF_KIND, issue_key, revoke_key
from app.extensions import db
from app.models import ApiKey, InsuranceCompany, WebhookDelivery, WebhookEndpoint
from app.security.scope import get_scoped_or_404
from app.services.base import ServiceError

from .base import ScopedModelView

LABELS = {
    "name": _("名称"),
    "company": _("保险机构"),
    "key_hint": _("密钥前缀"),
    "user": _("服务账号"),
    "created_at": _("签发时间"),
    "created_by": _("签发人"),
    "last_used_at": _("最近使用"),
    "revoked_at": _("吊销时间"),
}


class ApiKeyView(ScopedModelView):
    route_base = "/admin/api-keys"
    datamodel = SQLAInterface(ApiKey)
    class_permission_name = "ApiKeyAdmin"
    method_permission_name = {
        "list": "read",
        "show": "read",
        "action": "write",
        "action_post": "write",
        "issue": "write",
        "revoke": "write",
        "webhooks": "read",
        "webhook_new": "write",
        "webhook_deliveries": "read",
        "webhook_disable": "write",
    }
    base_permissions = ["can_read", "can_write"]
    list_title = _("API密钥")
    show_title = _("API密钥")
    list_columns = ["name", "company", "key_hint", "created_at", "last_used_at", "revoked_at"]
    show_columns = ["name", "company", "key_hint", "user", "created_at", "created_by", "last_used_at", "revoked_at"]
    search_columns = ["name", "company", "created_at", "revoked_at"]
    label_columns = LABELS
    base_order = ("id", "desc")
    list_template = "api/key_list.html"

    @staticmethod
    def _companies():
        return (
            db.session.query(InsuranceCompany)
            .filter(InsuranceCompany.kind.in_(list(ROLE_OF_KIND)), InsuranceCompany.active.is_(True))
            .order_by(InsuranceCompany.login_order)
            .all()
        )

    @expose("/issue", methods=["GET", "POST"])
    @has_access
    def issue(self):
        companies = self._companies()
        errors, raw, key = {}, None, None
        form = {"name": "", "company_id": ""}
        if request.method == "POST":
            form = {"name": request.form.get("name", ""), "company_id": request.form.get("company_id", "")}
            try:
                company_id = int(form["company_id"]) if form["company_id"].isdigit() else None
                key, raw = issue_key(company_id, form["name"], g.user)
            except ServiceError as exc:
                db.session.rollback()
                errors = exc.errors or {"name": [exc.message]}
        response = self.render_template(
            "api/issue_key.html",
            title=_("签发API密钥"),
            companies=companies,
            form=form,
            errors=errors,
            raw_key=raw,
            key=key,
        )
        if raw:
            response = self.appbuilder.app.make_response(response)
            response.headers["Cache-Control"] = "no-store"
        return response

    @action("revoke", _("吊销"), _("吊销所选密钥？使用这些密钥的系统将无法再访问。"), "fa-ban", single=False)
    def revoke(self, items):
        items = items if isinstance(items, list) else [items]
        for item in items:
            try:
                revoke_key(item.id)
            except ServiceError:
                abort(404)
        flash(_("已吊销 %(n)s 个密钥", n=len(items)), "success")
        return redirect(url_for(f"{type(self).__name__}.list"))

    # ---- webhooks (app/api/webhooks.py)
    @expose("/webhooks")
    @has_access
    def webhooks(self):
        endpoints = db.session.execute(select(WebhookEndpoint).order_by(WebhookEndpoint.id.desc())).scalars().all()
        counts = dict(
            db.session.execute(
                select(WebhookDelivery.endpoint_id, func.count(WebhookDelivery.id))
                .where(WebhookDelivery.status != "delivered")
                .group_by(WebhookDelivery.endpoint_id)
            ).all()
        )
        return self.render_template(
            "api/webhook_list.html", title=_("Webhook"), endpoints=endpoints, undelivered=counts, events=webhooks.EVENTS
        )

    @expose("/webhooks/new", methods=["GET", "POST"])
    @has_access
    def webhook_new(self):
        errors, secret, endpoint = {}, None, None
        form = {"company_id": "", "url": "", "description": "", "events": []}
        if request.method == "POST":
            form = {
                "company_id": request.form.get("company_id", ""),
                "url": request.form.get("url", ""),
                "description": request.form.get("description", ""),
                "events": request.form.getlist("events"),
            }
            try:
                company_id = int(form["company_id"]) if form["company_id"].isdigit() else None
                endpoint, secret = webhooks.create_endpoint(
                    company_id, form["url"], form["events"], form["description"], g.user
                )
            except ServiceError as exc:
                db.session.rollback()
                errors = exc.errors or {"url": [exc.message]}
        response = self.render_template(
            "api/webhook_new.html",
            title=_("新增Webhook"),
            companies=self._companies(),
            events=webhooks.EVENTS,
            form=form,
            errors=errors,
            secret=secret,
            endpoint=endpoint,
        )
        if secret:
            response = self.appbuilder.app.make_response(response)
            response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/webhooks/<int:endpoint_id>/deliveries")
    @has_access
    def webhook_deliveries(self, endpoint_id):
        endpoint = get_scoped_or_404(WebhookEndpoint, endpoint_id)
        deliveries = (
            db.session.execute(
                select(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == endpoint.id)
                .order_by(WebhookDelivery.id.desc())
                .limit(200)
            )
            .scalars()
            .all()
        )
        return self.render_template(
            "api/webhook_deliveries.html", title=_("投递记录"), endpoint=endpoint, deliveries=deliveries
        )

    @expose("/webhooks/<int:endpoint_id>/disable", methods=["POST"])
    @has_access
    def webhook_disable(self, endpoint_id):
        endpoint = get_scoped_or_404(WebhookEndpoint, endpoint_id)
        webhooks.disable_endpoint(endpoint)
        flash(_("已停用该接收地址"), "success")
        return redirect(url_for(f"{type(self).__name__}.webhooks"))
