"""The password policy, stated once: at least PASSWORD_MIN_LENGTH (12) characters from 3 of the 4
classes (upper, lower, digit, other), not containing the username, not on the list of common and
published passwords (common-passwords.txt beside this module, the demo password included), not the
current password; changed at first login and every ``password_max_age_days`` (a 参数).
The choice against 等保2.0 level 3 and NIST SP 800-63B is written down in docs/security.md §8; the
form's help text is ``policy_text()``, built from the same values."""

import functools
import os
import secrets
import string
import time
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _

from app import clock
from app.models.enums import PartyKind

# Accounts of these parties sign in by CA certificate; they hold no usable password.
CERTIFICATE_PARTIES = {PartyKind.ENTERPRISE, PartyKind.INSURER, PartyKind.BROKER, PartyKind.ORG, PartyKind.EXPERT}

_max_age_cache = {"value": None, "at": 0.0}


COMMON_PASSWORDS_FILE = os.path.join(os.path.dirname(__file__), "common-passwords.txt")


@functools.cache
def common_passwords():
    """The refused list, lower-cased (comments and blank lines skipped)."""
    with open(COMMON_PASSWORDS_FILE, encoding="utf-8") as fh:
        return frozenset(line.strip().lower() for line in fh if line.strip() and not line.lstrip().startswith("#"))


def min_length():
    return max(int(current_app.config.get("PASSWORD_MIN_LENGTH", 12)), 1)


def policy_text():
    """The policy as the password forms state it (help text), from the values the checks use."""
    text = _(
        "密码至少 %(n)s 位，须包含大写字母、小写字母、数字、特殊字符中的至少三类，不能包含用户名，"
        "不能是常见或已公开的密码（如演示密码），不能与原密码相同。",
        n=min_length(),
    )
    days = max_age_days()
    if days > 0:
        text = str(text) + str(_("每 %(d)s 天须修改一次。", d=days))
    return text


def password_problems(password, username=None):
    """The list of policy violations (Chinese messages); empty when the password is acceptable. The
    reuse of the current password is checked where the current hash is known (the change form)."""
    password = password or ""
    problems = []
    shortest = min_length()
    if len(password) < shortest:
        problems.append(_("密码长度至少 %(n)s 位", n=shortest))
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
    if password.lower() in common_passwords():
        problems.append(_("该密码是常见或已公开的密码，请换一个"))
    return problems


def fab_complexity_validator(password):
    """FAB_PASSWORD_COMPLEXITY_VALIDATOR: the same policy on FAB's own user and reset forms."""
    from wtforms.validators import ValidationError

    problems = password_problems(password)
    if problems:
        raise ValidationError("；".join(str(p) for p in problems))


def max_age_days():
    """Password lifetime in days, 0 for none (the 参数 password_max_age_days; cached one minute)."""
    if _max_age_cache["value"] is not None and time.monotonic() - _max_age_cache["at"] < 60:
        return _max_age_cache["value"]
    from app.services import settings

    value = settings.integer("password_max_age_days")
    _max_age_cache.update(value=value, at=time.monotonic())
    return value


def change_due(user):
    """True when the user must change the password before doing anything else."""
    if user.must_change_password or user.password_changed_at is None:
        return True
    days = max_age_days()
    return days > 0 and clock.now() - user.password_changed_at > timedelta(days=days)


def one_time_password(length=None):
    """A random initial password that satisfies the policy (shown once to the administrator)."""
    length = max(length or 0, min_length(), 12)
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
