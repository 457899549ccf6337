"""Account actions: the enterprise a first certificate login creates, and what administrators do to
accounts (department accounts with a one-time password, activation, unlocking, certificate binding).
Each validates, changes, writes the audit event and commits once."""

import re
import secrets

from flask import current_app
from flask_babel import lazy_gettext as _
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from app import clock
from app.extensions import db
from app.models import AppUser, Department, Enterprise, InsuranceCompany, PreventionOrg, Region
from app.models.enums import PartyKind
from app.security import audit, ca, passwords, sessions
from app.security.ca import CertificateError

from .base import Conflict, Invalid, NotFound, unit_of_work

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{3,64}$")


def _role(name):
    return current_app.appbuilder.sm.find_role(name)


def _unusable_password():
    return generate_password_hash(secrets.token_urlsafe(32))


def enterprise_user_for_certificate(identity):
    """The Enterprise user of the certificate's credit code, creating enterprise and user on the first
    login. Certificates of insurers, brokers, prevention orgs and experts must be bound by an
    administrator first: they are refused here."""
    code = identity.credit_code
    if code is None:
        raise CertificateError(
            _(
                "该证书尚未绑定平台账号，且证书中没有统一社会信用代码。保险机构、事故预防机构和专家的证书须先由平台管理员绑定到账号。"
            ),
            "unbound",
        )
    if (
        db.session.query(InsuranceCompany.id).filter_by(credit_code=code).first()
        or db.session.query(PreventionOrg.id).filter_by(credit_code=code).first()
    ):
        raise CertificateError(
            _(
                "该证书尚未绑定平台账号。保险机构、经纪公司、事故预防机构和专家的证书须先由平台管理员绑定到账号后才能登录。"
            ),
            "unbound",
            account=code,
        )
    enterprise = db.session.query(Enterprise).filter_by(credit_code=code).first()
    if enterprise is not None:
        user = (
            db.session.query(AppUser)
            .filter_by(party_kind=PartyKind.ENTERPRISE, enterprise_id=enterprise.id)
            .order_by(AppUser.id)
            .first()
        )
        if user is not None:
            return user, False
    try:
        return _register_enterprise(identity, enterprise), True
    except IntegrityError:  # a parallel first login of the same enterprise won the race
        db.session.rollback()
        enterprise = db.session.query(Enterprise).filter_by(credit_code=code).one()
        return db.session.query(AppUser).filter_by(enterprise_id=enterprise.id).order_by(AppUser.id).first(), False


def _register_enterprise(identity, enterprise):
    code = identity.credit_code
    now = clock.now()
    if enterprise is None:
        region = db.session.get(Region, code[2:8])
        enterprise = Enterprise(
            name=(identity.name or code)[:128], credit_code=code, region_code=region.code if region else None
        )
        db.session.add(enterprise)
        db.session.flush()
    username = code if not db.session.query(AppUser.id).filter_by(username=code).first() else f"{code}-{enterprise.id}"
    user = AppUser(
        username=username,
        first_name=(identity.name or code)[:64],
        last_name="",
        email=f"{username.lower()}@cert.invalid",
        active=True,
        roles=[_role("Enterprise")],
        password=_unusable_password(),
        password_changed_at=now,
        party_kind=PartyKind.ENTERPRISE,
        enterprise_id=enterprise.id,
        created_on=clock.naive_utc(now),
        changed_on=clock.naive_utc(now),
    )
    db.session.add(user)
    db.session.flush()
    audit.record(
        "enterprise_register",
        user=user,
        commit=False,
        detail=f"{enterprise.name} {code} certificate {identity.fingerprint}",
    )
    db.session.commit()
    return user


def _account(user_id):
    user = db.session.get(AppUser, user_id)
    if user is None:
        raise NotFound(_("账号不存在"))
    return user


