"""Demo stage: dispatch orders in every state on the insured demo policies of 人保财险 for
enterprise_demo, built through the services as insurer_picc, org_demo, expert_demo and
enterprise_demo — including a completed one with sign-in, hazards, photos, rectification, both
reviews and its archived PDF. Does nothing when no such insured policy exists."""

import io
from datetime import timedelta

from PIL import Image, ImageDraw
from werkzeug.datastructures import FileStorage

from app import clock
from app.extensions import db
from app.models import AppUser, HazardCategory, MajorHazardStandard, Policy, ServiceItem, TitleLevel
from app.models.enums import PolicyStatus
from app.services import orders, reviews, visits

HARBIN = (45.7567, 126.6424)

HAZARDS = [
    (
        "general",
        "09",
        "作业井四周封闭不严，临边未设防护栏杆",
        "临边防护设施宜定型化、工具式，杆件的规格及连接固定方式应符合规范要求",
    ),
    (
        "general",
        "03",
        "挖掘机作业区未设置警示标识牌、警戒区",
        "挖掘机、起重机、打桩机等易发生安全事故的施工现场，应设置警戒区域，悬挂警示标志，非工作人员不得入内",
    ),
    ("general", "05", "现场开关箱未及时巡检，无巡检记录", "用电各项记录应按规填写，记录应真实有效"),
    (
        "major",
        "10",
        "深基坑局部土方超挖，支护结构未按方案施工",
        "立即停止超挖作业，按专项施工方案补强支护并组织第三方监测",
    ),
]


def photo_bytes(label, colour, lat=None, lon=None):
    """A small JPEG standing in for a site photo; with lat/lon it carries GPS EXIF as a phone's does."""
    img = Image.new("RGB", (480, 360), colour)
    draw = ImageDraw.Draw(img)
    draw.rectangle([40, 200, 440, 330], fill=(150, 150, 150))
    draw.polygon([(60, 200), (240, 60), (420, 200)], fill=(90, 90, 110))
    draw.text((20, 20), label, fill=(255, 255, 255))
    exif = Image.Exif()
    if lat is not None:
        taken = clock.local(clock.now()).strftime("%Y:%m:%d %H:%M:%S")
        exif[0x0132] = taken
        exif[0x8769] = {0x9003: taken, 0x9011: "+08:00"}

        def dms(v):
            d = int(v)
            m = int((v - d) * 60)
            return (float(d), float(m), round(((v - d) * 60 - m) * 60, 3))

        exif[0x8825] = {1: "N", 2: dms(lat), 3: "E", 4: dms(lon)}
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80, exif=exif.tobytes() if len(exif) else b"")
    return buf.getvalue()


def site_photo(label, colour, lat=None, lon=None):
    return FileStorage(
        stream=io.BytesIO(photo_bytes(label, colour, lat, lon)), filename=f"{label}.jpg", content_type="image/jpeg"
    )


def _users():
    return {
        u.username: u
        for u in db.session.query(AppUser).filter(
            AppUser.username.in_(["insurer_picc", "org_demo", "expert_demo", "enterprise_demo"])
        )
    }


def _order_data(policy, org_id, title_id, items, today, fee, deadline_days=7, place=None):
    return dict(
        org_id=org_id,
        service_item_ids=items,
        service_place=place or policy.project.address or policy.project_name,
        start_date=today.isoformat(),
        end_date=(today + timedelta(days=30)).isoformat(),
        deadline=(today + timedelta(days=deadline_days)).isoformat(),
        required_title_id=title_id,
        fee=str(fee),
    )


