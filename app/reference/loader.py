"""Idempotent seeding of the reference tables.

Rows are matched on their natural key and only missing ones are inserted: the admin may edit
names, limits or rates later, and a re-run (every deploy) must not undo that.
"""

from sqlalchemy import select

from ..models import (
    FloatRule,
    HazardCategory,
    InsuranceCompany,
    MajorHazardStandard,
    Plan,
    Region,
    ServiceItem,
    Setting,
    TitleLevel,
)
from ..models.enums import CompanyKind
from . import data


def _existing(session, *columns):
    rows = session.execute(select(*columns)).all()
    return {tuple(r) if len(columns) > 1 else r[0] for r in rows}


def _insert_missing(session, model, key_columns, rows, key_of):
    have = _existing(session, *key_columns)
    added = [model(**row) for row in rows if key_of(row) not in have]
    session.add_all(added)
    session.flush()
    return added


def _load_regions(session):
    have = _existing(session, Region.code)
    count = 0
    # Flush level by level so that each parent row exists before its children reference it.
    for level in ("province", "city", "county"):
        for code, name, lvl, parent in data.heilongjiang_regions():
            if lvl == level and code not in have:
                session.add(Region(code=code, name=name, level=lvl, parent_code=parent))
                count += 1
        session.flush()
    return count


def _load_companies(session):
    rows = [dict(short_name=s, name=n, kind=CompanyKind.INSURER) for s, n in data.INSURERS]
    rows += [dict(short_name=s, name=n, kind=CompanyKind.BROKER) for s, n in data.BROKERS]
    for order, row in enumerate(rows, start=1):
        row["login_order"] = order
    # Both names are unique: an admin may rename either, so a row matching on one is not missing.
    have = _existing(session, InsuranceCompany.short_name) | _existing(session, InsuranceCompany.name)
    added = [InsuranceCompany(**r) for r in rows if r["short_name"] not in have and r["name"] not in have]
    session.add_all(added)
    # Partnerships are seeded only with a new broker, so that links an admin removed stay removed.
    by_short = {c.short_name: c for c in session.scalars(select(InsuranceCompany))}
    links = 0
    for broker in added:
        for short in data.PARTNERSHIPS.get(broker.short_name, []):
            if short in by_short:
                broker.partner_insurers.append(by_short[short])
                links += 1
    session.flush()
    return len(added), links


def load_reference_data(session, commit=True):
    """Insert missing reference rows; returns the number of inserted rows per table."""
    counts = {"region": _load_regions(session)}
    counts["insurance_company"], counts["broker_partnership"] = _load_companies(session)
    counts["plan"] = len(
        _insert_missing(
            session,
            Plan,
            [Plan.code, Plan.effective_from],
            [dict(p, effective_from=data.PLAN_EFFECTIVE_FROM, is_sample=True) for p in data.PLANS],
            lambda r: (r["code"], r["effective_from"]),
        )
    )
    counts["service_item"] = len(
        _insert_missing(
            session,
            ServiceItem,
            [ServiceItem.code],
            [dict(code=c, name=n, sort_order=i) for i, (c, n) in enumerate(data.SERVICE_ITEMS, start=1)],
            lambda r: r["code"],
        )
    )
    counts["hazard_category"] = len(
        _insert_missing(
            session,
            HazardCategory,
            [HazardCategory.code],
            [dict(code=c, name=n) for c, n in data.HAZARD_CATEGORIES],
            lambda r: r["code"],
        )
    )
    counts["title_level"] = len(
        _insert_missing(
            session,
            TitleLevel,
            [TitleLevel.code],
            [dict(code=c, name=n, rank=r) for c, n, r in data.TITLE_LEVELS],
            lambda r: r["code"],
        )
    )
    counts["major_hazard_standard"] = len(
        _insert_missing(
            session,
            MajorHazardStandard,
            [MajorHazardStandard.version, MajorHazardStandard.item],
            [dict(version=data.MAJOR_HAZARD_VERSION, area=a, item=i, text=t) for a, i, t in data.MAJOR_HAZARD_ITEMS],
            lambda r: (r["version"], r["item"]),
        )
    )
    counts["float_rule"] = len(
        _insert_missing(
            session,
            FloatRule,
            [FloatRule.name],
            [dict(r, is_sample=True) for r in data.FLOAT_RULES],
            lambda r: r["name"],
        )
    )
    counts["setting"] = len(
        _insert_missing(
            session,
            Setting,
            [Setting.key],
            [dict(key=k, value=v, description=d) for k, v, d in data.SETTINGS],
            lambda r: r["key"],
        )
    )
    if commit:
        session.commit()
    return counts
