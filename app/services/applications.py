"""投保申请 (在线填报, 审核): the enterprise fills and submits, the insurer or named broker reviews."""

from flask_babel import lazy_gettext as _
from sqlalchemy import select

from app.extensions import db
from app.models import Application, InsuranceCompany, Plan, Project
from app.models.base import utcnow
from app.models.enums import ApplicationStatus as A
from app.models.enums import CompanyKind, FileKind, ProjectInsuranceStatus
from app.models.enums import PartyKind as P
from app.models.insurance import APPLICATION_FILE_SLOTS
from app.security.scope import party_of, scoped_select
from app.storage import UploadError, attach, discard, store_upload
from app.workflows import APPLICATION

from .base import Conflict, Forbidden, Invalid, fetch, transition, unit_of_work
from .commands import ApplicationSchema, FieldErrors, present, read

# An application in one of these states blocks a new one for the same project.
OPEN_STATES = (A.DRAFT, A.PENDING_REVIEW, A.REJECTED, A.APPROVED, A.INSURED)
EDITABLE_STATES = (A.DRAFT, A.REJECTED)
# 投保状态 of a project whose enterprise may 填报 now: insure it (again), or go on with its draft.
FILL_STATES = (ProjectInsuranceStatus.UNINSURED, A.EXPIRED, A.SURRENDERED, *EDITABLE_STATES)


def can_fill(project) -> bool:
    """Whether 填报 applies to the project now (a new application, or its draft or rejected one)."""
    return project.insurance_status in FILL_STATES


def open_application(project_id):
    """The project's application in progress (草稿 … 已投保) through the scope, or None."""
    return db.session.scalars(
        scoped_select(Application)
        .where(Application.project_id == project_id, Application.status.in_(OPEN_STATES))
        .order_by(Application.id.desc())
    ).first()


# The 在线填报 form names the legal representative's ID scans as the manual does.
SLOT_LABELS = {"legal_id_front": _("法定代表人身份证人像面")}


def slot_label(slot):
    return SLOT_LABELS.get(slot) or FileKind.label(slot)


def set_project_status(project_id, status):
    """Keep Project.insurance_status (what lists filter on) in step, inside the caller's transaction."""
    project = db.session.get(Project, project_id)
    if project is not None and project.insurance_status != status:
        project.insurance_status = status


def store_files(session, owner, files, slots, user, errors, suffix="_file"):
    """Store the chosen uploads of ``slots`` (file kinds) on ``owner`` (flushed), replacing older files.

    The file of slot ``s`` is the relationship ``s + suffix`` of the owner.

    Upload problems are collected into ``errors`` per slot; the caller raises them (and the rollback
    removes every file written so far).
    """
    for slot in slots:
        fs = present(files, slot)
        if fs is None:
            continue
        try:
            stored = store_upload(session, fs, slot, user_id=user.id)
        except UploadError as exc:
            errors.add(slot, exc.message)
            continue
        session.flush()
        attach(stored, owner)
        old = getattr(owner, slot + suffix)
        setattr(owner, slot + suffix, stored)
        if old is not None:
            discard(session, old)


def _company(company_id, kind):
    try:
        company = db.session.get(InsuranceCompany, int(company_id))
    except (TypeError, ValueError):
        return None
    if company is None or company.kind != kind or not company.active:
        return None
    return company


def _validate(data, errors):
    values = read(ApplicationSchema, data, errors)
    broker = insurer = plan = None
    if values["broker_id"]:
        broker = _company(values["broker_id"], CompanyKind.BROKER)
        if broker is None:
            errors.add("broker_id", _("请选择有效的经纪公司"))
    if values["insurer_id"]:
        insurer = _company(values["insurer_id"], CompanyKind.INSURER)
        if insurer is None:
            errors.add("insurer_id", _("请选择保险机构"))
        elif broker is not None and insurer not in broker.partner_insurers:
            errors.add("insurer_id", _("所选保险机构不是该经纪公司的合作保险公司"))
    if values["plan_id"]:
        plan = db.session.get(Plan, values["plan_id"])
        if plan is None:
            errors.add("plan_id", _("请选择方案"))
    return broker, insurer, plan, values["contact_phone"], values["agreed"]


