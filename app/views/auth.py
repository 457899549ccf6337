"""Login pages (password and CA certificate), the password change page, account administration and
the security audit search. The rules live in app/security (manager, ca, sessions, passwords) and
app/services/accounts.py; these views only read forms and show results."""

from functools import wraps

from flask import current_app, flash, g, jsonify, make_response, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import no_cache
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.security.views import AuthDBView, ResetMyPasswordView
from flask_appbuilder.security.views import UserDBModelView as FabUserDBModelView
from flask_appbuilder.utils.base import get_safe_redirect
from flask_babel import lazy_gettext as _
from flask_login import logout_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from werkzeug.exceptions import TooManyRequests

from app import clock
from app.extensions import db
from app.models import AppUser, AuditEvent, Department
from app.models.enums import AccountState, PartyKind
from app.security import audit, ca
from app.security.ca import CertificateError
from app.services import accounts
from app.services.base import ServiceError

from .base import READ_ONLY, ScopedModelView
from .buttons import Button
from .search import Choice, Text


def _no_store(response):
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0"
    response.headers["Pragma"] = "no-cache"
    return response


def _landing(user, created=False):
    """Where a fresh login goes: a new enterprise completes 企业信息; others their first menu page."""
    if created:
        flash(_("欢迎首次登录，请完善企业信息"), "info")
        return redirect(url_for("MyEnterpriseView.show"))
    next_url = get_safe_redirect(request.args.get("next", "")) if request.args.get("next") else None
    return redirect(next_url or current_app.appbuilder.get_url_for_index)


def _login_context():
    from app.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
    from app.security import passwords

    demo = current_app.config.get("DEMO_MODE")
    return {
        "demo_mode": demo,
        "demo_accounts": DEMO_ACCOUNTS if demo else [],
        "demo_password": DEMO_PASSWORD if demo else None,
        "password_policy": passwords.policy_text(),
        "proxy_login_url": current_app.config.get("CA_PROXY_LOGIN_URL") or url_for("CertificateLoginView.proxy"),
    }


class PlatformAuthDBView(AuthDBView):
    """Password login (departments and administrators; demo accounts in DEMO_MODE) beside the CA ways."""

    login_template = "auth/login.html"
    title = _("登录")

    @expose("/login/", methods=["GET", "POST"])
    @no_cache
    def login(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        form = LoginForm_db()
        if form.validate_on_submit():
            user, message = self.appbuilder.sm.password_login(form.username.data, form.password.data)
            if user is None:
                flash(message, "warning")
                next_url = request.args.get("next")
                return redirect(
                    self.appbuilder.get_url_for_login_with(get_safe_redirect(next_url))
                    if next_url
                    else self.appbuilder.get_url_for_login
                )
            return _landing(user)
        return self.render_template(
            self.login_template, title=self.title, form=form, appbuilder=self.appbuilder, **_login_context()
        )

    @expose("/logout/", methods=["GET"])
    @no_cache
    def logout(self):
        """The user menu's 退出 leads here: a page that asks, whose form POSTs with the CSRF token. A GET
        never signs anyone out, so a link or an image on another site cannot either."""
        if g.user is None or not g.user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login)
        return self.render_template("auth/logout.html", appbuilder=self.appbuilder)

    @expose("/logout/", methods=["POST"])
    def logout_post(self):
        """Sign out: the session row is revoked (on every machine), then the cookie forgotten."""
        user = self._get_authenticated_user()
        logout_user()
        if user is not None:
            self.appbuilder.sm.on_user_logout(user)
        return redirect(current_app.config.get("LOGOUT_REDIRECT_URL") or self.appbuilder.get_url_for_index)


class ResetMyPasswordRedirectView(ResetMyPasswordView):
    """FAB's own-password form (linked from the profile page) leads to the policy-checked change page."""

    class_permission_name = "ResetMyPasswordView"  # the name every role's self-service permission holds

    @expose("/form", methods=["GET"])
    @has_access
    def this_form_get(self):
        return redirect(url_for("AccountView.password"))

    @expose("/form", methods=["POST"])
    @has_access
    def this_form_post(self):
        return redirect(url_for("AccountView.password"))


