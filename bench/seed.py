"""`python -m bench.seed --scale N`: realistic synthetic data for the benchmark (bench/run.py).

N projects and N applications, 0.8 N policies, 0.2 N claims, 0.5 N dispatch orders and 2 N hazards,
spread over every county of the region table, every insurer and broker, 36 months and every state,
with N/20 more enterprises (valid credit codes), more prevention orgs and experts. The demo parties
keep a share of everything so the demo accounts see large lists. Rows go in with PostgreSQL COPY
(other databases: batched inserts, for the tests' small scales).
"""

import random
import sys
import time
from datetime import date, datetime, timedelta

from sqlalchemy import text

from app.demo.data import make_credit_code, make_id_number
from app.models.enums import ApplicationStatus as A
from app.models.enums import HazardLevel
from app.models.enums import HazardStatus as H
from app.models.enums import OrderStatus as O

MONTHS = 36
POLICY_STATES = [A.INSURED] * 12 + [A.EXPIRED] * 3 + [A.SURRENDERED]  # 80 % of applications
OTHER_STATES = [A.DRAFT, A.PENDING_REVIEW, A.PENDING_REVIEW, A.REJECTED, A.APPROVED]  # the other 20 %
ORDER_STATES = [s for s, _l, _c in O.CHOICES]
HAZARD_STATES = [H.OPEN, H.SUBMITTED, H.PASSED, H.PASSED, H.PASSED, H.RETURNED]
HAZARD_LEVELS = [HazardLevel.GENERAL, HazardLevel.MAJOR]
WORDS = [
    "哈尔滨",
    "齐齐哈尔",
    "牡丹江",
    "佳木斯",
    "大庆",
    "鸡西",
    "双鸭山",
    "伊春",
    "七台河",
    "鹤岗",
    "黑河",
    "绥化",
    "大兴安岭",
]
KINDS = ["住宅", "商业综合体", "学校", "医院", "道路", "桥梁", "厂房", "管网", "污水处理厂", "体育馆"]


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total, enabled=True):
        self.total, self.done, self.enabled, self.start, self.last = max(total, 1), 0, enabled, time.time(), 0

    def step(self, n, label):
        self.done += n
        now = time.time()
        if not self.enabled or (now - self.last < 0.5 and self.done < self.total):
            return
        self.last = now
        frac = min(self.done / self.total, 1.0)
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\r[{bar:<30}] {frac:6.1%} {self.done:>10,} rows  {label:<14} {now - self.start:6.0f}s")
        sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")


def _next_id(session, table):
    return (session.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar() or 0) + 1


class Writer:
    """COPY on PostgreSQL, batched executemany elsewhere."""

    def __init__(self, session, progress):
        self.session, self.progress = session, progress
        self.pg = session.get_bind().dialect.name == "postgresql"

    def write(self, table, columns, rows):
        if self.pg:
            raw = self.session.connection().connection.driver_connection
            with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for i, row in enumerate(rows, 1):
                    copy.write_row(row)
                    if i % 20000 == 0:
                        self.progress.step(20000, table)
                self.progress.step(i % 20000 if rows else 0, table)
            return
        stmt = text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})")
        batch = []
        for row in rows:
            batch.append(dict(zip(columns, row)))
            if len(batch) == 5000:
                self.session.execute(stmt, batch)
                self.progress.step(len(batch), table)
                batch = []
        if batch:
            self.session.execute(stmt, batch)
            self.progress.step(len(batch), table)


