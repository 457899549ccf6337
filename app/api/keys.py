"""Per-company API keys: issued, listed and revoked by an administrator.

A key is ``azx_`` + 43 URL-safe characters (256 random bits). Only its SHA-256 digest is stored; the
plaintext is shown once. A client sends it as ``Authorization: Bearer azx_…`` or ``X-API-Key: azx_…``.

Each key has its own service user: an AppUser bound to the company (party_kind insurer or broker,
company_id) holding the company's built-in role, with an unusable password. The request then runs as
that user, so app/security/scope.py and the role matrix apply exactly as for the company's staff.
Revoking a key deactivates its user. FAB's protect() calls the security manager's
``extract_api_key_from_request`` / ``validate_api_key``, which delegate here.
"""

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, g, request
from flask_babel import lazy_gettext as _
from werkzeug.security import generate_password_hash

from app import clock
from app.extensions import db
from app.models import ApiKey, AppUser, InsuranceCompany
from app.models.base import utcnow
from app.models.enums import CompanyKind, PartyKind
from app.services.base import Invalid, NotFound

PREFIX = "azx_"
ROLE_OF_KIND = {CompanyKind.INSURER: "Insurer", CompanyKind.BROKER: "Broker"}
PARTY_OF_KIND = {CompanyKind.INSURER: PartyKind.INSURER, CompanyKind.BROKER: PartyKind.BROKER}
LAST_USED_GRANULARITY = timedelta(minutes=1)


def digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def key_from_request():
    """The raw API key of the current request, or None (a JWT is not a key)."""
    header = request.headers.get("X-API-Key", "").strip()
    if header:
        return header
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        token = auth[7:].strip()
        if token.startswith(PREFIX):
            return token
    return None


def authenticate(raw_key: str):
    """The service user of an active key (and g.user set to it), or None."""
    if not raw_key or not raw_key.startswith(PREFIX) or len(raw_key) > 128:
        return None
    key = db.session.query(ApiKey).filter_by(key_hash=digest(raw_key)).one_or_none()
    if key is None or key.revoked_at is not None:
        return None
    user = key.user
    if user is None or not user.active:
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_GRANULARITY:
        key.last_used_at = now
        db.session.commit()
    g.user = user
    g._api_key_user = True
    g.api_key_id = key.id
    return user


def issue_key(company_id, name, admin_user):
    """Create a key and its service user; returns (ApiKey, plaintext). Commits."""
    name = (name or "").strip()
    errors = {}
    if not name:
        errors["name"] = [_("请填写名称")]
    elif len(name) > 128:
        errors["name"] = [_("名称过长")]
    company = db.session.get(InsuranceCompany, company_id) if company_id else None
    if company is None:
        errors["company"] = [_("请选择保险机构")]
    elif company.kind not in ROLE_OF_KIND:
        errors["company"] = [_("只能为保险公司或经纪公司签发密钥")]
    if errors:
        raise Invalid(next(iter(errors.values()))[0], errors=errors)
    role = current_app.appbuilder.sm.find_role(ROLE_OF_KIND[company.kind])
    raw = PREFIX + secrets.token_urlsafe(32)
    tag = secrets.token_hex(4)
    now = utcnow()
    user = AppUser(
        username=f"apikey-{tag}",
        first_name=company.short_name,
        last_name="API",
        email=f"apikey-{tag}@api.invalid",
        active=True,
        roles=[role],
        party_kind=PARTY_OF_KIND[company.kind],
        company_id=company.id,
        password=generate_password_hash(secrets.token_urlsafe(32)),
        password_changed_at=now,
        created_on=clock.naive_utc(now),
        changed_on=clock.naive_utc(now),
    )
    db.session.add(user)
    db.session.flush()
    key = ApiKey(
        name=name,
        company_id=company.id,
        user_id=user.id,
        key_hash=digest(raw),
        key_hint=raw[:10],
        created_at=now,
        created_by_id=getattr(admin_user, "id", None),
    )
    db.session.add(key)
    db.session.commit()
    return key, raw


def revoke_key(key_id):
    """Revoke a key and deactivate its service user. Revoking twice is harmless. Commits."""
    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(_("记录不存在或无权访问"))
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    if key.user is not None:
        key.user.active = False
    db.session.commit()
    return key