class UserDBModelView(FabUserDBModelView):
    """FAB's 用户 pages, with empty values shown as "—" like every other list and detail page. The class
    keeps FAB's name: its endpoints and permissions (``can_userinfo`` on UserDBModelView…) are FAB's."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        from .formatters import plain

        columns = {*(self.list_columns or []), *(self.show_columns or [])}
        for fieldsets in (self.show_fieldsets, self.user_show_fieldsets):
            for _title, spec in fieldsets or []:
                columns.update(spec.get("fields", []))
        self.formatters_columns = dict(self.formatters_columns or {})
        for column in columns:
            self.formatters_columns.setdefault(column, plain)


class CertificateLoginView(BaseView):
    """CA certificate login: the signed-challenge page, its nonce for scripts, and the proxy entry."""

    route_base = "/login/ca"
    default_view = "challenge"

    def _refuse(self, exc, certificate=None):
        audit.record(
            "login_failed",
            username=(exc.account or "")[:64],
            result="fail",
            detail=f"certificate {exc.code}; {ca.describe(certificate)}",
        )
        flash(exc.message, "danger")
        return redirect(url_for("CertificateLoginView.challenge"))

    def _login(self, identity):
        sm = self.appbuilder.sm
        user, created = sm.certificate_login(identity)
        return _landing(user, created)

    @expose("/", methods=["GET"])
    @no_cache
    def challenge(self):
        nonce = ca.issue_challenge()
        return self.render_template(
            "auth/ca_challenge.html",
            nonce=nonce,
            message=ca.challenge_message(nonce).decode(),
            seconds=current_app.config.get("CA_CHALLENGE_SECONDS", 120),
            **_login_context(),
        )

    @expose("/", methods=["POST"])
    def challenge_post(self):
        try:
            identity = ca.verify_challenge(
                request.form.get("nonce", ""), request.form.get("certificate", ""), request.form.get("signature", "")
            )
            return self._login(identity)
        except CertificateError as exc:
            return self._refuse(exc, request.form.get("certificate", ""))

    @expose("/nonce", methods=["GET"])
    @no_cache
    def nonce(self):
        """For scripts: a nonce, the bytes to sign and the CSRF token for the POST (with the cookie). At
        most CA_NONCE_RATE_LIMIT per client address (429 with Retry-After beyond)."""
        try:
            nonce = ca.issue_challenge()
        except TooManyRequests as exc:
            response = jsonify(message=str(_("请求过于频繁，请稍后再试。")), status=429)
            response.status_code = 429
            response.headers["Retry-After"] = str(getattr(exc, "retry_after", 60))
            return response
        return jsonify(
            nonce=nonce,
            message=ca.challenge_message(nonce).decode(),
            csrf_token=generate_csrf(),
            expires_in=current_app.config.get("CA_CHALLENGE_SECONDS", 120),
        )

    @expose("/proxy", methods=["GET"])
    @no_cache
    def proxy(self):
        certs = None
        try:
            certs = ca.proxy_certificates()
            if certs is None:
                raise CertificateError(
                    _(
                        "未收到经可信代理验证的客户端证书。请通过单位数字证书登录入口访问（需插入CA密钥），或使用签名挑战方式登录。"
                    ),
                    "no_proxy_certificate",
                )
            return self._login(ca.verify_certificate(certs))
        except CertificateError as exc:
            return self._refuse(exc, certs[0] if certs else None)


def login_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if g.user is None or not g.user.is_authenticated:
            return redirect(current_app.appbuilder.get_url_for_login_with(request.full_path))
        return view(*args, **kwargs)

    return wrapped


class AccountView(BaseView):
    """重设密码 for every signed-in password account: the user menu's entry (templates/
    azx/navbar.html) and FAB's 用户信息 › 重设密码 both lead here."""

    route_base = "/account"
    default_view = "password"

    @expose("/password", methods=["GET", "POST"])
    @login_required
    def password(self):
        sm = self.appbuilder.sm
        user = sm.get_user_by_id(g.user.id)
        errors = []
        if request.method == "POST":
            new = request.form.get("new_password", "")
            if new != request.form.get("confirm_password", ""):
                errors = [_("两次输入的新密码不一致")]
            else:
                errors = sm.change_password(user, request.form.get("old_password", ""), new)
            if not errors:
                flash(_("密码已修改"), "success")
                return redirect(self.appbuilder.get_url_for_index)
        from app.security import passwords

        return _no_store(
            self.render_template(
                "auth/password.html",
                errors=errors,
                forced=passwords.change_due(user),
                certificate_only=sm.requires_certificate(user),
                policy=passwords.policy_text(),
                max_age=passwords.max_age_days(),
            )
        )