def build(parties, policies=None):
    """Orders on the insured policies of 人保财险 for enterprise_demo (or on ``policies``, for tests)."""
    users = _users()
    if len(users) < 4:
        return
    insurer_user, enterprise_user = users["insurer_picc"], users["enterprise_demo"]
    if policies is None:
        policies = (
            db.session.query(Policy)
            .filter(
                Policy.status == PolicyStatus.ACTIVE,
                Policy.insurer_id == insurer_user.company_id,
                Policy.enterprise_id == enterprise_user.enterprise_id,
            )
            .order_by(Policy.id)
            .all()
        )
    insurer_of = {insurer_user.company_id: insurer_user}
    enterprise_of = {enterprise_user.enterprise_id: enterprise_user}
    policies = [p for p in policies if p.insurer_id in insurer_of and p.enterprise_id in enterprise_of]
    if not policies:
        return
    org, expert = users["org_demo"], users["expert_demo"]
    today = clock.today()
    items = {i.code: i.id for i in db.session.query(ServiceItem)}
    cats = {c.code: c.id for c in db.session.query(HazardCategory)}
    title = db.session.query(TitleLevel).filter_by(code="intermediate").one().id
    standard = db.session.query(MajorHazardStandard).filter_by(item="第五条(二)").first()
    svc_items = [items["S02"], items["S04"], items["S06"]]

    # Spread the states over the policies (an insured policy may carry several orders).
    slots = iter(policies * 13)

    def new_order(fee=800, deadline_days=7, service=None):
        policy = next(slots)
        insurer = insurer_of[policy.insurer_id]
        [order] = orders.dispatch(
            insurer,
            [policy.id],
            _order_data(policy, org.org_id, title, service or svc_items, today, fee, deadline_days),
        )
        return order, insurer, enterprise_of[policy.enterprise_id]

    def in_service(order):
        orders.accept(order.id, org)
        orders.assign(order.id, org, expert.expert_id)
        orders.expert_accept(order.id, expert)

    def visit(order, hazards):
        visits.sign_in(order.id, expert, site_photo(f"signin-{order.order_no}", (70, 110, 150), *HARBIN))
        visits.save_report(
            order.id,
            expert,
            dict(
                service_record="到达施工现场后与项目负责人、专职安全员召开首次会议；查阅安全生产责任制、专项施工方案、"
                "特种作业人员证书及安全技术交底记录；现场检查基坑、脚手架、临时用电、起重机械和消防设施。",
                conclusion="项目安全管理体系基本健全，现场存在的隐患已书面告知施工企业限期整改。",
                signin_address="项目部门口",
            ),
        )
        made = []
        for level, cat, desc, suggestion in hazards:
            data = dict(level=level, category_id=cats[cat], description=desc, suggestion=suggestion)
            if level == "major" and standard is not None:
                data["standard_id"] = standard.id
            made.append(visits.add_hazard(order.id, expert, data, [site_photo(f"hazard-{cat}", (160, 90, 60))]))
        return made

    def rectify_all(hazards, enterprise):
        for h in hazards:
            visits.rectify(
                h.id,
                enterprise,
                "已按整改建议完成整改，设置定型化防护并补充记录。",
                [site_photo(f"rectified-{h.seq}", (60, 140, 80))],
            )

    # 已完成: the whole chain with hazards, a returned rectification, both reviews and the archived PDF.
    order, insurer, enterprise = new_order(fee=1500)
    in_service(order)
    hazards = visit(order, HAZARDS)
    visits.submit_report(order.id, expert)
    rectify_all(hazards, enterprise)
    visits.submit_rectification(order.id, enterprise)
    for h in hazards[:-1]:
        visits.verify(h.id, expert, True, "现场复查合格")
    visits.verify(hazards[-1].id, expert, False, "支护补强未完成，第三方监测报告缺失")
    visits.rectify(
        hazards[-1].id,
        enterprise,
        "已完成支护补强，并委托第三方监测单位进场监测。",
        [site_photo("rectified-again", (60, 150, 90))],
    )
    visits.submit_rectification(order.id, enterprise)
    visits.verify(hazards[-1].id, expert, True, "复查合格，监测数据正常")
    reviews.review(order.id, org, True, "报告内容完整，隐患整改闭环，同意通过。")
    reviews.review(order.id, insurer, True, "同意，归档。")

    # 待保险机构审核 (no hazards; the org's review passed)
    order, insurer, enterprise = new_order()
    in_service(order)
    visit(order, [])
    visits.submit_report(order.id, expert)
    reviews.review(order.id, org, True, "现场未发现隐患，报告合格。")

    # 待审核 (the org's review)
    order, insurer, enterprise = new_order()
    in_service(order)
    visit(order, [])
    visits.submit_report(order.id, expert)

    # 待验收 (the enterprise rectified; the expert has to accept)
    order, insurer, enterprise = new_order()
    in_service(order)
    hazards = visit(order, HAZARDS[:2])
    visits.submit_report(order.id, expert)
    rectify_all(hazards, enterprise)
    visits.submit_rectification(order.id, enterprise)

    # 待整改 (the enterprise's to-do)
    order, insurer, enterprise = new_order()
    in_service(order)
    visit(order, HAZARDS[:3])
    visits.submit_report(order.id, expert)

    # 服务中 (signed in, record saved)
    order, insurer, enterprise = new_order()
    in_service(order)
    visit(order, HAZARDS[2:3])

    # 待专家接单
    order, insurer, enterprise = new_order()
    orders.accept(order.id, org)
    orders.assign(order.id, org, expert.expert_id)

    # 被退回 (the expert refused; the org re-assigns)
    order, insurer, enterprise = new_order()
    orders.accept(order.id, org)
    orders.assign(order.id, org, expert.expert_id)
    orders.expert_refuse(order.id, expert, "该时段已有其他项目检查任务，无法按期到场。")

    # 已接单
    order, insurer, enterprise = new_order()
    orders.accept(order.id, org)

    # 被拒回, then 再派单 → 已再派单 + a new 未接单 order
    order, insurer, enterprise = new_order()
    orders.refuse(order.id, org, "本机构在该区域暂无符合职称要求的专家。")
    policy = order.policy
    orders.redispatch(order.id, insurer, _order_data(policy, org.org_id, None, svc_items, today, 800, 10))

    # 被拒回 (awaiting the insurer's 再派单)
    order, insurer, enterprise = new_order(service=[items["S04"]])
    orders.refuse(order.id, org, "派单服务内容与本机构资质范围不符。")

    # 超时: deadline today, judged tomorrow
    new_order(deadline_days=0)
    orders.check_timeouts(today + timedelta(days=1))

    # 未接单
    new_order(deadline_days=14)
