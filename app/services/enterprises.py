"""企业信息 and 项目信息: the enterprise keeps its own record and adds its projects."""

from flask_babel import lazy_gettext as _
from sqlalchemy import select

from app.extensions import db
from app.models import Enterprise, Project, Region
from app.models.enums import ApplicationStatus as A
from app.models.enums import PartyKind as P
from app.models.enums import ProjectInsuranceStatus
from app.security.scope import party_of
from app.validators import check_project_code

from .applications import store_files
from .base import Conflict, Forbidden, check_version, fetch, unit_of_work
from .commands import EnterpriseSchema, FieldErrors, ProjectSchema, read

ENTERPRISE_FILE_SLOTS = (
    "business_license",
    "qualification",
    "legal_id_qr",
    "legal_id_front",
    "legal_id_back",
    "safety_permit",
)
# A project's data is fixed once an application for it is under review or insured.
PROJECT_EDITABLE = (ProjectInsuranceStatus.UNINSURED, A.DRAFT, A.REJECTED, A.EXPIRED, A.SURRENDERED)


def _own_enterprise(user):
    enterprise = own_enterprise(user)
    if enterprise is None:
        raise Forbidden(_("当前账号未绑定建筑施工企业"))
    return enterprise


def own_enterprise(user):
    """The enterprise the user acts for, or None (an account of another party)."""
    party = party_of(user)
    if party.kind != P.ENTERPRISE or party.id is None:
        return None
    return fetch(Enterprise, party.id, user)


def can_add_project(user) -> bool:
    """新增项目 is the enterprise's own: only an account bound to an enterprise adds projects."""
    party = party_of(user)
    return party.kind == P.ENTERPRISE and party.id is not None


def project_editable(project) -> bool:
    """A project's data is fixed once an application for it is under review or insured."""
    return project.insurance_status in PROJECT_EDITABLE


def update_enterprise(user, data: dict, files: dict) -> Enterprise:
    """进入编辑 → 保存 of 企业信息. The credit code comes from the CA certificate and is not changed here."""
    enterprise = _own_enterprise(user)
    errors = FieldErrors()
    values = read(EnterpriseSchema, data, errors)
    code = (data.get("credit_code") or "").strip().upper()
    if code and code != enterprise.credit_code:
        errors.add("credit_code", _("统一社会信用代码来自数字证书，不能修改"))
    errors.raise_if_any()
    with unit_of_work() as session:
        for key, value in values.items():
            setattr(enterprise, key, value)
        store_files(session, enterprise, files, ENTERPRISE_FILE_SLOTS, user, errors)
        errors.raise_if_any(_("上传文件有误，未保存"))
    return enterprise


def _known_region(code):
    return db.session.get(Region, code) is not None


def save_project(user, data: dict, project_id=None):
    """新增项目 (or correct one not yet under review). Returns (project, warnings about the code)."""
    enterprise = _own_enterprise(user)
    errors = FieldErrors()
    values = read(ProjectSchema, data, errors)
    warnings = []
    if values["project_code"]:
        try:
            warnings = check_project_code(values["project_code"], known_region=_known_region)
        except ValueError as exc:
            errors.add("project_code", getattr(exc, "message", str(exc)))
    errors.raise_if_any()
    with unit_of_work() as session:
        if project_id:
            project = fetch(Project, project_id, user)
            check_version(project, data.get("row_version"))
            if not project_editable(project):
                raise Conflict(_("项目已提交投保，不能修改"))
        else:
            duplicate = session.execute(
                select(Project.id).where(
                    Project.enterprise_id == enterprise.id,
                    Project.project_code == values["project_code"],
                    Project.name == values["name"],
                )
            ).first()
            if duplicate is not None:
                errors.add("name", _("该项目已存在"))
                errors.raise_if_any()
            project = Project(enterprise_id=enterprise.id, insurance_status=ProjectInsuranceStatus.UNINSURED)
            session.add(project)
        for key, value in values.items():
            setattr(project, key, value)
    return project, warnings
