"""投保信息, 保单信息, 理赔, 保单台帐 and the enterprise's pages through the HTTP stack: visibility per
party, the enterprise's 在线填报 with uploads, 资料下载, the 《用户协议》 PDF and bad input."""

import io
import re
import subprocess
import zipfile

import pytest
from factories import insurance as f
from factories.pdf import pdf_accessibility

from app.demo.insurance import APPLICATION_UPLOADS, demo_pdf
from app.extensions import db
from app.models import Application, Enterprise, Project, StoredFile
from app.models.enums import ApplicationStatus as A


def _in_ctx(app, fn, *args, **kwargs):
    with app.app_context():
        result = fn(*args, **kwargs)
        return result.id, result.project_id, result.project.name


@pytest.mark.parametrize(
    "username,status",
    [
        ("insurer_picc", 200),
        ("broker_kunlun", 200),
        ("insurer_pingan", 404),
        ("enterprise_demo", 200),
        ("enterprise_demo2", 404),
        ("dept_province", 404),
        ("org_demo", 403),
    ],
)
def test_detail_visibility(app, as_user, username, status):
    app_id, _pid, name = _in_ctx(app, f.make_application, "pending_review", broker="昆仑保险经纪")
    response = as_user(username).get(f"/applications/show/{app_id}")
    # departments hold no Application permission (403) or see all (province): either way no detail leak
    if username == "dept_province":
        assert response.status_code in (403, 404)
    else:
        assert response.status_code == status
    if status == 200:
        assert name in response.get_data(as_text=True)


def test_drafts_are_the_enterprises_own(app, as_user):
    app_id, _pid, name = _in_ctx(app, f.make_application, "draft", broker="昆仑保险经纪")
    for username in ("insurer_picc", "broker_kunlun"):
        client = as_user(username)
        assert client.get(f"/applications/show/{app_id}").status_code == 404
        rows = client.get("/applications/list/?project=" + name).get_data(as_text=True)
        assert re.findall(r'<tr data-id="(\d+)"', rows) == []
    assert name in as_user("enterprise_demo").get("/projects/list/").get_data(as_text=True)


def _headers(html):
    """The column headers of a list page (a sortable one wraps its label in a link)."""
    return re.findall(r"<th[^>]*>(?:<a[^>]*>)?([^<]+)", html)


def test_broker_sees_only_applications_naming_it(app, as_user):
    with_broker = _in_ctx(app, f.make_application, "pending_review", broker="昆仑保险经纪")
    without = _in_ctx(app, f.make_application, "pending_review")
    client = as_user("broker_kunlun")
    assert client.get(f"/applications/show/{with_broker[0]}").status_code == 200
    assert client.get(f"/applications/show/{without[0]}").status_code == 404
    html = client.get("/applications/list/").get_data(as_text=True)
    with app.app_context():
        ids = [int(i) for i in re.findall(r'<tr data-id="(\d+)"', html)]
        assert ids and all(db.session.get(Application, i).broker.short_name == "昆仑保险经纪" for i in ids)


def test_insurer_list_and_search(app, as_user):
    app_id, _pid, name = _in_ctx(app, f.make_application, "pending_review")
    client = as_user("insurer_picc")
    html = client.get("/applications/list/").get_data(as_text=True)
    for header in ("项目名称", "项目代码", "方案", "投资规模", "联系电话", "投保状态", "操作"):
        assert header in _headers(html)
    with app.app_context():
        ids = [int(i) for i in re.findall(r'<tr data-id="(\d+)"', html)]
        assert all(db.session.get(Application, i).insurer.short_name == "人保财险" for i in ids)
    found = client.get("/applications/list/?project=" + name[-8:] + "&status=pending_review").get_data(as_text=True)
    assert re.findall(r'<tr data-id="(\d+)"', found) == [str(app_id)]
    none = client.get("/applications/list/?project=" + name[-8:] + "&status=approved").get_data(as_text=True)
    assert re.findall(r'<tr data-id="(\d+)"', none) == []
    by_enterprise = client.get("/applications/list/?enterprise=鹤城&project=" + name[-8:]).get_data(as_text=True)
    assert re.findall(r'<tr data-id="(\d+)"', by_enterprise) == []


