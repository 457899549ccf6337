"""The demo dataset itself (parties, projects, applications, policies, claims, orders, hazards)."""

from datetime import date

from stdnum.cn import ric, uscc

from app.models import Department, Enterprise, Expert, PreventionOrg, TitleLevel


def make_credit_code(region6: str, serial: int) -> str:
    """A valid 统一社会信用代码 for demo data: 91 + region + organisation code (with its check) + check."""
    base = f"{serial:08d}"
    weights = [3, 7, 9, 10, 5, 8, 4, 2]
    s = sum(int(c) * w for c, w in zip(base, weights))
    c9 = 11 - s % 11
    org = base + ("X" if c9 == 10 else "0" if c9 == 11 else str(c9))
    body = "91" + region6 + org
    return body + uscc.calc_check_digit(body)


def make_id_number(region6: str, birth: date, serial: int) -> str:
    body = f"{region6}{birth:%Y%m%d}{serial:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects a placeholder check digit


def build_demo_dataset(session):
    titles = {t.code: t for t in session.query(TitleLevel)}
    dept_province = Department(name="黑龙江省住房和城乡建设厅", region_code="230000")
    dept_harbin = Department(name="哈尔滨市住房和城乡建设局", region_code="230100")
    ent1 = Enterprise(
        name="黑龙江龙建路桥建设有限公司",
        region_code="230103",
        credit_code=make_credit_code("230103", 10000001),
        registered_address="哈尔滨市南岗区长江路368号",
        business_address="哈尔滨市南岗区长江路368号",
        contact_name="李明",
        contact_mobile="13936313636",
        contact_email="liming@example.com",
        legal_name="张伟",
        legal_mobile="13904510001",
        business_scope="房屋建筑工程施工总承包；市政公用工程施工总承包",
    )
    ent2 = Enterprise(
        name="齐齐哈尔市鹤城建筑工程有限公司",
        region_code="230202",
        credit_code=make_credit_code("230202", 10000002),
        registered_address="齐齐哈尔市龙沙区卜奎大街66号",
        business_address="齐齐哈尔市龙沙区卜奎大街66号",
        contact_name="赵丽",
        contact_mobile="13804520002",
        contact_email="zhaoli@example.com",
        legal_name="孙强",
        legal_mobile="13804520003",
        business_scope="房屋建筑工程施工",
    )
    org = PreventionOrg(
        name="黑龙江安建安全技术服务有限公司",
        credit_code=make_credit_code("230102", 20000001),
        region_code="230102",
        address="哈尔滨市道里区友谊路100号",
        contact_name="周涛",
        contact_phone="13945100001",
    )
    session.add_all([dept_province, dept_harbin, ent1, ent2, org])
    session.flush()
    expert = Expert(
        name="王建国",
        mobile="13945100002",
        id_number=make_id_number("230103", date(1975, 6, 18), 123),
        title_level_id=titles["senior"].id,
        qualification="注册安全工程师",
        residence="哈尔滨市南岗区",
        service_area="哈尔滨市",
        org_id=org.id,
    )
    session.add(expert)
    session.flush()
    return {
        "dept_province": dept_province,
        "dept_harbin": dept_harbin,
        "enterprise_demo": ent1,
        "enterprise_demo2": ent2,
        "org_demo": org,
        "expert_demo": expert,
    }