def create_department_account(admin, department_id, username, full_name, email=None):
    """A department account with a one-time password (returned once) that must be changed at first login."""
    errors = {}
    username = (username or "").strip()
    full_name = (full_name or "").strip()
    email = (email or "").strip() or None
    department = db.session.get(Department, department_id) if department_id else None
    if department is None:
        errors["department_id"] = _("请选择职能部门")
    if not USERNAME_RE.match(username):
        errors["username"] = _("用户名为3–64位字母、数字、下划线、点或连字符")
    elif db.session.query(AppUser.id).filter(AppUser.username == username).first():
        errors["username"] = _("用户名已存在")
    if not full_name:
        errors["full_name"] = _("请填写姓名")
    if email:
        from app.validators import ValidationError, validate_email

        try:
            email = validate_email(email)
        except ValidationError as exc:
            errors["email"] = exc.message
        if "email" not in errors and db.session.query(AppUser.id).filter(AppUser.email == email).first():
            errors["email"] = _("电子邮箱已被其他账号使用")
    if errors:
        raise Invalid(_("请检查填写的内容"), errors)
    password = passwords.one_time_password()
    now = clock.now()
    with unit_of_work():
        user = AppUser(
            username=username,
            first_name=full_name[:64],
            last_name="",
            email=email or f"{username.lower()}@dept.invalid",
            active=True,
            roles=[_role("Department")],
            party_kind=PartyKind.DEPARTMENT,
            department_id=department.id,
            must_change_password=True,
            password_changed_at=None,
            created_on=clock.naive_utc(now),
            changed_on=clock.naive_utc(now),
        )
        current_app.appbuilder.sm._set_password(user, password, must_change=True)
        db.session.add(user)
        db.session.flush()
        audit.record("account_create", user=user, commit=False, detail=f"by {admin.username}; {department.name}")
    return user, password


def has_password(user) -> bool:
    """Accounts of certificate roles sign in by certificate and hold no password (demo accounts do)."""
    return user.party_kind not in passwords.CERTIFICATE_PARTIES or user.is_demo


def reset_one_time_password(admin, user_id):
    user = _account(user_id)
    if not has_password(user):
        raise Invalid(_("证书登录的账号没有密码，无需重置"))
    password = passwords.one_time_password()
    with unit_of_work():
        current_app.appbuilder.sm._set_password(user, password, must_change=True)
        user.locked_until = None
        sessions.revoke_all(user.id, "password_reset")
        audit.record("password_reset", user=user, commit=False, detail=f"by {admin.username}")
    return password


def set_active(admin, user_id, active):
    user = _account(user_id)
    if user.id == admin.id and not active:
        raise Invalid(_("不能停用自己的账号"))
    with unit_of_work():
        user.active = bool(active)
        if not active:
            sessions.revoke_all(user.id, "deactivated")
        audit.record(
            "account_activate" if active else "account_deactivate",
            user=user,
            commit=False,
            detail=f"by {admin.username}",
        )
    return user


def unlock(admin, user_id):
    user = _account(user_id)
    with unit_of_work():
        user.locked_until = None
        user.fail_login_count = 0
        user.failed_window_start = None
        audit.record("unlock", user=user, commit=False, detail=f"by {admin.username}")
    return user


def bind_certificate(admin, user_id, certificate_pem):
    """Bind a verified certificate (trusted CA, valid, usable for login) to an account."""
    user = _account(user_id)
    try:
        identity = ca.verify_certificate(ca.load_pem_certificates(certificate_pem or ""))
    except CertificateError as exc:
        raise Invalid(exc.message, {"certificate": exc.message}) from None
    other = (
        db.session.query(AppUser)
        .filter(AppUser.cert_fingerprint == identity.fingerprint, AppUser.id != user.id)
        .first()
    )
    if other is not None:
        raise Conflict(_("该证书已绑定账号 %(u)s", u=other.username))
    with unit_of_work():
        user.cert_fingerprint = identity.fingerprint
        audit.record(
            "cert_bind",
            user=user,
            commit=False,
            detail=f"by {admin.username}; {identity.subject}; sha256 {identity.fingerprint}",
        )
    return identity


def unbind_certificate(admin, user_id):
    user = _account(user_id)
    with unit_of_work():
        previous, user.cert_fingerprint = user.cert_fingerprint, None
        audit.record("cert_unbind", user=user, commit=False, detail=f"by {admin.username}; sha256 {previous}")
    return user
