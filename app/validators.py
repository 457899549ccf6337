"""One rule per field, shared by every path that takes the value: the commands' schemas, which serve the
pages' forms and the REST API alike (app/services/commands.py), FAB's generated forms under 基础数据
(app/views/reference.py, the WTForms classes at the bottom) and the registry import
(app/services/registry_import.py):
统一社会信用代码, 身份证号, mobile, e-mail, 行政区划, money, dates and the plan fields (rate).

The plain functions raise ``ValidationError`` (a ValueError) so an import can collect row errors;
the WTForms classes at the bottom re-raise them as ``wtforms.validators.ValidationError``.
Messages are lazy so that they render in the user's language at display time.
"""

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import email_validator
from flask_babel import lazy_gettext as _
from stdnum import exceptions as stdnum_exc
from stdnum.cn import ric, uscc
from wtforms import validators as wtf_validators

from .models.enums import RegionLevel

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
REGION_RE = re.compile(r"^\d{6}$")
# GB/T 40058-2021 投资项目代码: YYMM-RRRRRR-DD-TT-NNNNNC (year/month, region, industry, type, serial+check).
PROJECT_CODE_RE = re.compile(r"^(\d{2})(\d{2})-(\d{6})-(\d{2})-(\d{2})-(\d{6})$")
# Anything starting like an investment project code is held to that shape; other codes are
# contract/bid numbers, which the manual also accepts as 项目代码.
PROJECT_CODE_PREFIX_RE = re.compile(r"^\d{4}-\d{6}-")
PROJECT_CODE_MAX = 64
# Money: non-negative, two decimal places, below 10^12 (the Numeric(14, 2) columns).
MONEY_MAX = Decimal("1e12")
# A plan's rate is a fraction of the investment (0.0015 = 1.5‰): above 0, below 1, six places.
RATE_MAX = Decimal("1")
RATE_PLACES = 6
# Ids and counts are PostgreSQL integers: a larger value is no row and must not reach SQL.
INT32_MAX = 2**31 - 1


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


def validate_phone(value):
    """A contact telephone: a mobile number or a fixed line with its area code (0451-8xxxxxxx)."""
    phone = _text(value).replace(" ", "")
    if not PHONE_RE.match(phone):
        raise ValidationError(_("联系电话格式不正确（手机号或带区号的固定电话）"))
    return phone


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


def _decimal(value):
    if isinstance(value, Decimal):
        number = value
    else:
        text = _text(value).replace(",", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValidationError(_("请输入数字")) from None
    if not number.is_finite():
        raise ValidationError(_("请输入数字"))
    return number


def validate_money(value, maximum=MONEY_MAX):
    """An amount (元, or 万元 where the column says so): a number ≥ 0, below ``maximum``, at most two
    decimal places → Decimal with two places."""
    number = _decimal(value)
    if number < 0:
        raise ValidationError(_("金额不能为负数"))
    if number >= maximum:
        raise ValidationError(_("数值过大"))
    if number.as_tuple().exponent < -2 and number != number.quantize(Decimal("0.01")):
        raise ValidationError(_("最多两位小数"))
    return number.quantize(Decimal("0.01"))


def validate_rate(value):
    """A plan's 费率: a fraction above 0 and below 1 with at most six places."""
    number = _decimal(value)
    if not Decimal(0) < number < RATE_MAX:
        raise ValidationError(_("费率应大于0且小于1（如0.0015表示1.5‰）"))
    step = Decimal(1).scaleb(-RATE_PLACES)
    if number != number.quantize(step):
        raise ValidationError(_("费率最多%(n)d位小数", n=RATE_PLACES))
    return number


def validate_date(value):
    """A date: a date object or text YYYY-MM-DD."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.strptime(_text(value), "%Y-%m-%d").date()
    except ValueError:
        raise ValidationError(_("日期格式应为YYYY-MM-DD")) from None


def validate_date_order(start, end, message=None):
    """End on or after start (either may be empty)."""
    if start and end and end < start:
        raise ValidationError(message or _("终止日期不能早于开始日期"))


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


class Money(_Wrapper):
    def check(self, data):
        validate_money(data)


class Rate(_Wrapper):
    def check(self, data):
        validate_rate(data)


class NotBefore:
    """The field's date is not before the date of ``other`` (a field of the same form)."""

    def __init__(self, other, message=None):
        self.other = other
        self.message = message

    def __call__(self, form, field):
        other = form[self.other].data if self.other in form else None
        try:
            validate_date_order(other, field.data, self.message)
        except ValidationError as exc:
            raise wtf_validators.ValidationError(exc.message) from None


def required():
    """The WTForms required check of every path (FAB's forms): an empty value names the field."""
    return wtf_validators.DataRequired(message=_("必填"))
