"""Shared set-up for the prevention tests: insured policies made directly (until the insurance
services are on main), acting users, and JPEGs with or without GPS EXIF made with Pillow."""

import io
import itertools
from datetime import date, datetime, timedelta

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage

from app import clock

_serial = itertools.count(1)


def user(username):
    from app.extensions import db
    from app.models import AppUser

    return db.session.query(AppUser).filter_by(username=username).one()


def _test_enterprise():
    """An enterprise of the tests' own in 齐齐哈尔 (policies of other insurers go there, so that the demo
    enterprises keep exactly the insurers the demo gives them)."""
    from app.demo.data import make_credit_code
    from app.extensions import db
    from app.models import Enterprise

    ent = db.session.query(Enterprise).filter_by(name="预防测试建筑有限公司").first()
    if ent is None:
        ent = Enterprise(
            name="预防测试建筑有限公司", region_code="230202", credit_code=make_credit_code("230202", 30000099)
        )
        db.session.add(ent)
        db.session.flush()
    return ent


def make_policy(insurer="人保财险", enterprise_user="enterprise_demo", premium="20000.00", status="insured"):
    """A project, an application and an issued policy (test set-up only). enterprise_user=None: the
    tests' own enterprise."""
    from app.extensions import db
    from app.models import Application, InsuranceCompany, Plan, Policy, Project

    n = next(_serial)
    ent = user(enterprise_user).enterprise if enterprise_user else _test_enterprise()
    company = db.session.query(InsuranceCompany).filter_by(short_name=insurer).one()
    plan = db.session.query(Plan).filter_by(code="C").first()
    project = Project(
        enterprise_id=ent.id,
        region_code=ent.region_code if enterprise_user != "enterprise_demo" else "230103",
        project_code=f"2409-230103-04-01-{800000 + n:06d}",
        name=f"测试预防项目{n}号楼",
        builder_name="哈尔滨城投建设有限公司",
        address="哈尔滨市南岗区学府路1号",
        investment=3000,
        insurance_status="insured",
    )
    db.session.add(project)
    db.session.flush()
    app_row = Application(
        project_id=project.id,
        enterprise_id=ent.id,
        region_code=project.region_code,
        insurer_id=company.id,
        plan_id=plan.id,
        status="insured",
        agreed=True,
    )
    db.session.add(app_row)
    db.session.flush()
    stamp = datetime.now().strftime("%H%M%S")
    policy = Policy(
        application_id=app_row.id,
        project_id=project.id,
        enterprise_id=ent.id,
        region_code=project.region_code,
        insurer_id=company.id,
        plan_id=plan.id,
        builder_name=project.builder_name,
        project_name=project.name,
        project_code=project.project_code,
        premium=premium,
        start_date=clock.today() - timedelta(days=10),
        end_date=clock.today() + timedelta(days=355),
        policy_no=f"PTEST{n:06d}{stamp}",
        ledger_no=f"CB-{clock.today():%Y%m%d}-{stamp}-T{n:06d}",
        status=status,
    )
    db.session.add(policy)
    db.session.commit()
    return policy


def item_ids(*codes):
    from app.extensions import db
    from app.models import ServiceItem

    codes = codes or ("S02", "S04")
    return [i.id for i in db.session.query(ServiceItem).filter(ServiceItem.code.in_(codes))]


def title_id(code):
    from app.extensions import db
    from app.models import TitleLevel

    return db.session.query(TitleLevel).filter_by(code=code).one().id


def org_id(username="org_demo"):
    return user(username).org_id


def order_data(**overrides):
    today = clock.today()
    data = dict(
        org_id=org_id(),
        service_item_ids=item_ids(),
        service_place="哈尔滨市南岗区学府路1号施工现场",
        start_date=today.isoformat(),
        end_date=(today + timedelta(days=30)).isoformat(),
        deadline=(today + timedelta(days=5)).isoformat(),
        required_title_id=title_id("intermediate"),
        fee="1000.00",
    )
    data.update(overrides)
    return data


def jpeg_bytes(lat=None, lon=None, taken=None, size=(160, 120), colour=(200, 80, 40)):
    """A JPEG; with lat/lon it carries a GPS IFD, with taken a DateTimeOriginal (Beijing time)."""
    img = Image.new("RGB", size, colour)
    exif = Image.Exif()
    if taken is not None:
        exif[0x0132] = taken.strftime("%Y:%m:%d %H:%M:%S")
        exif[0x8769] = {0x9003: taken.strftime("%Y:%m:%d %H:%M:%S"), 0x9011: "+08:00"}
    if lat is not None:

        def dms(v):
            v = abs(v)
            d = int(v)
            m = int((v - d) * 60)
            s = round(((v - d) * 60 - m) * 60, 4)
            return (float(d), float(m), s)

        exif[0x8825] = {1: "N" if lat >= 0 else "S", 2: dms(lat), 3: "E" if lon >= 0 else "W", 4: dms(lon)}
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes() if len(exif) else b"")
    return buf.getvalue()


