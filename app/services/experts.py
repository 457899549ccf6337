"""专业技术人员 of a prevention org or an insurer: add (身份证号 check digit validated, ID and
certificate scans) and 删除 = 解约 (deactivated; history kept; no new assignments)."""

from flask_babel import lazy_gettext as _
from sqlalchemy import select

from app.extensions import db
from app.models import Expert, TitleLevel
from app.models.enums import PartyKind as P
from app.security.scope import party_of
from app.storage import UploadError, attach, store_upload
from app.validators import ValidationError, validate_id_number, validate_mobile

from .base import Conflict, Forbidden, Invalid, fetch, record_flow, unit_of_work


def _owner_columns(user):
    party = party_of(user)
    if party.kind == P.ORG:
        return {"org_id": party.id}
    if party.kind == P.INSURER:
        return {"company_id": party.id}
    raise Forbidden(_("只有事故预防机构或保险机构可以管理专业技术人员"))


def create_expert(user, data, id_file=None, cert_file=None):
    """Add an expert to the acting org or insurer."""
    owner = _owner_columns(user)
    errors, values = {}, {}
    name = (data.get("name") or "").strip()
    if not name or len(name) > 64:
        errors["name"] = [_("请填写姓名")]
    try:
        values["mobile"] = validate_mobile(data.get("mobile"))
    except ValidationError as exc:
        errors["mobile"] = [exc.message]
    try:
        values["id_number"] = validate_id_number(data.get("id_number"))
    except ValidationError as exc:
        errors["id_number"] = [exc.message]
    title = (
        db.session.get(TitleLevel, int(data["title_level_id"]))
        if str(data.get("title_level_id") or "").isdigit()
        else None
    )
    if title is None:
        errors["title_level_id"] = [_("请选择职称")]
    for field, label in (
        ("qualification", _("执业资质")),
        ("residence", _("常驻地点")),
        ("service_area", _("服务地点")),
    ):
        values[field] = (data.get(field) or "").strip()
        if len(values[field]) > 255:
            errors[field] = [_("%(label)s过长", label=label)]
    if not values["qualification"]:
        errors["qualification"] = [_("请填写执业资质")]
    if (
        "id_number" in values
        and db.session.execute(select(Expert.id).where(Expert.id_number == values["id_number"])).first()
    ):
        errors["id_number"] = [_("该身份证号已登记")]
    if errors:
        raise Invalid(_("专业技术人员信息有误，请检查后重新提交"), errors=errors)
    with unit_of_work():
        expert = Expert(name=name, title_level_id=title.id, active=True, **owner, **values)
        db.session.add(expert)
        db.session.flush()
        for fs, kind, column in ((id_file, "expert_id", "id_file"), (cert_file, "expert_cert", "cert_file")):
            if fs is None or not getattr(fs, "filename", ""):
                continue
            try:
                stored = store_upload(db.session, fs, kind, user_id=user.id)
            except UploadError as exc:
                raise Invalid(exc.message, errors={column: [exc.message]}) from exc
            db.session.flush()
            attach(stored, expert)
            setattr(expert, column, stored)
    return expert


def is_own(expert, user) -> bool:
    """Whether the expert belongs to the user's org or insurer (who alone may 解约 him or her)."""
    party = party_of(user)
    return (party.kind == P.ORG and expert.org_id == party.id) or (
        party.kind == P.INSURER and expert.company_id == party.id
    )


def terminate(expert_id, user):
    """删除 = 解约: the expert is deactivated (history kept, no new assignments)."""
    _owner_columns(user)
    with unit_of_work():
        expert = fetch(Expert, expert_id, user)
        if not is_own(expert, user):
            raise Forbidden(_("只能解约本机构的专业技术人员"))
        if not expert.active:
            raise Conflict(_("该专业技术人员已解约"))
        expert.active = False
        record_flow("expert", expert.id, "terminate", "active", "inactive", user)
    return expert
