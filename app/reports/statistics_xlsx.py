"""统计报告 workbooks (manual 五.3): per-company summaries and the underlying rows → xlsx bytes.

Pure: takes the reports computed by app.services.statistics and an iterable of detail rows; writes in
openpyxl's write-only mode so that a large detail sheet streams instead of building a cell tree.
"""
import io
from datetime import date, datetime
from decimal import Decimal

from flask_babel import gettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill

FORMATS = {"count": "#,##0", "money": "#,##0.00", "ratio": "0.00%"}
BOLD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _cell(ws, value, bold=False, fmt=None, head=False):
    if isinstance(value, Decimal):
        value = float(value)
    cell = WriteOnlyCell(ws, value=value)
    if bold or head:
        cell.font = BOLD
    if head:
        cell.fill = HEAD_FILL
        cell.alignment = CENTRE
    if fmt:
        cell.number_format = fmt
    return cell


def _period_text(report):
    p, q = report.period, report.previous
    return gettext("统计期间：%(a)s 至 %(b)s；去年同期：%(c)s 至 %(d)s", a=p.start.isoformat(), b=p.end.isoformat(),
                   c=q.start.isoformat(), d=q.end.isoformat())


def summary_header(report):
    """The two header rows: metric labels over (本期, 去年同期, 增减) triples."""
    first = [gettext("序号"), gettext("保险机构")]
    second = ["", ""]
    for metric in report.metrics:
        first += [str(metric.label), "", ""]
        second += [gettext("本期"), gettext("去年同期"), gettext("增减")]
    return first, second


def _write_summary(wb, sheet_title, report):
    ws = wb.create_sheet(sheet_title)
    ws.column_dimensions["A"].width = 6
    ws.column_dimensions["B"].width = 16
    ws.append([_cell(ws, report.title + gettext("（按登录平台顺序排序）"), bold=True)])
    ws.append([_cell(ws, _period_text(report))])
    first, second = summary_header(report)
    ws.append([_cell(ws, v, head=True) for v in first])
    ws.append([_cell(ws, v, head=True) for v in second])
    for row in report.rows + [report.total]:
        bold = row is report.total
        cells = [_cell(ws, row.seq, bold), _cell(ws, row.name, bold)]
        for metric in report.metrics:
            fmt = FORMATS[metric.kind]
            cells += [_cell(ws, v, bold, fmt) for v in row.figures[metric.key]]
        ws.append(cells)
    ws.append([])
    ws.append([_cell(ws, gettext("经纪公司行统计载明该经纪公司的保单（派单、理赔），这些保单同时计入其保险公司；"
                                 "合计按保单计一次。占比、整改率的增减为百分点。"))])


def _plain(value, labels):
    if isinstance(value, Decimal):
        return float(value)
    if labels is not None:
        return str(labels.label(value))
    if isinstance(value, (date, datetime)) or value is None or isinstance(value, (int, float, str)):
        return value
    return str(value)


def build_workbook(cumulative, month, detail_headers, detail_rows, status_columns=None) -> bytes:
    """A workbook: 截止 summary, the month's summary, and the underlying rows of the cumulative period.

    ``detail_rows`` is any iterable of tuples (streamed); ``status_columns`` maps a column index to
    the ChoiceSet whose labels replace the stored codes.
    """
    status_columns = status_columns or {}
    wb = Workbook(write_only=True)
    _write_summary(wb, gettext("截止本月累计"), cumulative)
    _write_summary(wb, gettext("本月"), month)
    ws = wb.create_sheet(gettext("项目明细"))
    ws.append([_cell(ws, cumulative.title + " " + gettext("项目明细"), bold=True)])
    ws.append([_cell(ws, str(h), head=True) for h in detail_headers])
    for row in detail_rows:
        ws.append([_plain(v, status_columns.get(i)) for i, v in enumerate(row)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
