"""Demo stage: projects and applications in every insurance state, built through the services
as the demo users (enterprise_demo, enterprise_demo2, insurer_picc, insurer_pingan, broker_kunlun).

enterprise_demo insures with 人保财险 (some through 昆仑保险经纪), enterprise_demo2 with 平安财险, so
that each insurer's and the broker's view of the demo is distinct."""

import io
from datetime import date, timedelta
from decimal import Decimal

from werkzeug.datastructures import FileStorage

from app import clock
from app.extensions import db
from app.models import AppUser, InsuranceCompany, Plan
from app.models.insurance import APPLICATION_FILE_SLOTS
from app.services import applications, claims, enterprises, policies


def demo_pdf(title: str) -> bytes:
    """A small valid one-page PDF (ASCII text) standing in for a scanned document."""
    text = title.replace("\\", "").replace("(", "").replace(")", "")
    stream = f"BT /F1 18 Tf 72 760 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def upload(name, title):
    return FileStorage(stream=io.BytesIO(demo_pdf(title)), filename=name, content_type="application/pdf")


APPLICATION_UPLOADS = {
    "business_license": "营业执照.pdf",
    "contract": "中标通知书.pdf",
    "legal_id_back": "法人身份证国徽面.pdf",
    "legal_id_front": "法人身份证人像面.pdf",
    "safety_permit": "安全生产许可证.pdf",
    "construction_qualification": "施工企业资质.pdf",
    "agreement": "用户协议盖章扫描件.pdf",
}
assert set(APPLICATION_UPLOADS) == set(APPLICATION_FILE_SLOTS)

# (enterprise, region, code, name, builder, investment 万元, insurer, broker, plan, target state)
PROJECTS = [
    (
        "enterprise_demo",
        "230103",
        "2403-230103-04-01-512736",
        "哈尔滨市南岗区第十七中学教学楼改扩建工程",
        "哈尔滨市南岗区教育局",
        "2380.75",
        "人保财险",
        None,
        "C",
        "draft",
    ),
    (
        "enterprise_demo",
        "230109",
        "2405-230109-04-01-226105",
        "松北区利民大道市政道路改造工程（一标段）",
        "哈尔滨市松北区住房和城乡建设局",
        "5620.00",
        "人保财险",
        "昆仑保险经纪",
        "A",
        "pending_review",
    ),
    (
        "enterprise_demo",
        "230110",
        "GF-2017-0201",
        "香坊区幸福家园三期住宅楼建设项目",
        "哈尔滨幸福置业有限公司",
        "3318.08",
        "人保财险",
        None,
        "C",
        "pending_review",
    ),
    (
        "enterprise_demo",
        "230102",
        "ZCZB-B2312CG006",
        "道里区群力新区社区卫生服务中心装修工程",
        "哈尔滨市道里区卫生健康局",
        "254.31",
        "人保财险",
        None,
        "B",
        "rejected",
    ),
    (
        "enterprise_demo",
        "230108",
        "2408-230108-04-01-996708",
        "平房区工业园区标准化厂房建设项目",
        "哈尔滨平房经济开发有限公司",
        "988.61",
        "人保财险",
        "昆仑保险经纪",
        "C",
        "approved",
    ),
    (
        "enterprise_demo",
        "230111",
        "2402-230111-04-01-314027",
        "呼兰区第一人民医院门诊楼新建工程",
        "哈尔滨市呼兰区卫生健康局",
        "3899.06",
        "人保财险",
        None,
        "A",
        "insured",
    ),
    (
        "enterprise_demo2",
        "230203",
        "2407-230203-04-01-358298",
        "建华区老旧小区改造工程（文化大街片区）",
        "齐齐哈尔市建华区住房和城乡建设局",
        "1799.06",
        "平安财险",
        None,
        "C",
        "insured",
    ),
    (
        "enterprise_demo",
        "230112",
        "2403-230112-04-01-081162",
        "阿城区职业技术学校实训中心建设项目",
        "哈尔滨市阿城区教育局",
        "942.69",
        "人保财险",
        "昆仑保险经纪",
        "C",
        "expired",
    ),
    (
        "enterprise_demo2",
        "230621",
        "SZ0302G241127001",
        "肇州县城区供热管网改造工程",
        "肇州县住房和城乡建设局",
        "419.00",
        "平安财险",
        None,
        "A",
        "surrendered",
    ),
    (
        "enterprise_demo",
        "230113",
        "2409-230113-04-01-772281",
        "双城区农产品冷链物流中心建设项目",
        "哈尔滨双城现代农业发展有限公司",
        "1197.91",
        None,
        None,
        None,
        "uninsured",
    ),
    (
        "enterprise_demo2",
        "230202",
        "2406-230202-04-01-903417",
        "龙沙区明月岛景区游客服务中心工程",
        "齐齐哈尔市文化广电和旅游局",
        "901.77",
        "平安财险",
        None,
        "B",
        "pending_review",
    ),
    (
        "enterprise_demo2",
        "230221",
        "FJSG0000G240913003001001",
        "龙江县第二中学综合楼建设项目",
        "龙江县教育局",
        "2903.02",
        "平安财险",
        None,
        "B",
        "insured",
    ),
    (
        "enterprise_demo2",
        "230602",
        "2404-230602-04-01-615530",
        "大庆市萨尔图区会战大街雨污分流改造工程",
        "大庆市萨尔图区住房和城乡建设局",
        "658.56",
        "平安财险",
        None,
        "C",
        "approved",
    ),
    (
        "enterprise_demo2",
        "230604",
        "SZSG0210G241206001001001",
        "让胡路区西宾路小学校舍加固工程",
        "大庆市让胡路区教育局",
        "126.83",
        None,
        None,
        None,
        "uninsured",
    ),
]

