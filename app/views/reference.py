"""Reference data and party directories, edited by administrators through generated views."""

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _

from app import workflows
from app.models import (
    Department,
    Enterprise,
    FloatRule,
    FlowEvent,
    HazardCategory,
    InsuranceCompany,
    MajorHazardStandard,
    Plan,
    PreventionOrg,
    Region,
    RegistryProject,
    ServiceItem,
    Setting,
    TitleLevel,
)
from app.models.enums import CompanyKind, RegionLevel
from app.validators import CreditCode, Mobile, Money, NotBefore, Rate, required

from . import formatters
from .base import READ_ONLY, READ_WRITE, ScopedModelView


def _label_of(choice_set):
    return lambda value: choice_set.label(value) if value else formatters.EMPTY


def _ref(
    model, route, columns, labels, title, search=None, order=None, resource="ReferenceData", checks=None, choices=None
):
    """``checks``: field → the app.validators rules FAB's generated add and edit forms run; ``choices``:
    field → the ChoiceSet whose label the list and detail pages show."""
    attrs = dict(
        route_base=route,
        datamodel=SQLAInterface(model),
        class_permission_name=resource,
        method_permission_name=READ_WRITE,
        base_permissions=["can_read", "can_write"],
        list_title=title,
        list_columns=columns,
        show_columns=columns,
        add_columns=columns,
        edit_columns=columns,
        search_columns=search or columns[:3],
        label_columns=labels,
        validators_columns=checks or {},
        formatters_columns={c: _label_of(cs) for c, cs in (choices or {}).items()},
        page_size=50,
    )
    if order:
        attrs["base_order"] = order
    return type(model.__name__ + "AdminView", (ScopedModelView,), attrs)


RegionAdminView = _ref(
    Region,
    "/admin/regions",
    ["code", "name", "level", "parent"],
    {"code": _("区划代码"), "name": _("名称"), "level": _("级别"), "parent": _("上级")},
    _("行政区划"),
    order=("code", "asc"),
    choices={"level": RegionLevel},
)
CompanyAdminView = _ref(
    InsuranceCompany,
    "/admin/companies",
    [
        "login_order",
        "short_name",
        "name",
        "kind",
        "credit_code",
        "contact_name",
        "contact_phone",
        "active",
        "partner_insurers",
    ],
    {
        "login_order": _("登录平台顺序"),
        "short_name": _("简称"),
        "name": _("机构名称"),
        "kind": _("类型"),
        "credit_code": _("统一社会信用代码"),
        "contact_name": _("联系人"),
        "contact_phone": _("联系电话"),
        "active": _("启用"),
        "partner_insurers": _("合作保险公司"),
    },
    _("保险机构"),
    search=["short_name", "name", "kind"],
    order=("login_order", "asc"),
    checks={"credit_code": [CreditCode()]},
    choices={"kind": CompanyKind},
)
PlanAdminView = _ref(
    Plan,
    "/admin/plans",
    [
        "code",
        "name",
        "death_limit",
        "medical_limit",
        "rate",
        "min_premium",
        "effective_from",
        "effective_to",
        "is_sample",
        "details",
    ],
    {
        "code": _("方案"),
        "name": _("名称"),
        "death_limit": _("每人伤亡责任限额(元)"),
        "medical_limit": _("每人医疗费用限额(元)"),
        "rate": _("费率"),
        "min_premium": _("最低保费(元)"),
        "effective_from": _("生效日期"),
        "effective_to": _("失效日期"),
        "is_sample": _("示例数值"),
        "details": _("方案详情"),
    },
    _("投保方案"),
    order=("code", "asc"),
    checks={
        "death_limit": [required(), Money()],
        "medical_limit": [required(), Money()],
        "rate": [required(), Rate()],
        "min_premium": [Money()],
        "effective_from": [required()],
        "effective_to": [NotBefore("effective_from")],
    },
)
FloatRuleAdminView = _ref(
    FloatRule,
    "/admin/float-rules",
    ["sort_order", "name", "min_deaths", "min_injuries", "ratio", "is_sample"],
    {
        "sort_order": _("顺序"),
        "name": _("名称"),
        "min_deaths": _("死亡人数≥"),
        "min_injuries": _("伤残人数≥"),
        "ratio": _("浮动比例"),
        "is_sample": _("示例数值"),
    },
    _("保费浮动比例"),
    order=("sort_order", "asc"),
)
ServiceItemAdminView = _ref(
    ServiceItem,
    "/admin/service-items",
    ["code", "name", "sort_order", "active"],
    {"code": _("代码"), "name": _("服务项目"), "sort_order": _("顺序"), "active": _("启用")},
    _("服务项目"),
    order=("sort_order", "asc"),
)
HazardCategoryAdminView = _ref(
    HazardCategory,
    "/admin/hazard-categories",
    ["code", "name", "active"],
    {"code": _("代码"), "name": _("隐患类别"), "active": _("启用")},
    _("隐患类别"),
    order=("code", "asc"),
)
TitleLevelAdminView = _ref(
    TitleLevel,
    "/admin/titles",
    ["code", "name", "rank"],
    {"code": _("代码"), "name": _("职称"), "rank": _("等级")},
    _("职称"),
    order=("rank", "asc"),
)
MajorHazardAdminView = _ref(
    MajorHazardStandard,
    "/admin/major-hazards",
    ["version", "area", "item", "text", "active"],
    {"version": _("版本"), "area": _("类别"), "item": _("条款"), "text": _("内容"), "active": _("启用")},
    _("重大事故隐患判定标准"),
)
OrgAdminView = _ref(
    PreventionOrg,
    "/admin/orgs",
    ["name", "credit_code", "region", "address", "contact_name", "contact_phone", "active"],
    {
        "name": _("机构名称"),
        "credit_code": _("统一社会信用代码"),
        "region": _("行政区划"),
        "address": _("地址"),
        "contact_name": _("联系人"),
        "contact_phone": _("联系电话"),
        "active": _("启用"),
    },
    _("事故预防机构"),
    checks={"credit_code": [required(), CreditCode()], "region": [required()]},
)
DepartmentAdminView = _ref(
    Department,
    "/admin/departments",
    ["name", "region"],
    {"name": _("部门名称"), "region": _("行政区划")},
    _("职能部门"),
    checks={"region": [required()]},
)
EnterpriseAdminView = _ref(
    Enterprise,
    "/admin/enterprises",
    ["name", "credit_code", "region", "contact_name", "contact_mobile"],
    {
        "name": _("企业名称"),
        "credit_code": _("统一社会信用代码"),
        "region": _("行政区划"),
        "contact_name": _("联系人姓名"),
        "contact_mobile": _("联系人手机"),
    },
    _("建筑施工企业"),
    checks={
        "name": [required()],
        "credit_code": [required(), CreditCode()],
        "region": [required()],
        "contact_mobile": [Mobile()],
    },
)
SettingAdminView = _ref(
    Setting,
    "/admin/settings",
    ["key", "value", "description"],
    {"key": _("参数"), "value": _("值"), "description": _("说明")},
    _("系统参数"),
)