def test_statistics_follow_the_filter(app, as_user):
    with app.app_context():
        made = [
            f.make_application(s, investment=inv)
            for s, inv in (("pending_review", "100"), ("pending_review", "200.5"), ("approved", "300"))
        ]
        tag = made[0].project.name[:4]  # every test project name starts with 测试项目
    html = as_user("insurer_picc").get("/applications/list/?project=测试项目").get_data(as_text=True)
    stats = re.search(r'id="application-stats">(.*?)</table>', html, re.S).group(1)
    rows = {
        label: (int(n), v)
        for label, n, v in re.findall(
            r"<tr><t[dh]>([^<]+)</t[dh]><t[dh]>(\d+)</t[dh]><t[dh]>([\d,.]+)</t[dh]></tr>", stats
        )
    }
    with app.app_context():
        from sqlalchemy import func, select

        expected = dict(
            db.session.execute(
                select(Application.status, func.count())
                .join(Project, Application.project_id == Project.id)
                .where(
                    Project.name.contains(tag),
                    Application.insurer_id == f.company("人保财险").id,
                    Application.status != A.DRAFT,
                )
                .group_by(Application.status)
            ).all()
        )
    assert rows["待复审"][0] == expected[A.PENDING_REVIEW]
    assert rows["合计"][0] == sum(expected.values())


def test_enterprise_adds_a_project_and_applies_with_uploads(app, as_user):
    client = as_user("enterprise_demo")
    bad = client.post("/projects/add", data=dict(region_code="230100", project_code="", name="", investment="abc"))
    text = bad.get_data(as_text=True)
    assert bad.status_code == 200 and "请选择县/区级行政区划" in text and "请输入数字" in text
    name = "测试HTTP项目" + str(id(client))[-6:]
    response = client.post(
        "/projects/add",
        data=dict(
            region_code="230103",
            project_code="2403-230103-04-01-512799",
            name=name,
            investment="1234.5",
            builder_name="哈尔滨市某局",
            address="哈尔滨市南岗区",
            planned_start="2026-03-01",
            planned_end="2027-03-01",
        ),
    )
    assert response.status_code == 302
    with app.app_context():
        project = db.session.query(Project).filter_by(name=name).one()
        pid, insurer_id = project.id, f.company("人保财险").id
        plan_id = f.plan("A").id
    form = client.get(f"/applications/fill/{pid}").get_data(as_text=True)
    for label in (
        "营业执照",
        "项目合同或中标通知",
        "法定代表人身份证国徽面",
        "法定代表人身份证人像面",
        "安全生产许可证",
        "施工企业资质",
        "用户协议",
        "我已阅读并同意",
        "方案详情",
        "提交保单",
    ):
        assert label in form
    data = dict(
        insurer_id=str(insurer_id),
        broker_id="",
        plan_id=str(plan_id),
        contact_phone="0451-82554666",
        agreed="1",
        action="submit",
    )
    for slot, filename in APPLICATION_UPLOADS.items():
        data[slot] = (io.BytesIO(demo_pdf(slot)), filename)
    done = client.post(f"/applications/fill/{pid}", data=data, content_type="multipart/form-data")
    assert done.status_code == 302, done.get_data(as_text=True)[-2000:]
    with app.app_context():
        made = db.session.query(Application).filter_by(project_id=pid).one()
        assert made.status == A.PENDING_REVIEW
        assert db.session.get(Project, pid).insurance_status == A.PENDING_REVIEW
        assert made.contract_file.original_name == "中标通知书.pdf" and made.contract_file.owner_id == made.id


