"""数据大屏 by city: each city's 承保比例 is its insured projects over its own registry projects, never over
the province's total. Two cities with different ratios, on a clean slate (every other registry row set
invalid and every other project uninsured inside the test's transaction)."""

from decimal import Decimal as D

from sqlalchemy import update

from app.demo.data import make_credit_code
from app.extensions import db
from app.models import AppUser, Enterprise, Project, RegistryProject
from app.services import statistics

# city -> (registry projects, insured projects), counted by hand
ROWS = {"2327": ("232701", 4, 1), "2301": ("230103", 2, 2)}


def _build():
    s = db.session
    s.execute(update(RegistryProject).values(valid=False))
    s.execute(update(Project).values(insurance_status="uninsured"))
    ent = Enterprise(name="城市比例测试企业", region_code="232701", credit_code=make_credit_code("232701", 82000001))
    s.add(ent)
    s.flush()
    for city, (county, registered, insured) in ROWS.items():
        for n in range(registered):
            s.add(
                RegistryProject(
                    project_code=f"CITY-{city}-R{n}",
                    name=f"城市比例登记{city}-{n}",
                    region_code=county,
                    credit_code=ent.credit_code,
                    valid=True,
                )
            )
        for n in range(insured):
            s.add(
                Project(
                    enterprise_id=ent.id,
                    region_code=county,
                    project_code=f"CITY-{city}-P{n}",
                    name=f"城市比例项目{city}-{n}",
                    investment=10,
                    insurance_status="insured",
                )
            )
    s.flush()


def test_each_city_ratio_from_its_own_rows(app):
    with app.test_request_context():
        _build()
        province = db.session.query(AppUser).filter_by(username="dept_province").one()
        fig = statistics.dashboard(province)
        cities = {c["code"]: c for c in fig["cities"]}
        assert (fig["project_total"], fig["insured_projects"], fig["insured_ratio"]) == (6, 3, D("0.5000"))
        assert {k: (c["projects"], c["insured"], c["insured_ratio"]) for k, c in cities.items() if c["projects"]} == {
            "232700": (4, 1, D("0.2500")),
            "230100": (2, 2, D("1.0000")),
        }
        # a city department sees its own city's row only, with the same ratio
        harbin = db.session.query(AppUser).filter_by(username="dept_harbin").one()
        [own] = statistics.dashboard(harbin)["cities"]
        assert (own["code"], own["projects"], own["insured"], own["insured_ratio"]) == ("230100", 2, 2, D("1.0000"))
