"""Identifier validation shared by WTForms forms and Excel imports.

The plain functions raise ``ValidationError`` (a ValueError) so an import can collect row errors;
the WTForms classes at the bottom re-raise them as ``wtforms.validators.ValidationError``.
Messages are lazy so that they render in the user's language at display time.
"""

import re
import unicodedata

import email_validator
from flask_babel import lazy_gettext as _
from stdnum import exceptions as stdnum_exc
from stdnum.cn import ric, uscc
from wtforms import validators as wtf_validators

from .models.enums import RegionLevel

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
REGION_RE = re.compile(r"^\d{6}$")
# GB/T 40058-2021 投资项目代码: YYMM-RRRRRR-DD-TT-NNNNNC (year/month, region, industry, type, serial+check).
PROJECT_CODE_RE = re.compile(r"^(\d{2})(\d{2})-(\d{6})-(\d{2})-(\d{2})-(\d{6})$")
# Anything starting like an investment project code is held to that shape; other codes are
# contract/bid numbers, which the manual also accepts as 项目代码.
PROJECT_CODE_PREFIX_RE = re.compile(r"^\d{4}-\d{6}-")
PROJECT_CODE_MAX = 64


class ValidationError(ValueError):
    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return str(self.message)


def _text(value):
    return "" if value is None else str(value).strip()


def validate_credit_code(value):
    """统一社会信用代码 → normalised upper-case code."""
    code = _text(value)
    if not code:
        raise ValidationError(_("请填写统一社会信用代码"))
    try:
        return uscc.validate(code)
    except stdnum_exc.InvalidChecksum:
        raise ValidationError(_("统一社会信用代码校验位不正确")) from None
    except stdnum_exc.InvalidLength:
        raise ValidationError(_("统一社会信用代码应为18位")) from None
    except stdnum_exc.ValidationError:
        raise ValidationError(_("统一社会信用代码格式不正确")) from None


def validate_id_number(value):
    """身份证号 (18 位): check digit, birth date and address code → normalised (upper-case X)."""
    number = _text(value)
    if not number:
        raise ValidationError(_("请填写身份证号"))
    try:
        return ric.validate(number)
    except stdnum_exc.InvalidChecksum:
        raise ValidationError(_("身份证号校验位不正确")) from None
    except stdnum_exc.InvalidLength:
        raise ValidationError(_("身份证号应为18位")) from None
    except stdnum_exc.InvalidComponent:
        raise ValidationError(_("身份证号中的出生日期或地址码无效")) from None
    except stdnum_exc.ValidationError:
        raise ValidationError(_("身份证号格式不正确")) from None


def validate_mobile(value):
    mobile = re.sub(r"[\s-]", "", _text(value))
    if not MOBILE_RE.match(mobile):
        raise ValidationError(_("手机号码格式不正确"))
    return mobile


def validate_email(value):
    address = _text(value)
    try:
        return email_validator.validate_email(address, check_deliverability=False).normalized
    except email_validator.EmailNotValidError:
        raise ValidationError(_("电子邮箱格式不正确")) from None


def _level_from_shape(code):
    if code.endswith("0000"):
        return RegionLevel.PROVINCE
    if code.endswith("00"):
        return RegionLevel.CITY
    return RegionLevel.COUNTY


def validate_region_code(value, session=None, level=None):
    """6-digit 行政区划代码; with a session it must exist in the region table.

    Without a session the level is inferred from the code's shape (XX0000 province, XXXX00 city).
    """
    code = _text(value)
    if not REGION_RE.match(code):
        raise ValidationError(_("行政区划代码应为6位数字"))
    if session is not None:
        from .models import Region  # late: keeps this module importable before the models

        region = session.get(Region, code)
        if region is None:
            raise ValidationError(_("行政区划代码%(code)s不存在", code=code))
        actual = region.level
    else:
        actual = _level_from_shape(code)
    if level and actual != level:
        raise ValidationError(_("请选择%(level)s级行政区划", level=RegionLevel.label(level)))
    return code


def check_project_code(value, known_region=None):
    """项目代码 → list of warnings (translatable strings); raises only when empty or too long.

    ``known_region`` is a callable code → bool; without it the region part is not checked.
    """
    code = _text(value)
    if not code:
        raise ValidationError(_("请填写项目代码"))
    if len(code) > PROJECT_CODE_MAX:
        raise ValidationError(_("项目代码不能超过%(n)d个字符", n=PROJECT_CODE_MAX))
    # Full-width digits and dashes are common in pasted Excel cells.
    shape = unicodedata.normalize("NFKC", code)
    m = PROJECT_CODE_RE.match(shape)
    if not m:
        if PROJECT_CODE_PREFIX_RE.match(shape):
            return [_("项目代码看似投资项目代码，但不符合YYMM-RRRRRR-DD-TT-NNNNNC格式")]
        return []
    warnings = []
    if not 1 <= int(m.group(2)) <= 12:
        warnings.append(_("投资项目代码中的月份%(mm)s无效", mm=m.group(2)))
    region = m.group(3)
    if known_region is not None and not known_region(region):
        warnings.append(_("投资项目代码中的行政区划代码%(code)s不在区划表中", code=region))
    return warnings


class _Wrapper:
    """Empty values pass so that Optional fields work; combine with DataRequired when required."""

    def __init__(self, message=None):
        self.message = message

    def check(self, data):
        raise NotImplementedError

    def __call__(self, form, field):
        if field.data is None or _text(field.data) == "":
            return
        try:
            self.check(field.data)
        except ValidationError as exc:
            raise wtf_validators.ValidationError(self.message or exc.message) from None


class CreditCode(_Wrapper):
    def check(self, data):
        validate_credit_code(data)


class IdNumber(_Wrapper):
    def check(self, data):
        validate_id_number(data)


class Mobile(_Wrapper):
    def check(self, data):
        validate_mobile(data)


class Email(_Wrapper):
    def check(self, data):
        validate_email(data)


class RegionCode(_Wrapper):
    """``session`` defaults to the app's db.session (forms always run inside an app context)."""

    def __init__(self, level=None, session=None, message=None):
        super().__init__(message)
        self.level = level
        self.session = session

    def check(self, data):
        session = self.session
        if session is None:
            from .extensions import db

            session = db.session
        validate_region_code(data, session=session, level=self.level)
