"""The input of each command, written once: a marshmallow schema per command, loaded by the service
whoever calls it (a page's form, the REST API, the demo). The API names the same classes in its
contract (app/api/openapi.py) and refuses unknown fields before the service is called; the service's
own checks that need the database (a plan that exists, a policy number not yet used, the fund left)
stay in the service, beside ``read``.

The field rules themselves are app/validators.py's (money, dates); a field's label makes its
"required" message name it, on a page and in an API problem alike."""

from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app import clock
from app.extensions import db
from app.models.enums import RegionLevel
from app.validators import (
    INT32_MAX,
    validate_email,
    validate_mobile,
    validate_money,
    validate_phone,
    validate_region_code,
)
from app.validators import ValidationError as FieldError

from .base import Invalid


def _messages(label=None, choose=False):
    """marshmallow's messages; with a label, "required" names the field (请选择 for a choice)."""
    required = _("必填")
    if label:
        required = _("请选择%(label)s", label=label) if choose else _("请填写%(label)s", label=label)
    return {
        "required": required,
        "null": required,
        "invalid": _("格式不正确"),
        "too_large": _("数值过大"),
        "special": _("数值无效"),
    }


def Str(max_len, required=False, label=None, **kw):
    """A string of at most ``max_len`` characters; a required one must not be blank."""
    messages = _messages(label)
    checks = [validate.Length(max=max_len, error=_("最多 {max} 个字符"))]
    if required:
        checks.append(validate.Regexp(r"\S", error=messages["required"]))
    return fields.String(required=required, validate=checks, error_messages=messages, **kw)


def Text(required=False, label=None, **kw):
    return Str(4000, required=required, label=label, **kw)


def Int(required=False, minimum=None, maximum=INT32_MAX, label=None, choose=False, **kw):
    check = validate.Range(min=minimum, max=maximum, error=_("须在 {min} 至 {max} 之间"))
    if minimum is None:
        check = validate.Range(max=maximum, error=_("数值过大"))
    messages = dict(_messages(label, choose), invalid=_("请输入整数"))
    return fields.Integer(required=required, strict=False, validate=[check], error_messages=messages, **kw)


def Id(required=False, label=None, **kw):
    """A row chosen from a list (请选择 … when it is required and missing)."""
    return Int(required=required, minimum=1, label=label, choose=True, **kw)


