"""Status sets: value stored in the database, translated label, colour for badges (NetBox choices)."""

from flask_babel import lazy_gettext as _


class ChoiceSet:
    CHOICES: list = []

    @classmethod
    def values(cls):
        return [c[0] for c in cls.CHOICES]

    @classmethod
    def label(cls, value):
        for v, label, _colour in cls.CHOICES:
            if v == value:
                return label
        return value or ""

    @classmethod
    def colour(cls, value):
        for v, _label, colour in cls.CHOICES:
            if v == value:
                return colour
        return "default"

    @classmethod
    def choices(cls):
        return [(v, label) for v, label, _c in cls.CHOICES]


class PartyKind(ChoiceSet):
    ENTERPRISE = "enterprise"
    INSURER = "insurer"
    BROKER = "broker"
    ORG = "org"
    EXPERT = "expert"
    DEPARTMENT = "department"
    CHOICES = [
        (ENTERPRISE, _("建筑施工企业"), "primary"),
        (INSURER, _("保险公司"), "info"),
        (BROKER, _("经纪公司"), "info"),
        (ORG, _("事故预防机构"), "warning"),
        (EXPERT, _("事故预防专家"), "warning"),
        (DEPARTMENT, _("职能部门"), "success"),
    ]


class AccountState(ChoiceSet):
    ACTIVE = "active"
    LOCKED = "locked"
    INACTIVE = "inactive"
    CHOICES = [(ACTIVE, _("启用"), "success"), (LOCKED, _("锁定"), "danger"), (INACTIVE, _("停用"), "default")]


class CompanyKind(ChoiceSet):
    INSURER = "insurer"
    BROKER = "broker"
    CHOICES = [(INSURER, _("保险公司"), "info"), (BROKER, _("经纪公司"), "info")]


class RegionLevel(ChoiceSet):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    CHOICES = [(PROVINCE, _("省"), "default"), (CITY, _("市"), "default"), (COUNTY, _("县/区"), "default")]


class ApplicationStatus(ChoiceSet):
    DRAFT = "draft"
    PENDING_REVIEW = "pending_review"
    REJECTED = "rejected"
    APPROVED = "approved"
    INSURED = "insured"
    EXPIRED = "expired"
    SURRENDERED = "surrendered"
    CHOICES = [
        (DRAFT, _("草稿"), "default"),
        (PENDING_REVIEW, _("待复审"), "warning"),
        (REJECTED, _("复审不通过"), "danger"),
        (APPROVED, _("可出单"), "info"),
        (INSURED, _("已投保"), "success"),
        (EXPIRED, _("已到期"), "default"),
        (SURRENDERED, _("已退保"), "default"),
    ]


class ProjectInsuranceStatus(ChoiceSet):
    """投保状态 of a project: 未投保, or the status of its latest application/policy."""

    UNINSURED = "uninsured"
    CHOICES = [(UNINSURED, _("未投保"), "default")] + ApplicationStatus.CHOICES


class PolicyStatus(ChoiceSet):
    ACTIVE = "insured"
    EXPIRED = "expired"
    SURRENDERED = "surrendered"
    CHOICES = [
        (ACTIVE, _("已投保"), "success"),
        (EXPIRED, _("已到期"), "default"),
        (SURRENDERED, _("已退保"), "default"),
    ]


class OrderStatus(ChoiceSet):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    REDISPATCHED = "redispatched"
    ASSIGNED = "assigned"
    EXPERT_REFUSED = "expert_refused"
    IN_SERVICE = "in_service"
    RECTIFYING = "rectifying"
    VERIFYING = "verifying"
    ORG_REVIEW = "org_review"
    INSURER_REVIEW = "insurer_review"
    COMPLETED = "completed"
    CHOICES = [
        (PENDING, _("未接单"), "warning"),
        (ACCEPTED, _("已接单"), "info"),
        (REFUSED, _("被拒回"), "danger"),
        (TIMEOUT, _("超时"), "danger"),
        (REDISPATCHED, _("已再派单"), "default"),
        (ASSIGNED, _("待专家接单"), "warning"),
        (EXPERT_REFUSED, _("被退回"), "danger"),
        (IN_SERVICE, _("服务中"), "info"),
        (RECTIFYING, _("待整改"), "warning"),
        (VERIFYING, _("待验收"), "warning"),
        (ORG_REVIEW, _("待审核"), "warning"),
        (INSURER_REVIEW, _("待保险机构审核"), "warning"),
        (COMPLETED, _("已完成"), "success"),
    ]


class HazardLevel(ChoiceSet):
    GENERAL = "general"
    MAJOR = "major"
    CHOICES = [(GENERAL, _("一般安全隐患"), "warning"), (MAJOR, _("重大事故隐患"), "danger")]


class HazardStatus(ChoiceSet):
    OPEN = "open"
    SUBMITTED = "submitted"
    PASSED = "passed"
    RETURNED = "returned"
    CHOICES = [
        (OPEN, _("待整改"), "warning"),
        (SUBMITTED, _("待验收"), "info"),
        (PASSED, _("验收合格"), "success"),
        (RETURNED, _("验收不合格"), "danger"),
    ]


class ReviewStage(ChoiceSet):
    ORG = "org"
    INSURER = "insurer"
    CHOICES = [(ORG, _("事故预防机构审核"), "default"), (INSURER, _("保险机构审核"), "default")]


class Verdict(ChoiceSet):
    PASS = "pass"
    FAIL = "fail"
    CHOICES = [(PASS, _("通过"), "success"), (FAIL, _("不通过"), "danger")]


class FileKind(ChoiceSet):
    """What an upload is for; each kind has its own size cap (app/storage.py)."""

    CHOICES = [
        ("business_license", _("营业执照"), ""),
        ("qualification", _("资质文件"), ""),
        ("legal_id_qr", _("法人身份证二维码"), ""),
        ("legal_id_front", _("法人身份证人像面"), ""),
        ("legal_id_back", _("法定代表人身份证国徽面"), ""),
        ("safety_permit", _("安全生产许可证"), ""),
        ("contract", _("项目合同或中标通知"), ""),
        ("construction_qualification", _("施工企业资质"), ""),
        ("agreement", _("用户协议"), ""),
        ("policy_file", _("保单文件"), ""),
        ("agreement_file", _("协议文件"), ""),
        ("expert_id", _("身份证扫描件"), ""),
        ("expert_cert", _("执业资质证书"), ""),
        ("signin_photo", _("签到照片"), ""),
        ("hazard_photo", _("隐患照片"), ""),
        ("rectification_photo", _("整改照片"), ""),
        ("report_pdf", _("事故预防服务报告"), ""),
        ("report_scan", _("签字报告扫描件"), ""),
        ("registry_import", _("住建厅项目表"), ""),
    ]
