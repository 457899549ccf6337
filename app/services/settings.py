"""The platform's tunable figures: the 参数 rows (seeded from ``SETTINGS`` in app/reference/data.py and
edited by the administrator). Every reader goes through here. A row that is missing, empty or unreadable
(a typo under 参数设置) stands back for the value the row is seeded with, so each default is stated once,
in the reference data."""

from decimal import Decimal

from app.extensions import db
from app.models import Setting
from app.reference.data import SETTINGS

DEFAULTS = {key: value for key, value, _note in SETTINGS}


def stored(key):
    """The row's text as the administrator left it, or None."""
    row = db.session.get(Setting, key)
    return row.value if row is not None else None


def _finite_decimal(text) -> Decimal:
    value = Decimal(str(text).strip())
    if not value.is_finite():  # "NaN" and "Infinity" parse, but compare as no rate should
        raise ValueError(text)
    return value


def _read(key, convert):
    text = stored(key)
    if text not in (None, ""):
        try:
            return convert(text)
        except (ArithmeticError, ValueError):
            pass
    return convert(DEFAULTS[key])


def decimal(key) -> Decimal:
    """A rate or a share: the stored decimal, else the seeded one."""
    return _read(key, _finite_decimal)


def integer(key) -> int:
    """A number of days: the stored whole number, else the seeded one."""
    return _read(key, lambda text: int(str(text).strip()))