def upload(data, name="photo.jpg", content_type="image/jpeg"):
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type=content_type)


def site_photo(lat=45.75, lon=126.63):
    return upload(jpeg_bytes(lat=lat, lon=lon, taken=beijing_now()), "signin.jpg")


def beijing_now():
    return datetime.utcnow() + timedelta(hours=8)


def hazard_data(level="general", category_code="09", **extra):
    from app.extensions import db
    from app.models import HazardCategory

    cat = db.session.query(HazardCategory).filter_by(code=category_code).one()
    data = dict(
        level=level,
        category_id=str(cat.id),
        description="作业井四周封闭不严",
        suggestion="临边防护设施宜定型化、工具式",
    )
    data.update(extra)
    return data


ROLE_USERS = {"insurer": "insurer_picc", "org": "org_demo", "expert": "expert_demo", "enterprise": "enterprise_demo"}


def order_in(state, hazards=1, **data):
    """An order of a fresh policy brought to ``state`` through the services. Returns (order id, policy id,
    hazard ids)."""
    from app.extensions import db
    from app.models import DispatchOrder
    from app.services import orders, reviews, visits

    ins, org, exp, ent = (user(ROLE_USERS[k]) for k in ("insurer", "org", "expert", "enterprise"))
    policy = make_policy()
    [order] = orders.dispatch(ins, [policy.id], order_data(**data))
    oid, hids = order.id, []
    path = [
        "pending",
        "accepted",
        "assigned",
        "in_service",
        "rectifying",
        "verifying",
        "org_review",
        "insurer_review",
        "completed",
    ]
    if state in ("refused", "timeout", "redispatched"):
        if state == "timeout":
            orders.check_timeouts(date.fromisoformat(order_data(**data)["deadline"]) + timedelta(days=1))
        else:
            orders.refuse(oid, org, "人手不足")
        if state == "redispatched":
            orders.redispatch(oid, ins, order_data())
        return oid, policy.id, hids
    if state == "expert_refused":
        orders.accept(oid, org)
        orders.assign(oid, org, exp.expert_id)
        orders.expert_refuse(oid, exp, "时间冲突")
        return oid, policy.id, hids
    steps = path[: path.index(state) + 1]
    if "accepted" in steps:
        orders.accept(oid, org)
    if "assigned" in steps:
        orders.assign(oid, org, exp.expert_id)
    if "in_service" in steps:
        orders.expert_accept(oid, exp)
    if "rectifying" in steps:
        visits.sign_in(oid, exp, site_photo())
        visits.save_report(oid, exp, {"service_record": "现场检查脚手架、临时用电"})
        for _i in range(hazards):
            hids.append(visits.add_hazard(oid, exp, hazard_data(), [upload(jpeg_bytes(), "h.jpg")]).id)
        visits.submit_report(oid, exp)
    if "verifying" in steps and hids:
        for hid in hids:
            visits.rectify(hid, ent, "已整改", [upload(jpeg_bytes(colour=(0, 160, 0)), "r.jpg")])
        visits.submit_rectification(oid, ent)
    if "org_review" in steps and hids:
        for hid in hids:
            visits.verify(hid, exp, True, "")
    if "insurer_review" in steps:
        reviews.review(oid, org, True, "同意")
    if "completed" in steps:
        reviews.review(oid, ins, True, "同意")
    db.session.expire_all()
    assert db.session.get(DispatchOrder, oid).status == state
    return oid, policy.id, hids


def signed_in_order(**data):
    """An order in 服务中 whose expert has signed in on site (hazards and the record need it)."""
    from app.services import visits

    oid, _p, _h = order_in("in_service", **data)
    visits.sign_in(oid, user(ROLE_USERS["expert"]), site_photo())
    return oid


@pytest.fixture
def ctx(app):
    """An app context for service-level tests (import this fixture into the test module)."""
    with app.app_context():
        yield
        from app.extensions import db

        db.session.rollback()


def fresh_order(oid):
    from app.extensions import db
    from app.models import DispatchOrder

    db.session.expire_all()
    return db.session.get(DispatchOrder, oid)


class ContextClient:
    """A logged-in test client whose every request runs in a fresh app context: the set-up's outer
    app context (and its ``g``) must not be shared by the requests, as it never is in production."""

    def __init__(self, app, client):
        self.app, self.client = app, client

    def _do(self, method, *args, **kwargs):
        with self.app.app_context():
            response = getattr(self.client, method)(*args, **kwargs)
            response.get_data()  # consume streamed bodies inside the context
            return response

    def get(self, *args, **kwargs):
        return self._do("get", *args, **kwargs)

    def post(self, *args, **kwargs):
        return self._do("post", *args, **kwargs)


@pytest.fixture
def as_user(app, as_user):
    """as_user(name) -> a ContextClient (overrides the conftest's plain client where imported)."""

    def make(username):
        with app.app_context():
            return ContextClient(app, as_user(username))

    return make
