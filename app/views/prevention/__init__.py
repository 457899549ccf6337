"""事故预防 pages of every role (manual 二.5–9, 三, 四, 一.4–5), one module per page family:

- ``orders``: 投保项目 and 派单 (insurer), 派单管理 (insurer and org), 承接项目 (org);
- ``tasks``: 待办任务 / 已办任务 of the expert and of the enterprise;
- ``reviews``: 报告审核 (org and insurer) and 查看报告 / 报告列表;
- ``experts``: 专业技术人员 (org and insurer).

Lists are ScopedModelView declarations whose 操作 buttons come from the ORDER workflow table; every
action posts to a thin endpoint that calls app/services and maps its errors.
"""

from .experts import ExpertView
from .orders import DispatchOrderView, InsuredProjectView, ReceivedOrderView
from .reviews import ReportReviewView, ReportView
from .tasks import EnterpriseDoneView, EnterpriseTodoView, ExpertDoneView, ExpertTodoView

__all__ = [
    "DispatchOrderView",
    "EnterpriseDoneView",
    "EnterpriseTodoView",
    "ExpertDoneView",
    "ExpertTodoView",
    "ExpertView",
    "InsuredProjectView",
    "ReceivedOrderView",
    "ReportReviewView",
    "ReportView",
]
