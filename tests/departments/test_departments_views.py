"""项目信息 and 企业信息 for departments: columns, filters, 共 N 项, paging, export, e-policy, scope."""

import csv
import io
import re

import pytest
from factories.departments import world  # noqa: F401  (the module-scoped fixture)
from openpyxl import load_workbook

from app.demo.insurance import demo_pdf
from app.extensions import db
from app.models import Enterprise, Policy
from app.storage import store_bytes

PDF = demo_pdf("licence")  # well-formed: uploads are read by a real parser


def _png():
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def files(app, world):
    """The e-policy of project A and the enterprise's 营业执照, owned by their rows."""
    with app.app_context():
        s = db.session
        policy = s.get(Policy, world["policies"]["A"])
        pdf = store_bytes(s, PDF, "电子保单.pdf", "policy_file", owner=policy)
        s.flush()
        policy.policy_file_id = pdf.id
        enterprise = s.get(Enterprise, world["enterprise"])
        licence = store_bytes(s, _png(), "营业执照.png", "business_license", owner=enterprise)
        s.flush()
        enterprise.business_license_file_id = licence.id
        s.commit()
        ids = {"policy_pdf": pdf.id, "licence": licence.id}
    yield ids
    with app.app_context():
        enterprise = db.session.get(Enterprise, world["enterprise"])
        enterprise.business_license_file_id = None
        db.session.commit()


def _list(client, **args):
    response = client.get("/dept/projects/list/", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_project_list_columns_and_total(as_user, world):
    html = _list(as_user("dept_mohe_stats"))
    for header in (
        "项目地址",
        "投保单位",
        "保险机构",
        "承保时间",
        "建设规模及内容",
        "投资规模(万元)",
        "保费(元)",
        "投保状态",
        "联系方式",
        "重置",
        "查询",
        "导出",
    ):
        assert header in html
    assert "共 6 项" in html
    for key in "ABCDEF":
        assert f"统计测试项目{key}" in html
    assert "统计测试项目H" not in html
    assert "2031-03-10" in html and "10,000.00" in html and "13900000009" in html and "人保财险" in html


@pytest.mark.parametrize(
    "args,expected",
    [
        ({"name": "项目A"}, "A"),
        ({"status": "insured"}, "ABE"),
        ({"status": "expired"}, "CD"),
        ({"enterprise": "漠河统计"}, "ABCDEF"),
        ({"enterprise": "哈尔滨统计"}, ""),
        ({"region": "232701"}, "ABCDEF"),
        ({"region": "232700"}, "ABCDEF"),
        # a city with 投保状态: the city is matched on its four digits (ix_project_city_status)
        ({"region": "232700", "status": "insured"}, "ABE"),
        ({"region": "232700", "status": "expired"}, "CD"),
        ({"region": "230100", "status": "insured"}, ""),
        ({"region": "230000"}, "ABCDEF"),
        ({"region": "230100"}, ""),
        ({"region": "abc"}, ""),
        ({"name": "项目", "status": "surrendered"}, "F"),
    ],
)
def test_project_filters(as_user, world, args, expected):
    html = _list(as_user("dept_mohe_stats"), **args)
    assert f"共 {len(expected)} 项" in html
    for key in "ABCDEFH":
        assert (f"统计测试项目{key}<" in html) == (key in expected), key


def test_project_paging(as_user, world):
    client = as_user("dept_mohe_stats")
    html = _list(client, name="统计测试项目", psize=10, page=5)
    assert "共 6 项" in html and len(re.findall(r"统计测试项目[A-H]<", html)) == 6
    html = _list(client, name="统计测试项目", psize=20)
    assert "20 条/页" in html


def test_harbin_sees_only_its_projects(as_user, world):
    client = as_user("dept_harbin")
    html = _list(client, name="统计测试项目")
    assert "共 1 项" in html and "统计测试项目H" in html
    assert client.get(f"/dept/projects/show/{world['projects']['A']}").status_code == 404
    assert as_user("dept_mohe_stats").get(f"/dept/projects/show/{world['projects']['A']}").status_code == 200


def test_project_export_is_the_filtered_list(as_user, world):
    client = as_user("dept_mohe_stats")
    response = client.get("/dept/projects/export/", query_string={"status": "insured"})
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(response.data)).active
    rows = list(ws.iter_rows(values_only=True))[2:]  # under the title block
    assert list(rows[0]) == [
        "项目名称",
        "项目地址",
        "投保单位",
        "保险机构",
        "承保时间",
        "建设规模及内容",
        "投资规模(万元)",
        "保费(元)",
        "投保状态",
        "联系方式",
    ]
    assert sorted(r[0] for r in rows[1:]) == ["统计测试项目A", "统计测试项目B", "统计测试项目E"]
    assert {r[8] for r in rows[1:]} == {"已投保"}
    response = as_user("dept_harbin").get("/dept/projects/export/", query_string={"name": "统计测试", "fmt": "csv"})
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [line[0] for line in lines[1:]] == ["统计测试项目H"]


def test_project_export_needs_the_permission(as_user):
    assert as_user("enterprise_demo").get("/dept/projects/export/").status_code in (302, 403)


def test_e_policy_opens_online_in_scope_only(as_user, world, files):
    client = as_user("dept_mohe_stats")
    html = _list(client, name="项目A")
    link = f"/files/{files['policy_pdf']}/view"
    assert link in html
    response = client.get(link)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data == PDF  # the stored e-policy itself, byte for byte
    assert "attachment" not in response.headers.get("Content-Disposition", "")
    assert as_user("dept_harbin").get(link).status_code == 404


def test_enterprise_list_and_detail(as_user, world, files):
    client = as_user("dept_mohe_stats")
    html = client.get("/enterprises/list/").get_data(as_text=True)
    assert "漠河统计测试建筑有限公司" in html and "哈尔滨统计测试建筑有限公司" not in html
    detail = client.get(f"/enterprises/show/{world['enterprise']}")
    assert detail.status_code == 200
    text = detail.get_data(as_text=True)
    for label in ("统一社会信用代码", "营业执照", "资质文件", "法人身份证人像面", "安全生产许可证"):
        assert label in text
    assert f"/files/{files['licence']}/view" in text
    assert client.get(f"/files/{files['licence']}/view").status_code == 200
    harbin = as_user("dept_harbin")
    assert harbin.get(f"/enterprises/show/{world['enterprise']}").status_code == 404
    assert harbin.get(f"/files/{files['licence']}/view").status_code == 404
    assert harbin.get(f"/enterprises/show/{world['enterprise_harbin']}").status_code == 200