class RegistryProjectView(ScopedModelView):
    route_base = "/registry"
    datamodel = SQLAInterface(RegistryProject)
    class_permission_name = "Registry"
    method_permission_name = READ_ONLY
    base_permissions = ["can_read"]
    list_title = _("住建厅项目表")
    list_columns = ["project_code", "name", "region_code", "enterprise_name", "credit_code", "investment", "valid"]
    show_columns = list_columns
    search_columns = ["project_code", "name", "region_code", "enterprise_name", "valid"]
    label_columns = {
        "project_code": _("项目代码"),
        "name": _("项目名称"),
        "region_code": _("行政区划代码"),
        "enterprise_name": _("施工企业"),
        "credit_code": _("统一社会信用代码"),
        "investment": _("投资规模(万元)"),
        "valid": _("有效"),
    }


class FlowEventView(ScopedModelView):
    route_base = "/admin/flow"
    datamodel = SQLAInterface(FlowEvent)
    class_permission_name = "FlowEvent"
    method_permission_name = READ_ONLY
    base_permissions = ["can_read"]
    list_title = _("流程记录")
    list_columns = [
        "created_at",
        "entity_type",
        "entity_id",
        "action",
        "from_status",
        "to_status",
        "username",
        "party_name",
        "comment",
    ]
    show_columns = list_columns
    search_columns = ["entity_type", "entity_id", "action", "username", "created_at"]
    label_columns = {
        "created_at": _("时间"),
        "entity_type": _("对象"),
        "entity_id": _("编号"),
        "action": _("操作"),
        "from_status": _("原状态"),
        "to_status": _("新状态"),
        "username": _("用户"),
        "party_name": _("单位"),
        "comment": _("意见"),
    }
    formatters_columns = {
        "entity_type": lambda value: workflows.ENTITY_LABELS.get(value, value),
        "action": workflows.action_label,
        "from_status": workflows.status_label,
        "to_status": workflows.status_label,
    }
    base_order = ("id", "desc")