class MoneyField(fields.Decimal):
    """An amount by app.validators.validate_money (≥ 0, two places, below 10^12): a JSON number (a
    decimal string is accepted, as a form sends it)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        try:
            return validate_money(value)
        except FieldError as exc:
            raise ValidationError(str(exc.message)) from None


class CheckedField(fields.String):
    """Text checked, and normalised, by a rule of app/validators.py (a mobile number, a region…)."""

    def __init__(self, rule, **kwargs):
        self.rule = rule
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return self.rule(super()._deserialize(value, attr, data, **kwargs))
        except FieldError as exc:
            raise ValidationError(str(exc.message)) from None


def Checked(rule, required=False, label=None, **kw):
    return CheckedField(rule, required=required, error_messages=_messages(label), **kw)


def Money(required=False, label=None, **kw):
    return MoneyField(
        required=required, allow_nan=False, error_messages=_messages(label), metadata={"type": "number"}, **kw
    )


def Day(required=False, label=None, **kw):
    messages = dict(_messages(label, choose=True), invalid=_("日期格式应为YYYY-MM-DD"))
    return fields.Date(required=required, error_messages=messages, **kw)


def IdList(required=False, max_items=200, label=None, **kw):
    return fields.List(
        Id(),
        required=required,
        validate=validate.Length(min=1, max=max_items, error=_("须有 {min} 至 {max} 项")),
        error_messages=_messages(label, choose=True),
        **kw,
    )


class InputSchema(Schema):
    """Unknown fields are refused (a typo must not pass silently)."""

    class Meta:
        ordered = True

    error_messages = {"unknown": _("未知字段"), "type": _("请求体应为 JSON 对象")}


class EmptySchema(InputSchema):
    """A write without fields (an empty JSON object, or no body)."""


def date_order(data, start, end, strict=False, message=None):
    """Cross-field check for @validates_schema: {end: [message]} unless end is after (or on) start."""
    a, b = data.get(start), data.get(end)
    if a and b and (b <= a if strict else b < a):
        return {end: [message or _("结束日期不能早于开始日期")]}
    return {}


def raise_if(errors):
    if errors:
        raise ValidationError(errors)


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


def present(files, name):
    """The FileStorage under ``name`` when the user actually chose a file."""
    fs = (files or {}).get(name)
    return fs if fs is not None and getattr(fs, "filename", "") else None


def _plain(schema, data):
    """The declared fields of ``data`` as the schema reads them: a form's blanks left out (so that
    defaults and "required" apply), its other fields (the CSRF token, the buttons) ignored, a
    multi-valued form field as its list, and values another caller already typed (dates) as text."""
    plain = {}
    for name, field in schema._declared_fields.items():  # text is read stripped
        if name not in data:
            continue
        if isinstance(field, fields.List) and hasattr(data, "getlist"):
            value = [v for v in data.getlist(name) if str(v).strip()]
        else:
            value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()) or value == []:
            continue
        if isinstance(value, str):
            value = value.strip()
        plain[name] = value.isoformat() if isinstance(value, date) else value
    return plain


def _flat(messages):
    """marshmallow's messages (a list's keyed by index) as field → [text]."""
    out = {}
    for field, found in messages.items():
        if isinstance(found, dict):
            found = [m for nested in _flat(found).values() for m in nested]
        elif not isinstance(found, (list, tuple)):  # a lazy message is not wrapped in a list by marshmallow
            found = [found]
        out[field] = [str(m) for m in found]
    return out


def read(schema, data, errors=None):
    """A command's input → its typed values, every declared field (None where none was given).

    With ``errors`` (a FieldErrors) the field messages are added there and the valid fields returned,
    so that the service's own checks are reported in the same answer; without, Invalid is raised."""
    try:
        loaded = schema().load(_plain(schema, data))
        return {name: loaded.get(name) for name in schema._declared_fields}
    except ValidationError as exc:
        found = _flat(exc.messages)
        if errors is None:
            raise Invalid(_("请检查填写的内容"), errors=found) from None
        for field, messages in found.items():
            for message in messages:
                errors.add(field, message)
        return {name: exc.valid_data.get(name) for name in schema._declared_fields}


# ---------------------------------------------------------------- the commands
class IssuePolicySchema(InputSchema):
    """出单 (录入保单): the files come as the parts policy_file and agreement_file; plan_id defaults to
    the application's plan."""

    builder_name = Str(255, required=True, label=_("建设单位名称"))
    project_name = Str(255, required=True, label=_("项目名称"))
    project_code = Str(64, required=True, label=_("项目代码"))
    plan_id = Id(allow_none=True)
    premium = Money(required=True, label=_("保费(元)"))
    start_date = Day(required=True, label=_("生效日期"))
    end_date = Day(required=True, label=_("终止日期"))
    policy_no = Str(64, required=True, label=_("保单号"))
    premium_deviation_reason = Str(1000, allow_none=True)
    agreed = fields.Boolean(load_default=False, error_messages={"invalid": _("应为 true 或 false")})

    @validates_schema(skip_on_field_errors=False)
    def _dates(self, data, **kwargs):
        raise_if(date_order(data, "start_date", "end_date", strict=True, message=_("终止日期须晚于生效日期")))


class ClaimSchema(InputSchema):
    """理赔: 伤残人数, 死亡人数, 估损金额, 已决日期, 已决金额, 提交日期 (default today), 备注."""

    injured_count = Int(minimum=0, maximum=100000, load_default=0, label=_("伤残人数"))
    death_count = Int(minimum=0, maximum=100000, load_default=0, label=_("死亡人数"))
    estimated_loss = Money(allow_none=True)
    settled_date = Day(allow_none=True)
    settled_amount = Money(allow_none=True)
    submitted_date = Day(load_default=clock.today)
    remark = Str(500, allow_none=True)

    @validates_schema(skip_on_field_errors=False)
    def _dates(self, data, **kwargs):
        # No order between the two dates: 提交日期 is the day the claim reached the platform (today on the
        # form), and a claim settled before it was entered is an ordinary case.
        if data.get("settled_amount") is not None and data.get("settled_date") is None:
            raise_if({"settled_date": [_("填写已决金额时请选择已决日期")]})


