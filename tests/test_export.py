"""Exports stream the given scoped query: same rows as the list, Chinese headers, no formula injection."""
import csv
import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from app.extensions import db

from app.models import InsuranceCompany
from app.reports.export import export_response

COLUMNS = [("登录平台顺序", lambda c: c.login_order), ("简称", lambda c: c.short_name),
           ("备注", lambda c: "=1+1")]


def test_xlsx_and_csv_carry_the_query_rows(app):
    with app.test_request_context():
        query = select(InsuranceCompany).order_by(InsuranceCompany.login_order)
        xlsx = export_response(query, COLUMNS, "保险机构", "xlsx")
        assert "filename*=UTF-8''" in xlsx.headers["Content-Disposition"]
        wb = load_workbook(io.BytesIO(b"".join(xlsx.response)))
        rows = list(wb.active.iter_rows(values_only=True))
        assert rows[0] == ("登录平台顺序", "简称", "备注")
        assert [r[1] for r in rows[1:4]] == ["人保财险", "国寿财险", "太平财险"]
        companies = db.session.scalar(select(func.count()).select_from(InsuranceCompany))
        assert len(rows) == companies + 1  # other tests may add parties of their own
        assert rows[1][2] == "'=1+1"

        response = export_response(query, COLUMNS, "保险机构", "csv")
        text = b"".join(response.response).decode("utf-8-sig")
        parsed = list(csv.reader(io.StringIO(text)))
        assert parsed[0] == ["登录平台顺序", "简称", "备注"]
        assert len(parsed) == companies + 1