def _roles_cell(roles):
    return ", ".join(str(r) for r in roles or [])


def _account_status_cell(status):
    state, locked_until, must_change = status
    text = AccountState.label(state)
    if state == AccountState.LOCKED:
        text = _("锁定至 %(t)s", t=clock.fmt(locked_until, "%H:%M"))
    cell = Markup('<span class="label label-%s">%s</span>') % (AccountState.colour(state), text)
    if must_change:
        cell += Markup(' <span class="label label-info">%s</span>') % _("待改密码")
    return cell


class AccountAdminView(ScopedModelView):
    """账号管理: department accounts with one-time passwords, activation, unlocking, certificate binding."""

    route_base = "/admin/accounts"
    datamodel = SQLAInterface(AppUser)
    class_permission_name = "Account"
    method_permission_name = {"list": "read", "index": "read", "new": "write", "bind": "write", "act": "write"}
    list_title = _("账号管理")
    list_table_id = "accounts"
    page_size = 50
    list_columns = [
        "username",
        "full_name",
        "party_kind",
        "party_name",
        "roles",
        "account_status",
        "cert_fingerprint",
        "last_login",
    ]
    label_columns = {
        "username": _("用户名"),
        "full_name": _("姓名"),
        "party_kind": _("单位类型"),
        "party_name": _("单位"),
        "roles": _("角色"),
        "account_status": _("状态"),
        "cert_fingerprint": _("证书"),
        "last_login": _("最后登录"),
    }
    formatters_columns = {
        "party_kind": lambda kind: PartyKind.label(kind) if kind else _("平台管理员"),
        "roles": _roles_cell,
        "account_status": _account_status_cell,
        "cert_fingerprint": lambda fp: _("已绑定") if fp else "",
        "last_login": clock.fmt,
    }
    search_bar = [
        Text("q", _("用户名或姓名"), "username", "first_name", "last_name", placeholder=_("用户名或姓名")),
        Choice("kind", _("单位类型"), "party_kind", PartyKind, null_choice=("none", _("平台管理员"))),
    ]
    eager_relations = ["enterprise", "company", "org", "expert", "department"]
    empty_text = _("没有符合条件的账号")
    base_order = ("id", "asc")

    def list_tools(self, state):
        return [Button(_("新建职能部门账号"), url_for("AccountAdminView.new"), style="primary", id="account-new")]

    def row_buttons(self, user, party):
        act = "AccountAdminView.act"
        buttons = []
        if user.active:
            buttons.append(Button(_("停用"), url_for(act, pk=user.id, action="deactivate"), post=True))
        else:
            buttons.append(Button(_("启用"), url_for(act, pk=user.id, action="activate"), post=True))
        if user.locked:
            buttons.append(Button(_("解锁"), url_for(act, pk=user.id, action="unlock"), post=True))
        if accounts.has_password(user):
            buttons.append(Button(_("重置密码"), url_for(act, pk=user.id, action="reset-password"), post=True))
        buttons.append(Button(_("证书绑定"), url_for("AccountAdminView.bind", pk=user.id)))
        return buttons

    @expose("/")
    @has_access
    def index(self):
        return self.list()

    def _admin(self):
        return self.appbuilder.sm.get_user_by_id(g.user.id)

    def _account(self, pk):
        return self._scoped_or_404(pk)

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        from app.services.accounts import create_department_account

        errors, values = {}, request.form
        if request.method == "POST":
            try:
                user, password = create_department_account(
                    self._admin(),
                    request.form.get("department_id", type=int),
                    request.form.get("username"),
                    request.form.get("full_name"),
                    request.form.get("email"),
                )
                return _no_store(self.render_template("auth/one_time_password.html", account=user, password=password))
            except ServiceError as exc:
                errors = exc.errors or {"": exc.message}
                flash(exc.message, "danger")
        departments = db.session.query(Department).order_by(Department.region_code, Department.name).all()
        return self.render_template("auth/account_new.html", departments=departments, errors=errors, values=values)

    @expose("/<int:pk>/certificate", methods=["GET", "POST"])
    @has_access
    def bind(self, pk):
        from app.services.accounts import bind_certificate, unbind_certificate

        account = self._account(pk)
        errors = {}
        if request.method == "POST":
            try:
                if request.form.get("unbind"):
                    unbind_certificate(self._admin(), account.id)
                    flash(_("已解除证书绑定"), "success")
                else:
                    pem = request.form.get("certificate", "")
                    upload = request.files.get("certificate_file")
                    if upload and upload.filename:
                        pem = upload.read(64 * 1024).decode("ascii", "replace")
                    identity = bind_certificate(self._admin(), account.id, pem)
                    flash(_("证书已绑定：%(s)s", s=identity.subject), "success")
                return redirect(url_for("AccountAdminView.list"))
            except ServiceError as exc:
                errors = exc.errors or {"certificate": exc.message}
                flash(exc.message, "danger")
        return self.render_template("auth/bind.html", account=account, errors=errors, kind_label=PartyKind.label)

    @expose("/<int:pk>/<string:action>", methods=["POST"])
    @has_access
    def act(self, pk, action):
        account = self._account(pk)
        admin = self._admin()
        try:
            if action == "activate":
                accounts.set_active(admin, account.id, True)
                flash(_("账号已启用：%(u)s", u=account.username), "success")
            elif action == "deactivate":
                accounts.set_active(admin, account.id, False)
                flash(_("账号已停用：%(u)s", u=account.username), "success")
            elif action == "unlock":
                accounts.unlock(admin, account.id)
                flash(_("账号已解除锁定：%(u)s", u=account.username), "success")
            elif action == "reset-password":
                password = accounts.reset_one_time_password(admin, account.id)
                return _no_store(
                    self.render_template("auth/one_time_password.html", account=account, password=password)
                )
            else:
                from flask import abort

                abort(404)
        except ServiceError as exc:
            flash(exc.message, "danger")
        return redirect(url_for("AccountAdminView.list"))


