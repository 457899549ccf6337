"""API tokens (JWT) that follow the account, and the login that issues them.

- ``POST /api/v1/security/login`` goes through the security manager's password path: the same
  lockout counter as the web login (five wrong passwords lock the account for both), the same
  refusal for certificate roles, the same audit. It is rate-limited per client address and per
  username (AUTH_RATE_LIMIT, in the shared limiter storage). An account that holds a one-time
  password, or whose password has expired, gets no token: it must set its own password first.
- Every token carries ``tv``, the account's token version (``api_token_revocation``) when it was
  issued. A password change, a lockout, a deactivation or a logout (web or
  ``POST /api/v1/security/logout``) bumps the version in the database, and from that moment every
  older access or refresh token is refused on every worker.
- Every token problem — missing, malformed, badly signed, expired, revoked, of the wrong type —
  answers 401 in the API's problem shape.
"""

from flask import current_app, g, request
from flask_appbuilder.api import BaseApi, expose
from flask_babel import lazy_gettext as _
from flask_jwt_extended import create_access_token, create_refresh_token, get_jwt, jwt_required
from marshmallow import Schema, ValidationError, fields, validate

from app import clock
from app.extensions import db
from app.models import ApiTokenRevocation, AppUser
from app.models.user import revoke_tokens
from app.security import audit, passwords

from . import problems, ratelimit
from .base import ScopedModelRestApi, guard


def _unauthorized(detail=None):
    return problems.response("unauthorized", detail=detail)


def install(jwt_manager):
    """Token loaders of the app's JWTManager (called from the security manager)."""

    @jwt_manager.additional_claims_loader
    def claims(identity):
        return {"tv": token_version(int(identity))}

    @jwt_manager.token_in_blocklist_loader
    def revoked(_header, payload):
        return token_user(payload) is None

    jwt_manager.unauthorized_loader(lambda reason: _unauthorized())
    jwt_manager.invalid_token_loader(lambda reason: _unauthorized(_("访问令牌格式无效")))
    jwt_manager.expired_token_loader(lambda header, payload: _unauthorized(_("访问令牌已过期，请重新登录")))
    jwt_manager.revoked_token_loader(lambda header, payload: _unauthorized(_("访问令牌已失效，请重新登录")))
    jwt_manager.needs_fresh_token_loader(lambda header, payload: _unauthorized())
    jwt_manager.user_lookup_error_loader(lambda header, payload: _unauthorized(_("访问令牌已失效，请重新登录")))
    jwt_manager.token_verification_failed_loader(lambda header, payload: _unauthorized())
    return jwt_manager


def token_version(user_id):
    """The account's current token version (0 until its first revocation)."""
    row = db.session.get(ApiTokenRevocation, user_id)
    return (row.version or 0) if row is not None else 0


def token_user(payload):
    """The account a token speaks for while the token is still valid for it, else None: the account
    exists, is active and not locked, holds no one-time password, and the token's version is current."""
    try:
        user_id = int(payload.get("sub"))
    except (TypeError, ValueError):
        return None
    cached = g.get("_azx_token_user")
    if cached is not None and cached.id == user_id:
        user = cached
    else:
        user = db.session.get(AppUser, user_id)
    if user is None or not user.active:
        return None
    if payload.get("tv") != token_version(user.id):
        return None
    if user.locked_until is not None and user.locked_until > clock.now():
        return None
    if passwords.change_due(user):
        return None
    g._azx_token_user = user
    return user


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))
    provider = fields.String(load_default="db", validate=validate.OneOf(["db"]))
    refresh = fields.Boolean(load_default=False)


def _tokens(user, refresh):
    body = {"access_token": create_access_token(identity=str(user.id), fresh=True)}
    if refresh:
        body["refresh_token"] = create_refresh_token(identity=str(user.id))
    return body


class PlatformSecurityApi(BaseApi):
    """FAB's security API (login, refresh) with the platform's rules, plus logout."""

    resource_name = "security"
    version = "v1"
    openapi_spec_tag = "Security"

    @expose("/login", methods=["POST"])
    @guard
    def login(self):
        limited = ratelimit.login_limited(request.remote_addr)
        if limited is not None:
            return limited
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return problems.response("invalid_json", detail=_("请求体应为 JSON 对象 {username, password}"))
        try:
            data = LoginSchema().load(payload)
        except ValidationError as exc:
            return problems.response("validation_failed", errors=exc.messages)
        limited = ratelimit.login_limited("user:" + data["username"].strip().lower())
        if limited is not None:
            return limited
        sm = current_app.appbuilder.sm
        user, message = sm.password_login(data["username"], data["password"], start_session=False)
        if user is None:
            return problems.response("unauthorized", detail=message)
        if passwords.change_due(user):
            audit.record("login_failed", user=user, result="fail", detail="api token refused: password change due")
            return problems.response(
                "password_change_required",
                detail=_("该账号须先在网页登录并设置自己的密码（一次性密码或密码已到期），之后才能获取 API 令牌"),
            )
        audit.record("api_login", user=user, detail="jwt")
        return self.response(200, **_tokens(user, data["refresh"]))

    @expose("/refresh", methods=["POST"])
    @jwt_required(refresh=True)
    @guard
    def refresh(self):
        user = token_user(get_jwt())
        if user is None:
            return _unauthorized(_("访问令牌已失效，请重新登录"))
        return self.response(200, access_token=create_access_token(identity=str(user.id), fresh=False))

    @expose("/logout", methods=["POST"])
    @jwt_required()
    @guard
    def logout(self):
        """Revoke every token of the account (access and refresh, on every device)."""
        user = token_user(get_jwt())
        if user is None:
            return _unauthorized()
        revoke_tokens(user)
        db.session.commit()
        audit.record("logout", user=user, detail="api tokens revoked")
        return self.response(200, revoked=True)

    response = staticmethod(ScopedModelRestApi.response)
    response_401 = ScopedModelRestApi.response_401
    response_400 = ScopedModelRestApi.response_400
    response_500 = ScopedModelRestApi.response_500
