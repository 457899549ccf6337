"""平台概览, the administrator's landing page: accounts per role and party, the parties on the platform,
recent sign-ins and registry imports. SQL aggregates only."""

from flask_appbuilder.security.sqla.models import Role, assoc_user_role
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AppUser,
    AuditEvent,
    Department,
    Enterprise,
    Expert,
    InsuranceCompany,
    PreventionOrg,
    RegistryProject,
)
from app.models.enums import CompanyKind, PartyKind

RECENT = 10


def platform_overview():
    s = db.session
    roles = s.execute(
        select(Role.name, func.count(assoc_user_role.c.user_id))
        .outerjoin(assoc_user_role, assoc_user_role.c.role_id == Role.id)
        .group_by(Role.name)
        .order_by(Role.name)
    ).all()
    kinds = dict(s.execute(select(AppUser.party_kind, func.count(AppUser.id)).group_by(AppUser.party_kind)).all())
    companies = dict(
        s.execute(select(InsuranceCompany.kind, func.count(InsuranceCompany.id)).group_by(InsuranceCompany.kind)).all()
    )
    parties = [
        (PartyKind.label(PartyKind.ENTERPRISE), s.scalar(select(func.count(Enterprise.id)))),
        (PartyKind.label(PartyKind.INSURER), companies.get(CompanyKind.INSURER, 0)),
        (PartyKind.label(PartyKind.BROKER), companies.get(CompanyKind.BROKER, 0)),
        (PartyKind.label(PartyKind.ORG), s.scalar(select(func.count(PreventionOrg.id)))),
        (PartyKind.label(PartyKind.EXPERT), s.scalar(select(func.count(Expert.id)))),
        (PartyKind.label(PartyKind.DEPARTMENT), s.scalar(select(func.count(Department.id)))),
    ]
    signed_in = s.scalar(select(func.count(Enterprise.id)).where(Enterprise.first_login_at.is_not(None)))
    accounts = [(PartyKind.label(k) if k else None, n) for k, n in sorted(kinds.items(), key=lambda kv: kv[0] or "")]
    sign_ins = s.execute(
        select(AuditEvent.created_at, AuditEvent.username, AuditEvent.party_name, AuditEvent.detail)
        .where(AuditEvent.action == "login")
        .order_by(AuditEvent.id.desc())
        .limit(RECENT)
    ).all()
    imports = s.execute(
        select(
            RegistryProject.import_batch,
            func.max(RegistryProject.imported_at),
            func.count(RegistryProject.id),
        )
        .where(RegistryProject.import_batch.is_not(None))
        .group_by(RegistryProject.import_batch)
        .order_by(func.max(RegistryProject.imported_at).desc())
        .limit(RECENT)
    ).all()
    return {
        "roles": roles,
        "accounts": accounts,
        "parties": parties,
        "enterprises_signed_in": signed_in,
        "sign_ins": sign_ins,
        "imports": imports,
    }
