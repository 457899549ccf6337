from flask_appbuilder.models.sqla.filters import FilterInFunction
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _

from app.models import DispatchOrder, Expert, Policy
from app.models.enums import OrderStatus as O, PolicyStatus

from .base import READ_ONLY, READ_WRITE, ScopedModelView
from .formatters import choice, money

ORDER_LABELS = {
    "order_no": _("派单号"), "project": _("项目名称"), "project.name": _("项目名称"),
    "project.project_code": _("项目代码"), "org": _("承接单位"), "expert": _("事故预防专家"),
    "insurer": _("派单机构"), "service_place": _("服务地点"), "service_items_text": _("服务内容"),
    "service_items": _("服务内容"), "start_date": _("开始日期"), "end_date": _("结束日期"),
    "deadline": _("截止日期"), "required_title": _("职称要求"), "fee": _("事故预防费(元)"), "status": _("状态"),
    "created_at": _("派单时间"),
}

EXPERT_LABELS = {
    "name": _("姓名"), "mobile": _("联系方式"), "id_number": _("身份证号"), "title_level": _("职称"),
    "qualification": _("执业资质"), "residence": _("常驻地点"), "service_area": _("服务地点"),
    "affiliation": _("所属机构"), "org": _("所属机构"), "company": _("所属保险机构"), "active": _("在约"),
}


def _statuses(*values):
    return lambda: list(values)


class _OrderList(ScopedModelView):
    datamodel = SQLAInterface(DispatchOrder)
    method_permission_name = READ_ONLY
    base_permissions = ["can_read"]
    list_columns = ["order_no", "project.name", "project.project_code", "deadline", "service_items_text",
                    "status"]
    show_columns = ["order_no", "project", "insurer", "org", "expert", "service_place", "service_items",
                    "start_date", "end_date", "deadline", "required_title", "fee", "status"]
    search_columns = ["order_no", "project", "org", "status"]
    label_columns = ORDER_LABELS
    formatters_columns = {"status": choice(O), "fee": money}
    base_order = ("id", "desc")


class InsuredProjectView(ScopedModelView):
    """投保项目: insured projects with their prevention status (insurer dispatches from here)."""

    route_base = "/insured-projects"
    datamodel = SQLAInterface(Policy)
    class_permission_name = "InsuredProject"
    method_permission_name = READ_ONLY
    base_permissions = ["can_read"]
    list_title = _("投保项目")
    list_columns = ["policy_no", "project_name", "project_code", "insurer", "enterprise", "start_date",
                    "end_date", "status"]
    show_columns = list_columns
    search_columns = ["policy_no", "project_name", "enterprise"]
    label_columns = {"policy_no": _("保单号"), "project_name": _("项目名称"), "project_code": _("项目代码"),
                     "insurer": _("承保企业"), "enterprise": _("施工企业名称"), "start_date": _("保单起期"),
                     "end_date": _("保单止期"), "status": _("状态")}
    formatters_columns = {"status": choice(PolicyStatus)}
    base_order = ("id", "desc")


class DispatchOrderView(_OrderList):
    """派单管理 (insurer 二.6, org 三.2)."""

    route_base = "/orders"
    class_permission_name = "DispatchOrder"
    list_title = _("派单管理")
    list_columns = ["order_no", "project.name", "org", "expert", "deadline", "status"]


class ReceivedOrderView(_OrderList):
    """承接项目 of a prevention org (三.1)."""

    route_base = "/org/received"
    class_permission_name = "ReceivedOrder"
    list_title = _("承接项目")


class ReportReviewView(_OrderList):
    """报告审核 (insurer 二.8, org 三.4): orders awaiting the party's review."""

    route_base = "/report-review"
    class_permission_name = "ReportReview"
    list_title = _("报告审核")
    base_filters = [["status", FilterInFunction, _statuses(O.ORG_REVIEW, O.INSURER_REVIEW)]]


class ReportView(_OrderList):
    """查看报告 (insurer 二.9) and 报告列表 (department 五.6): finished reports."""

    route_base = "/reports"
    class_permission_name = "Report"
    list_title = _("查看报告")
    base_filters = [["status", FilterInFunction, _statuses(O.COMPLETED)]]


class ExpertTodoView(_OrderList):
    """待办任务 of an expert (四.1)."""

    route_base = "/expert/todo"
    class_permission_name = "ExpertTask"
    list_title = _("待办任务")
    base_filters = [["status", FilterInFunction, _statuses(O.ASSIGNED, O.IN_SERVICE, O.VERIFYING)]]


class ExpertDoneView(_OrderList):
    """已办任务 of an expert (四.2)."""

    route_base = "/expert/done"
    class_permission_name = "ExpertTask"
    list_title = _("已办任务")
    base_filters = [["status", FilterInFunction, _statuses(O.RECTIFYING, O.ORG_REVIEW, O.INSURER_REVIEW,
                                                           O.COMPLETED, O.EXPERT_REFUSED)]]


class EnterpriseTodoView(_OrderList):
    """待办任务 of an enterprise (一.4): reports with hazards to rectify."""

    route_base = "/enterprise/todo"
    class_permission_name = "EnterpriseTask"
    list_title = _("待办任务")
    base_filters = [["status", FilterInFunction, _statuses(O.RECTIFYING)]]


class EnterpriseDoneView(_OrderList):
    """已办任务 of an enterprise (一.5)."""

    route_base = "/enterprise/done"
    class_permission_name = "EnterpriseTask"
    list_title = _("已办任务")
    base_filters = [["status", FilterInFunction, _statuses(O.VERIFYING, O.ORG_REVIEW, O.INSURER_REVIEW,
                                                           O.COMPLETED)]]


class ExpertView(ScopedModelView):
    """专业技术人员 (insurer 二.7, org 三.3)."""

    route_base = "/experts"
    datamodel = SQLAInterface(Expert)
    class_permission_name = "Expert"
    method_permission_name = READ_ONLY
    base_permissions = ["can_read"]
    list_title = _("专业技术人员")
    list_columns = ["name", "mobile", "title_level", "qualification", "service_area", "affiliation"]
    show_columns = ["name", "mobile", "id_number", "title_level", "qualification", "residence",
                    "service_area", "affiliation", "active"]
    search_columns = ["name", "title_level", "active"]
    label_columns = EXPERT_LABELS
    base_order = ("id", "desc")