def _enterprise_party(user):
    party = party_of(user)
    if party.kind != P.ENTERPRISE:
        raise Forbidden(_("只有建筑施工企业可以填报投保申请"))
    return party


def save_application(user, project_id, data: dict, files: dict, application_id=None) -> Application:
    """Save the 在线填报 form as a draft (new, or an existing draft / rejected application)."""
    _enterprise_party(user)
    project = fetch(Project, project_id, user)
    with unit_of_work() as session:
        if application_id:
            app = fetch(Application, application_id, user)
            if app.project_id != project.id:
                raise Invalid(_("投保申请与项目不符"))
            if app.status not in EDITABLE_STATES:
                raise Conflict(_("当前状态不允许修改，可能已被提交，请刷新后重试"))
        else:
            open_app = session.execute(
                select(Application.id)
                .where(Application.project_id == project.id, Application.status.in_(OPEN_STATES))
                .limit(1)
            ).first()
            if open_app is not None:
                raise Conflict(_("该项目已有投保申请，请在原申请上修改"))
            app = None
        errors = FieldErrors()
        broker, insurer, plan, phone, agreed = _validate(data, errors)
        errors.raise_if_any()
        if app is None:
            app = Application(
                project_id=project.id,
                enterprise_id=project.enterprise_id,
                region_code=project.region_code,
                status=A.DRAFT,
            )
            session.add(app)
        app.broker_id = broker.id if broker else None
        app.insurer_id = insurer.id
        app.plan_id = plan.id
        app.contact_phone = phone
        app.agreed = agreed
        session.flush()
        store_files(session, app, files, APPLICATION_FILE_SLOTS, user, errors)
        errors.raise_if_any(_("上传文件有误，未保存"))
        if project.insurance_status != app.status:
            set_project_status(project.id, app.status)
    return app


def missing_for_submit(app):
    """Field → message for everything a submission still lacks."""
    errors = FieldErrors()
    for slot in APPLICATION_FILE_SLOTS:
        if getattr(app, slot + "_file_id") is None:
            errors.add(slot, _("请上传%(label)s", label=slot_label(slot)))
    if not app.agreed:
        errors.add("agreed", _("请勾选“我已阅读并同意《用户协议》”"))
    return errors


def submit(application_id, user):
    """提交保单: 草稿 / 复审不通过 → 待复审, once every upload is there and the agreement is ticked."""
    app = fetch(Application, application_id, user)
    with unit_of_work():
        missing_for_submit(app).raise_if_any(_("资料不完整，不能提交"))
        project_id = app.project_id
        to = transition(app, APPLICATION, "submit", user, values={"submitted_at": utcnow()})
        set_project_status(project_id, to)
    return app


def withdraw(application_id, user):
    """撤回: the enterprise takes a submitted application back before review (待复审 → 草稿). The insurer
    and broker no longer see it; the API's sync reports it to them as withdrawn (a tombstone)."""
    from app.api.deletions import record_tombstone

    app = fetch(Application, application_id, user)
    with unit_of_work():
        project_id = app.project_id
        record_tombstone("applications", app, "withdrawn")
        to = transition(app, APPLICATION, "withdraw", user)
        set_project_status(project_id, to)
    return app


def _review(application_id, user, name, opinion):
    app = fetch(Application, application_id, user)
    opinion = (opinion or "").strip() or None
    if opinion and len(opinion) > 1000:
        raise Invalid(_("审核意见不能超过1000个字符"), errors={"comment": [_("审核意见不能超过1000个字符")]})
    with unit_of_work():
        project_id = app.project_id
        to = transition(
            app, APPLICATION, name, user, comment=opinion, values={"review_opinion": opinion, "reviewed_at": utcnow()}
        )
        set_project_status(project_id, to)
    return app


def approve(application_id, user, opinion=None):
    """复审通过: 待复审 → 可出单."""
    return _review(application_id, user, "approve", opinion)


def reject(application_id, user, opinion):
    """复审不通过 with the opinion the enterprise will see: 待复审 → 复审不通过."""
    if not (opinion or "").strip():
        raise Invalid(_("复审不通过时必须填写审核意见"), errors={"comment": [_("请填写审核意见")]})
    return _review(application_id, user, "reject", opinion)