def seed(session, scale, progress=True, rnd_seed=2026):
    """Add ``scale`` projects and everything hanging off them; returns the row counts."""
    from app.models import AppUser, InsuranceCompany, Plan, Region, TitleLevel

    rnd = random.Random(rnd_seed + _next_id(session, "project"))
    today = date.today()
    first_day = today - timedelta(days=MONTHS * 30)
    counties = [r.code for r in session.query(Region).filter(Region.level == "county")]
    insurers = [c.id for c in session.query(InsuranceCompany).filter_by(kind="insurer")]
    brokers = [c.id for c in session.query(InsuranceCompany).filter_by(kind="broker")]
    plans = [(p.id, float(p.rate), float(p.min_premium)) for p in session.query(Plan)]
    titles = [t.id for t in session.query(TitleLevel)]
    demo = {u.username: u for u in session.query(AppUser).filter(AppUser.username.like("%_demo%"))}
    item_ids = [r[0] for r in session.execute(text("SELECT id FROM service_item"))]
    category_ids = [r[0] for r in session.execute(text("SELECT id FROM hazard_category"))]
    if not (counties and insurers and plans and titles):
        raise SystemExit("reference data missing: run `flask init` first")

    n = int(scale)
    n_ent, n_org, n_exp = max(n // 20, 10), max(n // 10000, 3), max(n // 1000, 10)
    total = n * 2 + int(n * 0.8) + int(n * 0.2) + int(n * 0.5) * 2 + n * 2 + n_ent + n_org + n_exp
    bar = Progress(total, progress)
    w = Writer(session, bar)
    now = datetime.now().replace(microsecond=0)

    def when(k):
        """A datetime spread evenly over the 36 months (k in [0, 1))."""
        return datetime.combine(first_day, datetime.min.time()) + timedelta(seconds=int(k * MONTHS * 30 * 86400))

    # -- parties ---------------------------------------------------------------------------------
    ent0 = _next_id(session, "enterprise")
    ents = [(ent0 + i, rnd.choice(counties)) for i in range(n_ent)]
    w.write(
        "enterprise",
        [
            "id",
            "name",
            "region_code",
            "credit_code",
            "contact_name",
            "contact_mobile",
            "business_address",
            "created_at",
            "updated_at",
        ],
        (
            (
                eid,
                f"{rnd.choice(WORDS)}第{eid}建筑工程有限公司",
                reg,
                make_credit_code(reg, 40_000_000 + eid),
                "联系人",
                f"139{eid % 100_000_000:08d}",
                f"{rnd.choice(WORDS)}市建设路{eid % 999 + 1}号",
                now,
                now,
            )
            for eid, reg in ents
        ),
    )
    for key in ("enterprise_demo", "enterprise_demo2"):
        if key in demo and demo[key].enterprise_id:
            e = demo[key].enterprise
            ents.append((e.id, e.region_code))
    org0 = _next_id(session, "prevention_org")
    orgs = [org0 + i for i in range(n_org)]
    w.write(
        "prevention_org",
        ["id", "name", "credit_code", "region_code", "contact_name", "active", "created_at", "updated_at"],
        (
            (
                oid,
                f"基准事故预防机构{oid}",
                make_credit_code("230102", 50_000_000 + oid),
                rnd.choice(counties),
                "联系人",
                True,
                now,
                now,
            )
            for oid in orgs
        ),
    )
    exp0 = _next_id(session, "expert")
    experts_of = {oid: [] for oid in orgs}
    rows = []
    for i in range(n_exp):
        eid, oid = exp0 + i, orgs[i % n_org]
        experts_of[oid].append(eid)
        birth = date(1960, 1, 1) + timedelta(days=eid % 12000)
        rows.append(
            (
                eid,
                f"专家{eid}",
                f"137{eid:08d}",
                make_id_number("230103", birth, eid % 1000),
                rnd.choice(titles),
                oid,
                True,
                now,
                now,
            )
        )
    w.write(
        "expert",
        ["id", "name", "mobile", "id_number", "title_level_id", "org_id", "active", "created_at", "updated_at"],
        rows,
    )
    demo_org = demo["org_demo"].org_id if "org_demo" in demo else None
    demo_expert = demo["expert_demo"].expert_id if "expert_demo" in demo else None
    if demo_org:
        experts_of[demo_org] = [demo_expert] if demo_expert else experts_of[orgs[0]]

    def pick_enterprise(k):
        """1 % of the projects belong to the demo enterprises, the rest spread over the new ones."""
        if k % 100 == 0 and len(ents) > n_ent:
            return ents[n_ent + (k // 100) % (len(ents) - n_ent)]
        return ents[rnd.randrange(n_ent)]

    # -- projects and applications ---------------------------------------------------------------
    p0, a0, pol0 = _next_id(session, "project"), _next_id(session, "application"), _next_id(session, "policy")
    projects, apps = [], []
    for i in range(n):
        pid, aid = p0 + i, a0 + i
        ent_id, _ent_region = pick_enterprise(i)
        region = rnd.choice(counties)
        k = i / n
        created = when(k)
        status = rnd.choice(POLICY_STATES) if rnd.random() < 0.8 else rnd.choice(OTHER_STATES)
        plan_id, rate, min_premium = rnd.choice(plans)
        investment = rnd.randrange(100, 200_000)  # 万元
        insurer = rnd.choice(insurers)
        broker = rnd.choice(brokers) if brokers and rnd.random() < 0.3 else None
        start = created.date() + timedelta(days=rnd.randrange(0, 60))
        projects.append(
            (
                pid,
                ent_id,
                region,
                f"2301{pid:014d}",
                f"{rnd.choice(WORDS)}{rnd.choice(KINDS)}项目{pid}",
                f"{rnd.choice(WORDS)}城市建设投资有限公司",
                f"{rnd.choice(WORDS)}市{pid % 97 + 1}号地块",
                "新建工程",
                investment,
                start,
                start + timedelta(days=365),
                status,
                created,
                created,
                1,
            )
        )
        apps.append(
            (
                aid,
                pid,
                ent_id,
                region,
                broker,
                insurer,
                plan_id,
                f"138{aid % 100_000_000:08d}",
                True,
                status,
                created if status != A.DRAFT else None,
                created,
                created,
                1,
                max(round(investment * 10000 * rate, 2), min_premium),
                start,
            )
        )
    w.write(
        "project",
        [
            "id",
            "enterprise_id",
            "region_code",
            "project_code",
            "name",
            "builder_name",
            "address",
            "scale_content",
            "investment",
            "planned_start",
            "planned_end",
            "insurance_status",
            "created_at",
            "updated_at",
            "version",
        ],
        projects,
    )
    w.write(
        "application",
        [
            "id",
            "project_id",
            "enterprise_id",
            "region_code",
            "broker_id",
            "insurer_id",
            "plan_id",
            "contact_phone",
            "agreed",
            "status",
            "submitted_at",
            "created_at",
            "updated_at",
            "version",
        ],
        (a[:14] for a in apps),
    )
    del projects

    # -- policies: every insured / expired / surrendered application has one (80 % of them, drawn above) --
    insured = [a for a in apps if a[9] in (A.INSURED, A.EXPIRED, A.SURRENDERED)]
    del apps
    policies = []
    for j, a in enumerate(insured):
        pol_id = pol0 + j
        aid, pid, ent_id, region, broker, insurer, plan_id, created, premium, start = (
            a[0],
            a[1],
            a[2],
            a[3],
            a[4],
            a[5],
            a[6],
            a[11],
            a[14],
            a[15],
        )
        policies.append(
            (
                pol_id,
                aid,
                pid,
                ent_id,
                region,
                insurer,
                broker,
                plan_id,
                "城市建设投资有限公司",
                f"项目{pid}",
                f"2301{pid:014d}",
                premium,
                0,
                start,
                start + timedelta(days=365),
                f"PN{pol_id:010d}",
                f"CB-{created:%Y%m%d-%H%M%S}-{pol_id:07d}",
                a[9],
                created,
                created,
                1,
            )
        )
    w.write(
        "policy",
        [
            "id",
            "application_id",
            "project_id",
            "enterprise_id",
            "region_code",
            "insurer_id",
            "broker_id",
            "plan_id",
            "builder_name",
            "project_name",
            "project_code",
            "premium",
            "float_ratio",
            "start_date",
            "end_date",
            "policy_no",
            "ledger_no",
            "status",
            "created_at",
            "updated_at",
            "version",
        ],
        policies,
    )
    del insured

    # -- claims (0.2 N) --------------------------------------------------------------------------
    c0 = _next_id(session, "claim")
    claims = []
    for j in range(int(n * 0.2)):
        p = policies[rnd.randrange(len(policies))] if policies else None
        if p is None:
            break
        submitted = p[13] + timedelta(days=rnd.randrange(1, 300))
        settled = rnd.random() < 0.6
        claims.append(
            (
                c0 + j,
                p[0],
                p[5],
                p[3],
                p[4],
                rnd.choice([0, 0, 1, 2]),
                1 if rnd.random() < 0.05 else 0,
                rnd.randrange(1000, 500_000),
                submitted + timedelta(days=30) if settled else None,
                rnd.randrange(1000, 400_000) if settled else None,
                submitted,
                submitted - timedelta(days=3),
                p[18],
                p[18],
            )
        )
    w.write(
        "claim",
        [
            "id",
            "policy_id",
            "insurer_id",
            "enterprise_id",
            "region_code",
            "injured_count",
            "death_count",
            "estimated_loss",
            "settled_date",
            "settled_amount",
            "submitted_date",
            "accident_date",
            "created_at",
            "updated_at",
        ],
        claims,
    )
    del claims

    # -- dispatch orders (0.5 N) and their service items ------------------------------------------
    o0 = _next_id(session, "dispatch_order")
    orders = []
    for j in range(int(n * 0.5)):
        if not policies:
            break
        p = policies[(j * 7919) % len(policies)]
        oid = o0 + j
        org = demo_org if demo_org and j % 10 == 0 else rnd.choice(orgs)
        status = rnd.choice(ORDER_STATES)
        expert = (
            rnd.choice(experts_of[org]) if status not in (O.PENDING, O.REFUSED, O.TIMEOUT) and experts_of[org] else None
        )
        start = p[13] + timedelta(days=rnd.randrange(0, 200))
        orders.append(
            (
                oid,
                f"PD{oid:010d}",
                p[0],
                p[2],
                p[3],
                p[4],
                p[5],
                org,
                expert,
                "项目现场",
                start,
                start + timedelta(days=30),
                start + timedelta(days=5),
                rnd.randrange(500, 20000),
                status,
                p[18],
                p[18],
                1,
            )
        )
    w.write(
        "dispatch_order",
        [
            "id",
            "order_no",
            "policy_id",
            "project_id",
            "enterprise_id",
            "region_code",
            "insurer_id",
            "org_id",
            "expert_id",
            "service_place",
            "start_date",
            "end_date",
            "deadline",
            "fee",
            "status",
            "created_at",
            "updated_at",
            "version",
        ],
        orders,
    )
    del policies
    if item_ids:
        w.write(
            "order_service_item",
            ["order_id", "service_item_id"],
            ((o[0], item_ids[o[0] % len(item_ids)]) for o in orders),
        )

    # -- hazards (2 N): four per order ------------------------------------------------------------
    h0 = _next_id(session, "hazard")

    def hazards():
        hid = h0
        for o in orders:
            for seq in range(1, 5):
                yield (
                    hid,
                    o[0],
                    o[5],
                    seq,
                    rnd.choice(HAZARD_LEVELS),
                    rnd.choice(category_ids),
                    "临边防护缺失",
                    rnd.choice(HAZARD_STATES),
                    o[15],
                    o[15],
                    1,
                )
                hid += 1

    if category_ids:
        w.write(
            "hazard",
            [
                "id",
                "order_id",
                "region_code",
                "seq",
                "level",
                "category_id",
                "description",
                "status",
                "created_at",
                "updated_at",
                "version",
            ],
            hazards(),
        )
    bar.close()
    if w.pg:
        for table in (
            "enterprise",
            "prevention_org",
            "expert",
            "project",
            "application",
            "policy",
            "claim",
            "dispatch_order",
            "hazard",
        ):
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
            )
    session.commit()
    return {"projects": n, "orders": len(orders), "enterprises": n_ent, "orgs": n_org, "experts": n_exp}


def main(argv=None):
    """Fill the database of DATABASE_URL with synthetic rows (PostgreSQL: COPY), then ANALYZE."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.seed", description=main.__doc__)
    parser.add_argument("--scale", type=int, default=10000, help="number of projects (default 10000)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    from app import create_app
    from app.extensions import db

    app = create_app({"AZX_SYNC_ROLES": False})
    with app.app_context():
        started = time.time()
        counts = seed(db.session, args.scale, progress=not args.no_progress)
        if db.session.get_bind().dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        print(f"seeded {counts} in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
