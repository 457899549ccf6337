"""专业技术人员 (insurer 二.7, org 三.3): list, 详情 with scans, 添加, 删除 = 解约."""

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _
from sqlalchemy import select

from app.extensions import db
from app.models import Expert, TitleLevel
from app.security.scope import get_scoped_or_404
from app.services import experts as expert_service
from app.services.base import ServiceError

from ..base import READ_ONLY, ScopedModelView, flash_service_error
from ..buttons import Button, may

EXPERT_LABELS = {
    "name": _("姓名"),
    "mobile": _("联系方式"),
    "id_number": _("身份证号"),
    "title_level": _("职称"),
    "qualification": _("执业资质"),
    "residence": _("常驻地点"),
    "service_area": _("服务地点"),
    "affiliation": _("所属机构"),
    "org": _("所属机构"),
    "company": _("所属保险机构"),
    "active": _("在约"),
}


class ExpertView(ScopedModelView):
    """专业技术人员 (insurer 二.7, org 三.3): list, 详情 with scans, add, 删除 = 解约."""

    route_base = "/experts"
    datamodel = SQLAInterface(Expert)
    class_permission_name = "Expert"
    method_permission_name = dict(READ_ONLY, new="write", terminate="write")
    base_permissions = None
    list_title = _("专业技术人员")
    list_columns = ["name", "mobile", "title_level", "qualification", "service_area", "affiliation", "active"]
    search_columns = ["name", "title_level", "active"]
    label_columns = EXPERT_LABELS
    formatters_columns = {"active": lambda v: _("在约") if v else _("已解约")}
    base_order = ("id", "desc")

    def list_tools(self, state):
        if not may("write", self.class_permission_name):
            return []
        return [Button(_("添加专业技术人员"), url_for("ExpertView.new"), style="primary", id="azx-add-expert")]

    def row_buttons(self, expert, party):
        buttons = super().row_buttons(expert, party)
        if may("write", self.class_permission_name) and expert.active and expert_service.is_own(expert, g.user):
            confirm = _("删除即解约：%(name)s 将不能再接受派单，历史记录保留。确定解约？", name=expert.name)
            buttons.append(
                Button(
                    _("删除"), url_for("ExpertView.terminate", pk=expert.id), post=True, confirm=confirm, style="danger"
                )
            )
        return buttons

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        expert = get_scoped_or_404(Expert, pk)
        return self.render_template(
            "prevention/expert_detail.html", expert=expert, labels=EXPERT_LABELS, title=_("专业技术人员详情")
        )

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        errors = {}
        if request.method == "POST":
            try:
                expert = expert_service.create_expert(
                    g.user, request.form, request.files.get("id_file"), request.files.get("cert_file")
                )
            except ServiceError as exc:
                errors = flash_service_error(exc)
            else:
                flash(str(_("已添加专业技术人员 %(name)s", name=expert.name)), "success")
                return redirect(url_for("ExpertView.list"))
        titles = db.session.scalars(select(TitleLevel).order_by(TitleLevel.rank)).all()
        return self.render_template(
            "prevention/expert_form.html",
            titles=titles,
            errors=errors,
            form=request.form,
            labels=EXPERT_LABELS,
            title=_("添加专业技术人员"),
        )

    @expose("/terminate/<pk>", methods=["POST"])
    @has_access
    def terminate(self, pk):
        try:
            expert = expert_service.terminate(pk, g.user)
        except ServiceError as exc:
            flash_service_error(exc)
        else:
            flash(str(_("已与 %(name)s 解约", name=expert.name)), "success")
        return redirect(url_for("ExpertView.list"))