class OrderTermsSchema(InputSchema):
    """An order's terms (派单 and 再派单): a prevention org (org_id) or one of the insurer's own experts
    (expert_id), the service items, place and dates; the deadline defaults to the acceptance days (or
    the 结束日期, if sooner)."""

    org_id = Id(allow_none=True)
    expert_id = Id(allow_none=True)
    service_item_ids = IdList(required=True, max_items=50, label=_("服务内容"))
    service_place = Str(255, required=True, label=_("服务地点"))
    start_date = Day(required=True, label=_("开始日期"))
    end_date = Day(required=True, label=_("结束日期"))
    deadline = Day(allow_none=True)
    required_title_id = Id(allow_none=True)
    fee = Money(load_default=Decimal("0.00"))

    @validates_schema(skip_on_field_errors=False)
    def _checks(self, data, **kwargs):
        errors = date_order(data, "start_date", "end_date")
        if bool(data.get("org_id")) == bool(data.get("expert_id")):
            errors["org_id"] = [_("请选择一个派单对象：事故预防机构或本公司专业技术人员")]
        raise_if(errors)


class DispatchSchema(OrderTermsSchema):
    """派单 of one or more insured policies, on the same terms."""

    policy_ids = IdList(required=True, label=_("要派单的投保项目"))


def _region(value):
    return validate_region_code(value, session=db.session)


def _county_in_province(value):
    code = validate_region_code(value, session=db.session, level=RegionLevel.COUNTY)
    if not code.startswith("23"):
        raise FieldError(_("请选择黑龙江省内的县级行政区划"))
    return code


class EnterpriseSchema(InputSchema):
    """企业信息 → 保存 (the 统一社会信用代码 comes from the CA certificate and is not part of it)."""

    name = Str(128, required=True, label=_("企业名称"))
    region_code = Checked(_region, required=True, label=_("行政区划代码"))
    registered_address = Str(255, required=True, label=_("工商注册地址"))
    business_address = Str(255, required=True, label=_("主要经营地址"))
    contact_name = Str(64, required=True, label=_("联系人姓名"))
    contact_mobile = Checked(validate_mobile, required=True, label=_("联系人手机"))
    contact_email = Checked(validate_email, required=True, label=_("联系邮箱"))
    legal_name = Str(64, required=True, label=_("法人姓名"))
    legal_mobile = Checked(validate_mobile, required=True, label=_("法人手机"))
    business_scope = Str(4000, required=True, label=_("经营范围"))


class ProjectSchema(InputSchema):
    """新增项目 / 修改 (a county of Heilongjiang; the 项目代码's shape is checked by the service, which
    warns rather than refuses)."""

    region_code = Checked(_county_in_province, required=True, label=_("行政区划代码"))
    project_code = Str(64, required=True, label=_("项目代码"))
    name = Str(255, required=True, label=_("项目名称"))
    investment = Money(required=True, label=_("投资规模"))
    builder_name = Str(255, required=True, label=_("建设单位名称"))
    address = Str(255, required=True, label=_("项目地址"))
    scale_content = Str(4000, allow_none=True)
    planned_start = Day(allow_none=True)
    planned_end = Day(allow_none=True)

    @validates_schema(skip_on_field_errors=False)
    def _dates(self, data, **kwargs):
        raise_if(date_order(data, "planned_start", "planned_end", message=_("计划竣工日期不能早于计划开工日期")))


class ApplicationSchema(InputSchema):
    """在线填报 → 保存 (the uploads come as files; 提交 checks that they are all there)."""

    broker_id = Id(allow_none=True, label=_("经纪公司"))
    insurer_id = Id(required=True, label=_("保险机构"))
    plan_id = Id(required=True, label=_("方案"))
    contact_phone = Checked(validate_phone, required=True, label=_("联系电话"), validate=validate.Length(max=20))
    agreed = fields.Boolean(load_default=False, error_messages={"invalid": _("应为 true 或 false")})