def _action_cell(value):
    return audit.action_label(value)


def _result_cell(value):
    colour = "success" if value == "ok" else "danger"
    return Markup('<span class="label label-%s">%s</span>') % (colour, escape(str(audit.result_label(value))))


class AuditEventView(ScopedModelView):
    """安全审计: search the audit log by time, event, result, account, party and address."""

    route_base = "/admin/audit"
    datamodel = SQLAInterface(AuditEvent)
    class_permission_name = "AuditLog"
    method_permission_name = READ_ONLY
    base_permissions = ["can_read"]
    list_title = _("安全审计")
    show_title = _("审计记录")
    list_columns = ["created_at", "action", "result", "username", "party_kind", "party_name", "ip", "detail"]
    show_columns = list_columns
    search_columns = ["created_at", "action", "result", "username", "party_name", "ip"]
    label_columns = {
        "created_at": _("时间"),
        "action": _("事件"),
        "result": _("结果"),
        "username": _("账号"),
        "party_kind": _("单位类型"),
        "party_name": _("单位"),
        "ip": _("地址"),
        "detail": _("详情"),
    }
    formatters_columns = {
        "created_at": clock.fmt_seconds,
        "action": _action_cell,
        "result": _result_cell,
        "party_kind": audit.party_kind_label,
    }
    base_order = ("id", "desc")
    page_size = 50


def register_login_views(appbuilder):
    """The certificate login and password pages; the CA login POST is rate limited like FAB's login."""
    sm = appbuilder.sm
    ca_view = appbuilder.add_view_no_menu(CertificateLoginView())
    appbuilder.add_view_no_menu(AccountView())
    if sm.is_auth_limited:
        sm.limiter.limit(sm.auth_rate_limit, methods=["POST"])(ca_view.blueprint)
    return ca_view
