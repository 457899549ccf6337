"""The security manager: the extended user model, permission checks cached per request, and the login
rules FAB lacks — lockout stored in the database, the password policy and its forced changes,
server-side sessions (idle/absolute timeout, revocation at logout), certificate login and audit."""

from datetime import timedelta

from flask import current_app, flash, g, has_request_context, redirect, request, url_for
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.utils import is_null_password
from flask_babel import lazy_gettext as _
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from app import clock
from app.extensions import db
from app.models import AppUser
from app.models.enums import PartyKind

from . import audit, passwords, sessions
from .ca import CertificateError

# Endpoints reachable while a password change is due (the change page itself, logout, assets, language).
PASSWORD_CHANGE_EXEMPT = {"AccountView.password", "static", "appbuilder.static", "LocaleView.index"}


class PlatformSecurityManager(SecurityManager):
    user_model = AppUser

    from app.views.auth import PlatformAuthDBView as authdbview
    from app.views.auth import ResetMyPasswordRedirectView as resetmypasswordview
    from app.views.auth import UserDBModelView as userdbmodelview

    # ------------------------------------------------------------ permissions, cached per request
    def user_permissions(self, user):
        """Every (permission, view) the user holds: one query per role, once per request (the menu bar
        is cached by this set, app/web/page.py)."""
        key = ("_perm_cache", getattr(user, "id", None))
        if has_request_context():
            cached = g.get("_perm_cache")
            if cached is not None and cached[0] == key:
                return cached[1]
        perms = self.get_user_permissions(user)
        if has_request_context():
            g._perm_cache = (key, perms)
        return perms

    def _has_view_access(self, user, permission_name, view_name):
        return (permission_name, view_name) in self.user_permissions(user)

    def _get_user_permission_view_menus(self, user, permission_name, view_menus_name):
        if user is None:
            return super()._get_user_permission_view_menus(user, permission_name, view_menus_name)
        perms = self.user_permissions(user)
        names = set(view_menus_name) if view_menus_name is not None else None
        return {v for p, v in perms if p == permission_name and (names is None or v in names)}

    # ------------------------------------------------------------ password login and lockout
    @staticmethod
    def requires_certificate(user):
        """Accounts of certificate roles sign in by CA certificate; in DEMO_MODE their demo accounts
        may also use the password."""
        if user.party_kind not in passwords.CERTIFICATE_PARTIES:
            return False
        return not (current_app.config.get("DEMO_MODE") and user.is_demo)

    def auth_user_db(self, username, password):
        """The user when the password is right and the account active, not locked and allowed to use a
        password; else None. Unknown, inactive, locked, wrong-password and certificate-only attempts all
        cost one password-hash check and one audit write and get the same answer, so neither the answer
        nor its time tells them apart. A certificate-only account counts every password attempt, right
        or wrong, as a failure toward its lockout: a correct guess is no different from a wrong one."""
        username = (username or "").strip()
        user = self.find_user(username=username) if username else None
        now = clock.now()
        if user is None or not user.is_active or is_null_password(password):
            check_password_hash(current_app.config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"], password or "x")
            audit.record(
                "login_failed",
                user=user,
                username=username[:64],
                result="fail",
                detail="unknown or inactive account" if user is None or not user.is_active else "empty password",
            )
            return None
        correct = check_password_hash(user.password or "", password)
        if user.locked_until is not None and user.locked_until > now:
            audit.record(
                "login_failed", user=user, result="fail", detail=f"locked until {user.locked_until:%Y-%m-%d %H:%M}"
            )
            return None
        if self.requires_certificate(user):  # also closes FAB's password API to certificate roles
            detail = "certificate account, password login off" + (" (password right)" if correct else "")
            self._register_failure(user, now, detail=detail)
            return None
        if not correct:
            self._register_failure(user, now)
            return None
        user.fail_login_count = 0
        user.failed_window_start = None
        user.locked_until = None
        self.record_sign_in(user, now)
        db.session.commit()
        return user

    @staticmethod
    def record_sign_in(user, now=None):
        """Every successful sign-in (password or certificate): the count, the last sign-in on the
        account and, for an enterprise, its first sign-in (附件2's 已登录建筑单位 counts those)."""
        now = now or clock.now()
        user.login_count = (user.login_count or 0) + 1
        user.last_login = clock.naive_utc(now)
        enterprise = user.enterprise if user.party_kind == PartyKind.ENTERPRISE else None
        if enterprise is not None and enterprise.first_login_at is None:
            enterprise.first_login_at = now
            # its own event: the figures that count signed-in enterprises are computed again after it
            # (app/services/figures_cache.py), and after no other sign-in
            audit.record("first_sign_in", user=user, detail=enterprise.name, commit=False)

    def _register_failure(self, user, now, detail="wrong password"):
        """Count a failed password attempt inside the sliding window; the threshold-th failure locks the
        account. The row is locked while counting so that parallel workers do not lose failures."""
        cfg = current_app.config
        window = timedelta(minutes=cfg.get("LOCKOUT_WINDOW_MINUTES", 15))
        row = db.session.query(AppUser).filter_by(id=user.id).populate_existing().with_for_update().one()
        if row.failed_window_start is None or now - row.failed_window_start > window:
            row.failed_window_start = now
            row.fail_login_count = 1
        else:
            row.fail_login_count = (row.fail_login_count or 0) + 1
        locked = row.fail_login_count >= cfg.get("LOCKOUT_THRESHOLD", 5)
        if locked:
            row.locked_until = now + timedelta(minutes=cfg.get("LOCKOUT_MINUTES", 15))
            row.failed_window_start = None
            row.fail_login_count = 0
        audit.record("login_failed", user=row, result="fail", detail=detail, commit=False)
        if locked:
            audit.record(
                "lockout",
                user=row,
                result="ok",
                commit=False,
                detail=f"locked until {row.locked_until:%Y-%m-%d %H:%M} UTC",
            )
        db.session.commit()

    def password_login(self, username, password, start_session=True):
        """(user, None) on success, (None, message) otherwise. The message for an unknown user, a wrong
        password, a locked account and a certificate-only account is one and the same. The web login
        starts a session; the API login (app/api/tokens.py) issues tokens instead, through the same checks
        and lockout."""
        user = self.auth_user_db(username, password)
        if user is None:
            return None, _("用户名或密码错误。连续失败5次，账号将被锁定15分钟。")
        if start_session:
            self.start_session(user, "password")
        return user, None

    def start_session(self, user, method, detail=None):
        sessions.start(user, method)
        audit.record("login", user=user, detail=detail or method)

    # ------------------------------------------------------------ certificate login
    def certificate_login(self, identity):
        """Sign in with a verified certificate: a bound account first; else, by credit code, the
        enterprise (created on its first login). Returns (user, created_enterprise)."""
        from app.services.accounts import enterprise_user_for_certificate

        user = db.session.query(AppUser).filter_by(cert_fingerprint=identity.fingerprint).first()
        created = False
        if user is None:
            user, created = enterprise_user_for_certificate(identity)
        if not user.is_active:
            raise CertificateError(_("该账号已停用，请联系管理员"), "inactive", account=user.username)
        self.record_sign_in(user)
        db.session.commit()
        self.start_session(
            user, "certificate", detail=f"certificate {identity.fingerprint[:16]} {identity.subject}"[:500]
        )
        return user, created

    # ------------------------------------------------------------ sessions
    def load_user(self, pk):
        """Flask-Login's user loader: the user only while this browser's server-side session lives."""
        # roles and groups in the same query: the permission check reads both on every request
        user = self.session.get(
            self.user_model, int(pk), options=[joinedload(self.user_model.roles), joinedload(self.user_model.groups)]
        )
        if user is None or not user.is_active:
            return None
        record = sessions.check(user.id)
        if record is None:
            return None
        g.azx_session = record
        return user

    # ------------------------------------------------------------ API tokens (app/api/tokens.py)
    @property
    def security_api(self):
        from app.api.tokens import PlatformSecurityApi

        return PlatformSecurityApi

    def create_jwt_manager(self, app):
        from app.api.tokens import install

        return install(super().create_jwt_manager(app))

    def load_user_jwt(self, _jwt_header, jwt_data):
        """The account of a token that is still valid for it (version, active, not locked, no
        one-time password); None makes the request 401."""
        from app.api.tokens import token_user

        user = token_user(jwt_data)
        if user is not None:
            g.user = user
        return user

    def before_request(self):
        """FAB's g.user, then: an expired session says so; a due password change blocks every page."""
        SecurityManager.before_request()
        if request.endpoint in ("static", "appbuilder.static"):
            return None
        user = g.user
        if getattr(user, "is_authenticated", False):
            record = sessions.current()
            if (
                record is not None
                and record.method == "password"
                and request.endpoint not in PASSWORD_CHANGE_EXEMPT
                and request.endpoint not in self._logout_endpoints()
                and passwords.change_due(user)
            ):
                flash(_("首次登录或密码已到期，请先修改密码"), "warning")
                return redirect(url_for("AccountView.password"))
        elif g.pop("azx_session_end", None):
            flash(_("会话已超时，请重新登录"), "warning")
        return None

    def _logout_endpoints(self):
        name = type(self.auth_view).__name__
        return (f"{name}.logout", f"{name}.logout_post")

    def on_user_logout(self, user):
        """Called by the logout POST (app/views/auth.py): the session row is revoked on every machine."""
        record = sessions.end_current("logout")
        if user is not None and getattr(user, "id", None):
            from app.models.user import revoke_tokens

            revoke_tokens(user)  # signing out on the web also ends the account's API tokens
            db.session.commit()
        if record is not None:
            audit.record("logout", user=user)

    # ------------------------------------------------------------ passwords
    def change_password(self, user, old_password, new_password):
        """The user's own change: the old password, then the policy; returns the problems (empty = done).
        A wrong current password is a failed login attempt: it counts toward the login's lockout
        (``_register_failure``), and a locked account cannot change its password until the lock ends."""
        now = clock.now()
        if user.locked_until is not None and user.locked_until > now:
            audit.record("password_change", user=user, result="fail", detail="account locked")
            return [_("账号已锁定，请于 %(t)s 后再试", t=clock.fmt(user.locked_until, "%H:%M"))]
        if not check_password_hash(user.password or "", old_password or ""):
            audit.record("password_change", user=user, result="fail", detail="wrong current password")
            self._register_failure(user, now, detail="wrong current password on the password change form")
            db.session.refresh(user)
            if user.locked_until is not None and user.locked_until > now:
                return [_("原密码连续错误，账号已锁定至 %(t)s", t=clock.fmt(user.locked_until, "%H:%M"))]
            return [_("原密码不正确。连续失败5次，账号将被锁定15分钟。")]
        problems = passwords.password_problems(new_password, user.username)
        if not problems and check_password_hash(user.password, new_password):
            problems = [_("新密码不能与原密码相同")]
        if problems:
            return problems
        self._set_password(user, new_password, must_change=False)
        user.fail_login_count = 0
        user.failed_window_start = None
        db.session.commit()
        audit.record("password_change", user=user)
        return []

    def _set_password(self, user, password, must_change):
        user.password = generate_password_hash(
            password,
            method=current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
            salt_length=current_app.config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16),
        )
        user.must_change_password = must_change
        user.password_changed_at = None if must_change else clock.now()

    def reset_password(self, userid, password):
        """FAB's own reset forms: one's own password counts as changed; an administrator's reset of
        another account is a one-time password the owner must change."""
        user = self.get_user_by_id(userid)
        own = getattr(g, "user", None) is not None and getattr(g.user, "id", None) == user.id
        self._set_password(user, password, must_change=not own)
        if not own:
            sessions.revoke_all(user.id, "password_reset")
        self.update_user(user)
        audit.record(
            "password_change" if own else "password_reset",
            user=user,
            detail=None if own else f"by {getattr(g.user, 'username', '')}",
        )

    # REST API keys (app/api/keys.py): FAB's protect() asks these two when FAB_API_KEY_ENABLED is on.
    @staticmethod
    def extract_api_key_from_request():
        from app.api.keys import key_from_request

        return key_from_request()

    def validate_api_key(self, api_key_string):
        from app.api.keys import authenticate

        return authenticate(api_key_string)
