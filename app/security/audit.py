"""Security audit: every login, failed login, lockout, unlock, password change, certificate binding and
logout is written as an AuditEvent with time, account, party, client address and result."""

from flask import has_request_context, request
from flask_babel import lazy_gettext as _

from app import clock
from app.extensions import db
from app.models import AuditEvent
from app.models.enums import PartyKind

ACTIONS = {
    "download": _("下载文件"),
    "export": _("导出"),
    "registry_import": _("导入项目备案"),
    "login": _("登录"),
    "login_failed": _("登录失败"),
    "lockout": _("账号锁定"),
    "unlock": _("解除锁定"),
    "password_change": _("修改密码"),
    "password_reset": _("重置密码"),
    "cert_bind": _("绑定证书"),
    "cert_unbind": _("解除证书绑定"),
    "logout": _("退出"),
    "session_expired": _("会话超时"),
    "account_create": _("创建账号"),
    "account_activate": _("启用账号"),
    "account_deactivate": _("停用账号"),
    "enterprise_register": _("企业首次登录注册"),
    "first_sign_in": _("企业首次登录"),
}
RESULTS = {"ok": _("成功"), "fail": _("失败")}


def client_ip():
    """The client address (after ProxyFix, when the deployment configures it)."""
    if not has_request_context():
        return None
    return (request.remote_addr or "")[:45] or None


def record(action, user=None, username=None, result="ok", detail=None, commit=True):
    """Write one audit event. ``user`` may be None for an unknown account (``username`` then says who
    was tried)."""
    party_kind = getattr(user, "party_kind", None)
    party_name = getattr(user, "party_name", "") if user is not None else ""
    event = AuditEvent(
        created_at=clock.now(),
        action=action,
        result=result,
        user_id=getattr(user, "id", None),
        username=(username or getattr(user, "username", None) or "")[:64],
        party_kind=party_kind,
        party_name=(party_name or "")[:128],
        ip=client_ip(),
        detail=str(detail)[:2000] if detail else None,
    )
    db.session.add(event)
    if commit:
        db.session.commit()
    return event


def action_label(action):
    return ACTIONS.get(action, action)


def result_label(result):
    return RESULTS.get(result, result)


def party_kind_label(kind):
    return PartyKind.label(kind) if kind else ""


def audit_event(action, detail="", result="ok", user=None):
    """Record what the current user did (an export, a download): who, party, what, when, from where.

    Written in its own short transaction, so the record survives the caller's rollback and never
    commits the caller's pending work. A failure to record is logged, never raised to the user.
    """
    import logging

    from app.security.scope import current_user_obj

    user = user if user is not None else current_user_obj()
    row = dict(
        created_at=clock.now(),
        action=str(action)[:32],
        result=str(result)[:16],
        user_id=getattr(user, "id", None),
        username=(getattr(user, "username", None) or "")[:64] or None,
        party_kind=getattr(user, "party_kind", None),
        party_name=((getattr(user, "party_name", "") or "")[:128]) if user is not None else None,
        ip=client_ip(),
        detail=str(detail or "")[:2000],
    )
    try:
        with db.engine.begin() as conn:
            conn.execute(AuditEvent.__table__.insert().values(**row))
    except Exception:
        logging.getLogger(__name__).exception("audit event not recorded: %s", row)
