"""住建厅项目表 import: header check, per-row validation, duplicates, preview, all-or-nothing upsert,
idempotence, and who may import."""

import io
import re

import pytest
from factories.registry import HUMA, TAHE, _file_id, _upload, good_rows, xlsx
from sqlalchemy import delete, func, select

from app.demo.data import make_credit_code
from app.extensions import db
from app.models import AppUser, RegistryProject
from app.services import registry_import
from app.services.base import Forbidden, Invalid, NotFound


@pytest.fixture
def cleanup(app):
    yield
    with app.app_context():
        db.session.execute(delete(RegistryProject).where(RegistryProject.name.like("导入测试项目%")))
        db.session.commit()


def _count(app, prefix):
    with app.app_context():
        return db.session.execute(
            select(func.count()).select_from(RegistryProject).where(RegistryProject.name.like(f"导入测试项目{prefix}%"))
        ).scalar_one()


def test_import_preview_then_upsert_and_reimport_changes_nothing(app, as_user, cleanup):
    client = as_user("dept_province")
    data = xlsx(good_rows("P"))
    page = _upload(client, data)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "共 5 行" in html and "新增 5，更新 0，未变化 0" in html
    assert _count(app, "P") == 0  # the preview stores nothing
    done = client.post("/registry-import/confirm", data={"file_id": _file_id(html)}, follow_redirects=True)
    assert "导入完成：共 5 行，新增 5，更新 0，未变化 0" in done.get_data(as_text=True)
    assert _count(app, "P") == 5
    with app.app_context():
        before = {
            r.project_code: (r.updated_at, r.import_batch, r.investment, r.valid)
            for r in db.session.query(RegistryProject).filter(RegistryProject.name.like("导入测试项目P%"))
        }
    assert sorted(str(v[2]) for v in before.values()) == ["100.50", "101.50", "102.50", "103.50", "104.50"]

    again = _upload(client, data).get_data(as_text=True)
    assert "新增 0，更新 0，未变化 5" in again
    client.post("/registry-import/confirm", data={"file_id": _file_id(again)})
    with app.app_context():
        after = {
            r.project_code: (r.updated_at, r.import_batch, r.investment, r.valid)
            for r in db.session.query(RegistryProject).filter(RegistryProject.name.like("导入测试项目P%"))
        }
    assert after == before

    rows = good_rows("P")
    rows[0][1] = "导入测试项目P0(改名)"
    rows[1][7] = "否"
    changed = _upload(client, xlsx(rows)).get_data(as_text=True)
    assert "新增 0，更新 2，未变化 3" in changed
    client.post("/registry-import/confirm", data={"file_id": _file_id(changed)})
    with app.app_context():
        renamed = db.session.query(RegistryProject).filter_by(project_code=rows[0][0]).one()
        invalid = db.session.query(RegistryProject).filter_by(project_code=rows[1][0]).one()
        assert renamed.name == "导入测试项目P0(改名)" and invalid.valid is False
    assert _count(app, "P") == 5


def test_wrong_headers_are_refused(as_user, cleanup):
    client = as_user("dept_province")
    html = _upload(client, xlsx(good_rows("H"), headers=["项目编号", "项目名称", "区划"])).get_data(as_text=True)
    assert "表头缺少：项目代码、行政区划代码、统一社会信用代码" in html
    assert 'name="file_id"' not in html


def test_not_an_excel_file(as_user):
    client = as_user("dept_province")
    response = _upload(client, b"%PDF-1.4\n%%EOF\n", name="a.xlsx")
    assert response.status_code == 302
    html = client.get("/registry-import/").get_data(as_text=True)
    assert "文件类型不允许" in html