INSURER_USERS = {"人保财险": "insurer_picc", "平安财险": "insurer_pingan"}


def build(parties):
    users = {
        u.username: u
        for u in db.session.query(AppUser).filter(
            AppUser.username.in_(
                ["enterprise_demo", "enterprise_demo2", "insurer_picc", "insurer_pingan", "broker_kunlun"]
            )
        )
    }
    companies = {c.short_name: c for c in db.session.query(InsuranceCompany)}
    plans = {p.code: p for p in db.session.query(Plan)}
    today = clock.today()
    sequence = 0
    for ent_user, region, code, name, builder, investment, insurer, broker, plan, state in PROJECTS:
        enterprise_user = users[ent_user]
        start = today - timedelta(days=60)
        project, _warnings = enterprises.save_project(
            enterprise_user,
            dict(
                region_code=region,
                project_code=code,
                name=name,
                builder_name=builder,
                investment=investment,
                address=f"{name[:6]}施工现场",
                scale_content="新建、改建及配套工程",
                planned_start=start.isoformat(),
                planned_end=(start + timedelta(days=540)).isoformat(),
            ),
        )
        if state == "uninsured":
            continue
        data = dict(
            insurer_id=companies[insurer].id,
            broker_id=companies[broker].id if broker else "",
            plan_id=plans[plan].id,
            contact_phone=project.enterprise.contact_mobile,
            agreed="1",
        )
        files = {slot: upload(filename, f"Demo {slot}") for slot, filename in APPLICATION_UPLOADS.items()}
        app = applications.save_application(enterprise_user, project.id, data, files)
        if state == "draft":
            continue
        applications.submit(app.id, enterprise_user)
        if state == "pending_review":
            continue
        reviewer = users["broker_kunlun"] if broker else users[INSURER_USERS[insurer]]
        if state == "rejected":
            applications.reject(
                app.id, reviewer, "项目合同扫描件不清晰，且投资规模与中标通知书不一致，请核对后重新上传。"
            )
            continue
        applications.approve(app.id, reviewer, "资料齐全，同意承保。")
        if state == "approved":
            continue
        insurer_user = users[INSURER_USERS[insurer]]
        sequence += 1
        if state == "expired":
            policy_start = date(today.year - 1, 3, 1)
            policy_end = min(date(today.year, 2, 28), today - timedelta(days=1))
        else:
            policy_start, policy_end = start, start + timedelta(days=540)
        proposal = policies.propose_premium(app)
        policy = policies.issue_policy(
            app.id,
            insurer_user,
            dict(
                builder_name=builder,
                project_name=name,
                project_code=code,
                plan_id=plans[plan].id,
                premium=str(proposal["proposed"]),
                start_date=policy_start.isoformat(),
                end_date=policy_end.isoformat(),
                policy_no=f"PHLJ{today.year}{2301 + sequence:04d}{sequence:06d}",
                agreed="1",
            ),
            {
                "policy_file": upload("电子保单.pdf", f"Policy {sequence}"),
                "agreement_file": upload("协议文件.pdf", f"Agreement {sequence}"),
            },
        )
        if state == "expired":
            claims.add_claim(
                policy.id,
                insurer_user,
                dict(
                    injured_count=2,
                    death_count=0,
                    estimated_loss="86000",
                    settled_date=date(today.year - 1, 11, 20),
                    settled_amount="72500.00",
                    submitted_date=date(today.year - 1, 9, 8),
                    remark="脚手架作业人员高处坠落，2人受伤，已赔付医疗费用及误工费。",
                ),
            )
            policies.expire_policies(today)
        elif state == "surrendered":
            policies.surrender(policy.id, insurer_user, "施工企业依法终止该项目施工合同，项目停建。")
        elif state == "insured" and insurer == "人保财险" and not broker:
            claims.add_claim(
                policy.id,
                insurer_user,
                dict(
                    injured_count=1,
                    death_count=0,
                    estimated_loss="30000",
                    submitted_date=today - timedelta(days=20),
                    remark="钢筋加工区机械伤害，1人手部受伤，正在定损。",
                ),
            )
            claims.add_claim(
                policy.id,
                insurer_user,
                dict(
                    injured_count=1,
                    death_count=0,
                    estimated_loss="12000",
                    settled_date=today - timedelta(days=3),
                    settled_amount=str(Decimal("9800.00")),
                    submitted_date=today - timedelta(days=15),
                    remark="物体打击，1人轻伤，已结案。",
                ),
            )
        elif state == "insured" and insurer == "平安财险":
            claims.add_claim(
                policy.id,
                insurer_user,
                dict(
                    injured_count=0,
                    death_count=0,
                    estimated_loss="5000",
                    submitted_date=today - timedelta(days=8),
                    remark="临时用电设备损坏，无人员伤亡。",
                ),
            )
