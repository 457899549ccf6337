"""The demo's 住建厅项目表: a small registry table, so the demo dashboard shows real 附件2 figures. It
lists the demo projects (all but the last insured one, which shows as 表外已投保 beside the ratio) and a
few projects of enterprises that have not joined the platform, in two cities."""

from app import clock
from app.extensions import db
from app.models import Enterprise, Project, RegistryProject

from .data import make_credit_code
from .insurance import PROJECTS

# (project code, name, county, enterprise, investment 万元): enterprises not on the platform
OTHERS = [
    ("2404-230102-04-01-300001", "道里区安静街棚户区改造项目", "230102", "黑龙江省建工集团有限公司", "4200.00"),
    ("2404-230104-04-01-300002", "道外区北十四道街排水管网工程", "230104", "黑龙江省建工集团有限公司", "1850.00"),
    ("2405-230203-04-01-300003", "建华区文化宫维修加固工程", "230203", "齐齐哈尔市第一建筑工程有限公司", "960.00"),
    ("2405-230204-04-01-300004", "铁锋区红岸公园配套用房工程", "230204", "齐齐哈尔市第一建筑工程有限公司", "1320.00"),
]


def build(parties):
    now = clock.now()
    enterprises = {e.id: e for e in db.session.query(Enterprise)}
    projects = {p.project_code: p for p in db.session.query(Project)}
    insured = [code for _u, _r, code, *_rest, state in PROJECTS if state in ("insured", "expired")]
    outside = insured[-1] if insured else None
    batch = f"demo-{now:%Y%m%d}"
    for _user, region, code, name, builder, investment, *_rest in PROJECTS:
        if code == outside:
            continue
        enterprise = enterprises[projects[code].enterprise_id]
        db.session.add(
            RegistryProject(
                project_code=code,
                name=name,
                region_code=region,
                enterprise_name=enterprise.name,
                credit_code=enterprise.credit_code,
                builder_name=builder,
                investment=investment,
                valid=True,
                import_batch=batch,
                imported_at=now,
            )
        )
    credit = {}
    for code, name, region, enterprise_name, investment in OTHERS:
        credit.setdefault(enterprise_name, make_credit_code(region, 20000001 + len(credit)))
        db.session.add(
            RegistryProject(
                project_code=code,
                name=name,
                region_code=region,
                enterprise_name=enterprise_name,
                credit_code=credit[enterprise_name],
                investment=investment,
                valid=True,
                import_batch=batch,
                imported_at=now,
            )
        )