def test_row_errors_refuse_the_whole_file(app, as_user, cleanup):
    rows = good_rows("E", 3)
    bad_credit = rows[0][4][:-1] + ("0" if rows[0][4][-1] != "0" else "1")
    rows += [
        ["E-BAD-1", "导入测试项目E-bad1", TAHE, "企业", bad_credit, "", "10", "是"],
        ["E-BAD-2", "导入测试项目E-bad2", "999999", "企业", rows[0][4], "", "", ""],
        ["E-BAD-3", "导入测试项目E-bad3", "2327", "企业", rows[0][4], "", "-5", "也许"],
        ["", "导入测试项目E-bad4", TAHE, "企业", "", "", "abc", ""],
        [rows[0][0], "导入测试项目E-dup", TAHE, "企业", rows[0][4], "", "", ""],
    ]
    client = as_user("dept_province")
    html = _upload(client, xlsx(rows)).get_data(as_text=True)
    assert "6 行有错误" in html
    assert 'name="file_id"' not in html  # no 确认导入 button
    table = html[html.index('id="registry-errors"') :]
    table = table[: table.index("</table>")]
    errors = dict(re.findall(r"<tr><td>(\d+)</td><td>[^<]*</td><td>([^<]*)</td></tr>", table))
    assert errors["2"] == "项目代码在文件中重复（第2、9行）" and errors["9"] == errors["2"]
    assert "统一社会信用代码校验位不正确" in errors["5"]
    assert "行政区划代码999999不存在" in errors["6"]
    assert "行政区划代码应为6位数字" in errors["7"] and "投资规模(万元)：金额不能为负数" in errors["7"]
    assert "是否有效应填“是”或“否”" in errors["7"]
    assert "请填写项目代码" in errors["8"] and "请填写统一社会信用代码" in errors["8"]
    assert "投资规模(万元)应为数字" in errors["8"]
    assert set(errors) == {"2", "5", "6", "7", "8", "9"}
    assert _count(app, "E") == 0


def test_confirm_refuses_a_file_with_errors(app, cleanup):
    rows = good_rows("C", 3) + [["C-BAD", "导入测试项目C-bad", "12", "企业", "x", "", "", ""]]
    from werkzeug.datastructures import FileStorage

    with app.test_request_context():
        admin = db.session.query(AppUser).filter_by(username="admin").one()
        token = registry_import.store_file(FileStorage(io.BytesIO(xlsx(rows)), filename="c.xlsx"), admin)
        with pytest.raises(Invalid):
            registry_import.run_import(token, admin)
        harbin = db.session.query(AppUser).filter_by(username="dept_harbin").one()
        with pytest.raises(Forbidden):
            registry_import.run_import(token, harbin)
        with pytest.raises(NotFound):
            registry_import.run_import(token.replace(f"ri{admin.id}-", "ri999-"), admin)
    assert _count(app, "C") == 0


def test_fifty_thousand_rows_with_one_bad_row_import_nothing(app, cleanup):
    rows = [
        [
            f"BIG-{i:06d}",
            f"导入测试项目B{i}",
            HUMA,
            "企业",
            make_credit_code(HUMA, 60000000 + i % 300),
            "",
            i % 1000,
            "",
        ]
        for i in range(50_000)
    ]
    rows[-1][2] = "000000"
    with app.test_request_context():
        admin = db.session.query(AppUser).filter_by(username="admin").one()
        result = registry_import.preview(xlsx(rows, write_only=True), admin)
    assert result.total == 50_000
    assert result.error_count == 1
    assert result.errors[0].row == 50_001 and "行政区划代码000000不存在" in result.errors[0].messages[0]
    assert _count(app, "B") == 0


def test_only_admin_and_the_province_import(as_user):
    for username in ("dept_province", "admin"):
        page = as_user(username).get("/registry-import/")
        assert page.status_code == 200 and "住建厅项目表" in page.get_data(as_text=True)
        assert 'type="file"' in page.get_data(as_text=True)  # the upload form itself
    harbin = as_user("dept_harbin")
    assert harbin.get("/registry-import/").status_code == 403
    assert _upload(harbin, xlsx(good_rows("X", 1))).status_code == 403
    assert harbin.post("/registry-import/confirm", data={"file_id": "1"}).status_code == 403
    for username in ("enterprise_demo", "insurer_picc"):
        assert as_user(username).get("/registry-import/").status_code in (302, 403)


def test_a_file_of_another_user_cannot_be_imported(app, as_user, cleanup):
    html = _upload(as_user("dept_province"), xlsx(good_rows("O", 2))).get_data(as_text=True)
    admin = as_user("admin")
    response = admin.post("/registry-import/confirm", data={"file_id": _file_id(html)})
    # answered exactly as an unknown file: nothing tells the other user's file exists
    assert response.status_code == 302
    assert "导入文件不存在，请重新上传" in admin.get(response.location).get_data(as_text=True)
    unknown = admin.post("/registry-import/confirm", data={"file_id": "1-" + "0" * 40}, follow_redirects=True)
    assert "导入文件不存在，请重新上传" in unknown.get_data(as_text=True)
    assert _count(app, "O") == 0
