"""统计报告 workbooks (manual 五.3): per-company summaries and the underlying rows → an .xlsx file.

Pure: takes the reports computed by app.services.statistics and an iterable of detail rows, and writes
with XlsxWriter in constant-memory mode: each row goes to disk as it is written, so a detail sheet of a
province's year (10⁵ rows at 150× the province's size) streams instead of building a cell tree.
"""

import os
from decimal import Decimal

import xlsxwriter
from flask_babel import gettext

from .export import SheetWriter

FORMATS = {"count": "#,##0", "money": "#,##0.00", "ratio": "0.00%"}


def _period_text(report):
    p, q = report.period, report.previous
    return gettext(
        "统计期间：%(a)s 至 %(b)s；去年同期：%(c)s 至 %(d)s",
        a=p.start.isoformat(),
        b=p.end.isoformat(),
        c=q.start.isoformat(),
        d=q.end.isoformat(),
    )


def summary_header(report):
    """The two header rows: metric labels over (本期, 去年同期, 增减) triples."""
    first = [gettext("序号"), gettext("保险机构")]
    second = ["", ""]
    for metric in report.metrics:
        first += [str(metric.label), "", ""]
        second += [gettext("本期"), gettext("去年同期"), gettext("增减")]
    return first, second


class _Styles:
    def __init__(self, wb):
        self.bold = wb.add_format({"bold": True})
        self.head = wb.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "align": "center", "valign": "vcenter", "text_wrap": True}
        )
        self.figures = {
            (kind, bold): wb.add_format({"num_format": fmt, "bold": bold})
            for kind, fmt in FORMATS.items()
            for bold in (False, True)
        }


def _number(value):
    return float(value) if isinstance(value, Decimal) else value


def _write_summary(wb, styles, sheet_title, report):
    ws = wb.add_worksheet(sheet_title)
    ws.set_column(0, 0, 6)
    ws.set_column(1, 1, 16)
    ws.write_string(0, 0, report.title + gettext("（按登录平台顺序排序）"), styles.bold)
    ws.write_string(1, 0, _period_text(report))
    first, second = summary_header(report)
    for r, header in ((2, first), (3, second)):
        for c, value in enumerate(header):
            if value == "":  # the cells a metric label spans: filled, but empty
                ws.write_blank(r, c, None, styles.head)
            else:
                ws.write_string(r, c, str(value), styles.head)
    r = 4
    for row in report.rows + [report.total]:
        bold = row is report.total
        if row.seq is not None:
            ws.write_number(r, 0, row.seq, styles.bold if bold else None)
        ws.write_string(r, 1, row.name, styles.bold if bold else None)
        c = 2
        for metric in report.metrics:
            fmt = styles.figures[(metric.kind, bold)]
            for value in row.figures[metric.key]:
                ws.write_number(r, c, _number(value), fmt)
                c += 1
        r += 1
    ws.write_string(
        r + 1,
        0,
        gettext(
            "经纪公司行统计载明该经纪公司的保单（派单、理赔），这些保单同时计入其保险公司；"
            "合计按保单计一次。占比、整改率的增减为百分点。"
        ),
    )


def write_workbook(path, cumulative, month, detail_headers, detail_rows, status_columns=None):
    """A workbook at ``path``: 截止 summary, the month's summary, and the underlying rows of the
    cumulative period.

    ``detail_rows`` is any iterable of tuples (streamed); ``status_columns`` maps a column index to
    the ChoiceSet whose labels replace the stored codes.
    """
    labels = {
        i: {value: str(label) for value, label in choices.choices()} for i, choices in (status_columns or {}).items()
    }
    wb = xlsxwriter.Workbook(
        path, {"constant_memory": True, "remove_timezone": True, "tmpdir": os.path.dirname(path) or None}
    )
    styles = _Styles(wb)
    _write_summary(wb, styles, gettext("截止本月累计"), cumulative)
    _write_summary(wb, styles, gettext("本月"), month)
    ws = wb.add_worksheet(gettext("项目明细"))
    ws.write_string(0, 0, cumulative.title + " " + gettext("项目明细"), styles.bold)
    for c, header in enumerate(detail_headers):
        ws.write_string(1, c, str(header), styles.head)
    writer = SheetWriter(wb, ws)
    for r, row in enumerate(detail_rows, start=2):
        values = list(row)
        for i, names in labels.items():
            values[i] = names.get(values[i], values[i])
        writer.row(r, values)
    wb.close()
