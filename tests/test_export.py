"""Exports stream the given scoped query: same rows as the list, Chinese headers, no formula injection."""

import csv
import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.models import InsuranceCompany
from app.reports.export import export_response

COLUMNS = [("登录平台顺序", lambda c: c.login_order), ("简称", lambda c: c.short_name), ("备注", lambda c: "=1+1")]


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


def test_column_exports_stream_typed_tuples_and_neutralise_formulas(app):
    """The fast path (columns as SQL expressions): one statement of exactly those columns, typed cells,
    text that looks like a formula kept as text, a formatter applied to its column only."""
    from datetime import datetime

    from sqlalchemy import literal

    with app.test_request_context():
        query = select(InsuranceCompany).where(InsuranceCompany.login_order <= 3).order_by(InsuranceCompany.login_order)
        columns = [
            ("顺序", InsuranceCompany.login_order, None),
            ("简称", InsuranceCompany.short_name, None),
            ("公式", literal('=HYPERLINK("http://x")'), None),
            ("负数", literal("-12"), None),
            ("类型", InsuranceCompany.kind, lambda v: f"<{v}>"),
            ("时间", literal(datetime(2026, 11, 29, 8, 30)), None),
        ]
        statements = []
        from sqlalchemy import event

        def record(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            xlsx = export_response(query, columns, "保险机构/导出", "xlsx")
            data = b"".join(xlsx.response)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        assert len([s for s in statements if "insurance_company" in s]) == 1
        ws = load_workbook(io.BytesIO(data)).active
        assert ws.title == "保险机构_导出"
        rows = list(ws.iter_rows(values_only=True))
        assert rows[0] == ("顺序", "简称", "公式", "负数", "类型", "时间")
        assert rows[1][0] == 1 and rows[1][1] == "人保财险"
        assert rows[1][2] == '\'=HYPERLINK("http://x")' and rows[1][3] == "-12"
        assert rows[1][4] == "<insurer>"
        assert rows[1][5] == datetime(2026, 11, 29, 16, 30)  # 08:30 UTC is 16:30 in the platform's zone
        assert ws.cell(row=2, column=3).data_type == "s"  # text, not a formula
        csv_text = b"".join(export_response(query, columns, "保险机构", "csv").response).decode("utf-8-sig")
        parsed = list(csv.reader(io.StringIO(csv_text)))
        assert parsed[1][:5] == ["1", "人保财险", '\'=HYPERLINK("http://x")', "-12", "<insurer>"]