def test_bad_upload_gets_a_message_and_stores_nothing(app, as_user):
    with app.app_context():
        project = f.make_project()
        pid = project.id
        data = f.application_data()
        rows_before = db.session.query(StoredFile).count()
    client = as_user("enterprise_demo")
    data.update(
        action="save",
        business_license=(io.BytesIO(demo_pdf("ok")), "营业执照.pdf"),
        contract=(io.BytesIO(b"MZ\x90\x00 not a document"), "合同.pdf"),
    )
    response = client.post(f"/applications/fill/{pid}", data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    assert "文件类型不允许" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(StoredFile).count() == rows_before
        assert db.session.query(Application).filter_by(project_id=pid).count() == 0


def test_review_through_the_page(app, as_user):
    app_id, _pid, _name = _in_ctx(app, f.make_application, "pending_review")
    client = as_user("insurer_picc")
    missing = client.post(f"/applications/{app_id}/review", data=dict(verdict="reject", opinion=""))
    assert "复审不通过时必须填写审核意见" in missing.get_data(as_text=True)
    done = client.post(f"/applications/{app_id}/review", data=dict(verdict="reject", opinion="合同金额不符"))
    assert done.status_code == 302
    again = client.post(f"/applications/{app_id}/review", data=dict(verdict="approve"), follow_redirects=True)
    assert "无需审核" in again.get_data(as_text=True) or "已被他人处理" in again.get_data(as_text=True)
    page = as_user("enterprise_demo").get(f"/applications/show/{app_id}").get_data(as_text=True)
    assert "合同金额不符" in page


def test_issue_through_the_page_and_ledger(app, as_user):
    app_id, _pid, name = _in_ctx(app, f.make_application, "approved")
    client = as_user("insurer_picc")
    form = client.get(f"/applications/{app_id}/issue").get_data(as_text=True)
    for label in (
        "建设单位名称",
        "项目名称",
        "项目代码",
        "方案",
        "保费(元)",
        "生效日期",
        "终止日期",
        "保单号",
        "保单文件",
        "协议文件",
        "我已阅读并同意",
    ):
        assert label in form
    proposed = re.search(r'id="f-premium" name="premium" value="([\d.]+)"', form).group(1)
    with app.app_context():
        plan_id = db.session.get(Application, app_id).plan_id
    data = dict(
        builder_name="某建设单位",
        project_name=name,
        project_code="X-1",
        plan_id=str(plan_id),
        premium=proposed,
        start_date="2026-01-01",
        end_date="2025-12-31",
        policy_no="PX" + name[-8:],
        agreed="1",
        policy_file=(io.BytesIO(demo_pdf("p")), "保单.pdf"),
        agreement_file=(io.BytesIO(demo_pdf("a")), "协议.pdf"),
    )
    bad = client.post(f"/applications/{app_id}/issue", data=data, content_type="multipart/form-data")
    assert "终止日期须晚于生效日期" in bad.get_data(as_text=True)
    data.update(
        end_date="2027-06-30",
        policy_file=(io.BytesIO(demo_pdf("p")), "保单.pdf"),
        agreement_file=(io.BytesIO(demo_pdf("a")), "协议.pdf"),
    )
    good = client.post(f"/applications/{app_id}/issue", data=data, content_type="multipart/form-data")
    assert good.status_code == 302
    ledger = client.get("/ledger/list/?project=" + name).get_data(as_text=True)
    assert re.search(r"CB-\d{8}-\d{6}-[0-9A-F]{7}", ledger) and "PX" + name[-8:] in ledger
    for header in ("项目号", "创建时间", "单位名称", "项目名称", "联系方式", "参保方案", "保单号", "保费"):
        assert header in _headers(ledger)
    assert as_user("insurer_pingan").get("/ledger/list/?project=" + name).get_data(as_text=True).count("CB-") == 0


def test_claims_page(app, as_user):
    with app.app_context():
        made = f.make_application("insured")
        policy_id = made.policy.id
    client = as_user("insurer_picc")
    page = client.get(f"/policies/{policy_id}/claims").get_data(as_text=True)
    assert "新增理赔" in page and "累计金额(元)" in page
    bad = client.post(
        f"/policies/{policy_id}/claims/add", data=dict(injured_count="x", death_count="0", remark="y" * 501)
    )
    assert "请输入整数" in bad.get_data(as_text=True)
    client.post(
        f"/policies/{policy_id}/claims/add",
        data=dict(
            injured_count="2",
            death_count="0",
            estimated_loss="1000",
            settled_date="2026-05-01",
            settled_amount="800.25",
            submitted_date="2026-04-01",
            remark="测试理赔",
        ),
    )
    page = client.get(f"/policies/{policy_id}/claims").get_data(as_text=True)
    assert "测试理赔" in page and re.search(r'id="claims-total">.*?800\.25', page, re.S)
    assert as_user("broker_kunlun").post(
        f"/policies/{policy_id}/claims/add", data=dict(injured_count="1", death_count="0")
    ).status_code in (403, 404)
    policy_list = client.get("/policies/list/").get_data(as_text=True)
    for header in ("项目名称", "项目代码", "方案", "联系电话", "投保状态", "操作"):
        assert header in _headers(policy_list)


def test_bundle_zip_has_readable_chinese_names(app, as_user):
    with app.app_context():
        made = f.make_application("insured", broker="昆仑保险经纪")
        app_id, policy_id, name = made.id, made.policy.id, made.project.name
    for url in (f"/applications/{app_id}/bundle", f"/policies/{policy_id}/bundle"):
        response = as_user("insurer_picc").get(url)
        assert response.status_code == 200 and response.mimetype == "application/zip"
        with zipfile.ZipFile(io.BytesIO(response.data)) as zf:
            names = sorted(zf.namelist())
            assert names == sorted(
                f"{name}/{label}.pdf"
                for label in (
                    "营业执照",
                    "项目合同或中标通知",
                    "法定代表人身份证国徽面",
                    "法定代表人身份证人像面",
                    "安全生产许可证",
                    "施工企业资质",
                    "用户协议",
                    "保单文件",
                    "协议文件",
                )
            )
            assert zf.read(f"{name}/营业执照.pdf").startswith(b"%PDF-")
    assert as_user("insurer_pingan").get(f"/applications/{app_id}/bundle").status_code == 404


def test_agreement_pdf_carries_the_enterprise_name(app, as_user, tmp_path):
    with app.app_context():
        project = f.make_project()
        pid, enterprise_name, project_name = project.id, project.enterprise.name, project.name
        insurer_id = f.company("人保财险").id
    response = as_user("enterprise_demo").get(f"/applications/agreement/{pid}?insurer_id={insurer_id}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    path = tmp_path / "agreement.pdf"
    path.write_bytes(response.data)
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout.replace(" ", "")
    assert enterprise_name in text and project_name in text and "中国人民财产保险" in text
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
    assert "WenQuanYi" in fonts
    tags = pdf_accessibility(response.data)  # PDF/UA-1: tagged, titled, in the page's language
    assert tags["tagged"] and tags["title"] == "用户协议" and tags["lang"] == "zh-CN" and tags["pdfua"] == "1"
    assert tags["display_title"]
    english = as_user("enterprise_demo")
    english.get("/lang/en")
    tags = pdf_accessibility(english.get(f"/applications/agreement/{pid}?insurer_id={insurer_id}").data)
    assert tags["lang"] == "en" and tags["tagged"]
    assert as_user("enterprise_demo2").get(f"/applications/agreement/{pid}").status_code == 404


def test_enterprise_info_edit(app, as_user):
    client = as_user("enterprise_demo2")
    page = client.get("/my/enterprise/").get_data(as_text=True)
    assert "进入编辑" in page and "营业执照" in page and "法人身份证二维码" in page
    with app.app_context():
        ent = db.session.query(Enterprise).filter_by(name="齐齐哈尔市鹤城建筑工程有限公司").one()
        form = {
            k: getattr(ent, k) or ""
            for k in (
                "name",
                "region_code",
                "credit_code",
                "registered_address",
                "business_address",
                "contact_name",
                "contact_mobile",
                "contact_email",
                "legal_name",
                "legal_mobile",
                "business_scope",
            )
        }
    bad = client.post("/my/enterprise/edit", data=dict(form, contact_mobile="12345", contact_email="no-at"))
    text = bad.get_data(as_text=True)
    assert "手机号码格式不正确" in text and "电子邮箱格式不正确" in text
    good = client.post(
        "/my/enterprise/edit",
        data=dict(form, contact_name="钱七", business_license=(io.BytesIO(demo_pdf("lic")), "营业执照.pdf")),
        content_type="multipart/form-data",
    )
    assert good.status_code == 302
    with app.app_context():
        ent = db.session.query(Enterprise).filter_by(name="齐齐哈尔市鹤城建筑工程有限公司").one()
        assert ent.contact_name == "钱七" and ent.business_license_file.owner_type == "enterprise"
        file_id = ent.business_license_file.id
    assert client.get(f"/files/{file_id}").status_code == 200
    assert as_user("enterprise_demo").get(f"/files/{file_id}").status_code == 404
