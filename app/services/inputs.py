"""Reading form values into typed values, collecting per-field messages (for Invalid.errors)."""

from datetime import date

from flask_babel import lazy_gettext as _

from app.validators import ValidationError, validate_date, validate_money

from .base import Invalid


class FieldErrors:
    """Collects field → [messages]; ``raise_if_any`` raises one Invalid carrying all of them."""

    def __init__(self):
        self.errors = {}

    def add(self, field, message):
        self.errors.setdefault(field, []).append(message)

    def __bool__(self):
        return bool(self.errors)

    def raise_if_any(self, message=None):
        if self.errors:
            raise Invalid(message or _("请检查填写的内容"), errors=self.errors)

    def text(self, data, field, required=False, max_len=255, label=None):
        value = data.get(field)
        value = "" if value is None else str(value).strip()
        if required and not value:
            self.add(field, _("请填写%(label)s", label=label or field))
        elif len(value) > max_len:
            self.add(field, _("不能超过%(n)d个字符", n=max_len))
        return value or None

    def _raw(self, data, field, required, label, verb=_("请填写")):
        """The stripped text of a field, or None (noting a required field left empty)."""
        raw = data.get(field)
        if raw is None or str(raw).strip() == "":
            if required:
                self.add(field, _("%(verb)s%(label)s", verb=verb, label=label or field))
            return None
        return str(raw).strip()

    def decimal(self, data, field, required=False, label=None):
        """Money (app.validators.validate_money: ≥ 0, two places, below 10^12)."""
        raw = self._raw(data, field, required, label)
        if raw is None:
            return None
        return self._validated(field, validate_money, raw)

    def _validated(self, field, fn, value):
        try:
            return fn(value)
        except ValidationError as exc:
            self.add(field, exc.message)
            return None

    def integer(self, data, field, required=False, label=None, minimum=0, maximum=100000):
        raw = self._raw(data, field, required, label)
        if raw is None:
            return None
        try:
            value = int(str(raw).strip())
        except ValueError:
            self.add(field, _("请输入整数"))
            return None
        if value < minimum or value > maximum:
            self.add(field, _("应在%(a)d到%(b)d之间", a=minimum, b=maximum))
            return None
        return value

    def date(self, data, field, required=False, label=None):
        raw = data.get(field)
        if isinstance(raw, date):
            return validate_date(raw)
        raw = self._raw(data, field, required, label, verb=_("请选择"))
        if raw is None:
            return None
        return self._validated(field, validate_date, raw)

    def check(self, data, field, fn, required=False, label=None):
        """Run a validator from app.validators (raising ValidationError) on a text value."""
        value = self.text(data, field, required=required, label=label)
        if value is None:
            return None
        try:
            return fn(value)
        except ValueError as exc:
            self.add(field, getattr(exc, "message", str(exc)))
            return None


def flag(data, field):
    value = data.get(field)
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("1", "y", "yes", "on", "true")


def present(files, name):
    """The FileStorage under ``name`` when the user actually chose a file."""
    fs = (files or {}).get(name)
    return fs if fs is not None and getattr(fs, "filename", "") else None
