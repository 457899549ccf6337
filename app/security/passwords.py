"""The password policy: at least 8 characters from 3 of the 4 classes (upper, lower, digit, other),
not the username; changed at first login and every ``password_max_age_days`` (Setting, else config)."""

import secrets
import string
import time
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _

from app import clock
from app.extensions import db
from app.models import Setting
from app.models.enums import PartyKind

# Accounts of these parties sign in by CA certificate; they hold no usable password.
CERTIFICATE_PARTIES = {PartyKind.ENTERPRISE, PartyKind.INSURER, PartyKind.BROKER, PartyKind.ORG, PartyKind.EXPERT}

_max_age_cache = {"value": None, "at": 0.0}


def password_problems(password, username=None):
    """The list of policy violations (Chinese messages); empty when the password is acceptable."""
    password = password or ""
    problems = []
    min_length = current_app.config.get("PASSWORD_MIN_LENGTH", 8)
    if len(password) < min_length:
        problems.append(_("密码长度至少 %(n)s 位", n=min_length))
    classes = sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )
    if classes < 3:
        problems.append(_("密码须包含大写字母、小写字母、数字、特殊字符中的至少三类"))
    if username and username.strip() and username.strip().lower() in password.lower():
        problems.append(_("密码不能包含用户名"))
    return problems


def fab_complexity_validator(password):
    """FAB_PASSWORD_COMPLEXITY_VALIDATOR: the same policy on FAB's own user and reset forms."""
    from wtforms.validators import ValidationError

    problems = password_problems(password)
    if problems:
        raise ValidationError("；".join(str(p) for p in problems))


def max_age_days():
    """Password lifetime in days: the Setting password_max_age_days, else config (cached one minute)."""
    if _max_age_cache["value"] is not None and time.monotonic() - _max_age_cache["at"] < 60:
        return _max_age_cache["value"]
    value = current_app.config.get("PASSWORD_MAX_AGE_DAYS", 90)
    row = db.session.get(Setting, "password_max_age_days")
    if row is not None:
        try:
            value = int(row.value)
        except ValueError:
            pass
    _max_age_cache.update(value=value, at=time.monotonic())
    return value


def change_due(user):
    """True when the user must change the password before doing anything else."""
    if user.must_change_password or user.password_changed_at is None:
        return True
    days = max_age_days()
    return days > 0 and clock.now() - user.password_changed_at > timedelta(days=days)


def one_time_password(length=12):
    """A random initial password that satisfies the policy (shown once to the administrator)."""
    alphabet = string.ascii_letters + string.digits + "@#%+=-"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in candidate)
            and any(c.isupper() for c in candidate)
            and any(c.isdigit() for c in candidate)
            and any(not c.isalnum() for c in candidate)
        ):
            return candidate
