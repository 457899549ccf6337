"""统计报告 workbooks (manual 五.3): per-company summaries and the underlying rows → an .xlsx file.

Pure: takes the reports computed by app.services.statistics and an iterable of detail rows, and writes
them through the one export writer (``reports/export.TableSheet``): A4 landscape fitted to one page
wide, the metric labels merged over their 本期 / 去年同期 / 增减 columns, 序号 and 保险机构 frozen, the
header repeated on every printed page, the footnote inside the print area, dates as date cells.
Constant-memory mode: a detail sheet of a province's year (10⁵ rows at 150× the province's size)
streams instead of building a cell tree.
"""

from decimal import Decimal

from flask_babel import gettext

from app import clock

from .export import Formats, Header, TableSheet, _clean, new_workbook

BATCH = 2000


def _period_text(report):
    p, q = report.period, report.previous
    return gettext(
        "统计期间：%(a)s 至 %(b)s；去年同期：%(c)s 至 %(d)s",
        a=p.start.isoformat(),
        b=p.end.isoformat(),
        c=q.start.isoformat(),
        d=q.end.isoformat(),
    )


def footnote():
    return gettext(
        "经纪公司行统计载明该经纪公司的保单（派单、理赔），这些保单同时计入其保险公司；"
        "合计按保单计一次。占比、整改率的增减为百分点。"
    )


def summary_header(report):
    """The two header rows: metric labels over (本期, 去年同期, 增减) triples."""
    first = [gettext("序号"), gettext("保险机构")]
    second = ["", ""]
    for metric in report.metrics:
        first += [str(metric.label), "", ""]
        second += [gettext("本期"), gettext("去年同期"), gettext("增减")]
    return first, second


def _summary_header(report):
    first, second = summary_header(report)
    labels = first[:2] + second[2:]
    groups = [(first[0], 1), (first[1], 1)] + [(str(m.label), 3) for m in report.metrics]
    return Header(labels, groups)


def _number(value):
    return float(value) if isinstance(value, Decimal) else value


def _write_summary(wb, formats, sheet_name, report, made_for):
    kinds = ["integer", "text"]
    for metric in report.metrics:
        kinds += [metric.kind] * 3
    sheet = TableSheet(
        wb,
        formats,
        sheet_name,
        report.title + gettext("（按登录平台顺序排序）"),
        [_period_text(report), made_for],
        _summary_header(report),
        kinds,
        freeze_cols=2,
        autofilter=False,
        min_widths={0: 5, 1: 14},
    )
    for row in report.rows + [report.total]:
        values = [row.seq, row.name]
        for metric in report.metrics:
            values += [_number(v) for v in row.figures[metric.key]]
        sheet.write_row(values, bold=row is report.total)
    sheet.footnote([footnote()])
    sheet.close(print_title=report.title)


def made_for_line(user=None, scope_name=None, exported_at=None):
    """Who the workbook is for and when it was made (platform zone)."""
    parts = []
    if scope_name:
        parts.append(gettext("统计范围：%(s)s", s=scope_name))
    if user is not None:
        party = getattr(user, "party_name", "") or ""
        parts.append(gettext("导出人：%(u)s", u=f"{user.username}（{party}）" if party else user.username))
    when = exported_at or clock.local(clock.now())
    parts.append(gettext("生成时间：%(t)s", t=when.strftime("%Y-%m-%d %H:%M:%S")))
    return "；".join(parts)


def write_workbook(
    path,
    cumulative,
    month,
    detail_headers,
    detail_rows,
    status_columns=None,
    detail_kinds=None,
    made_for=None,
    progress=None,
):
    """A workbook at ``path``: 截止 summary, the month's summary, and the underlying rows of the
    cumulative period.

    ``detail_rows`` is any iterable of tuples (streamed); ``status_columns`` maps a column index to
    the ChoiceSet whose labels replace the stored codes; ``detail_kinds`` gives each detail column's
    kind (export.NUMBER_FORMATS; None: from its values). ``progress(n)`` is called every BATCH rows.
    Returns the number of detail rows."""
    labels = {
        i: {value: str(label) for value, label in choices.choices()} for i, choices in (status_columns or {}).items()
    }
    made_for = made_for if made_for is not None else made_for_line()
    wb = new_workbook(path)
    formats = Formats(wb)
    _write_summary(wb, formats, gettext("截止本月累计"), cumulative, made_for)
    _write_summary(wb, formats, gettext("本月"), month, made_for)
    headers = [str(h) for h in detail_headers]
    kinds = list(detail_kinds or [None] * len(headers))
    for i in labels:
        kinds[i] = "text"
    title = cumulative.title + " " + gettext("项目明细")
    sheet = TableSheet(
        wb, formats, gettext("项目明细"), title, [_period_text(cumulative), made_for], Header(headers), kinds
    )
    n = 0
    for n, row in enumerate(detail_rows, start=1):
        values = [_clean(v) for v in row]
        for i, names in labels.items():
            values[i] = names.get(values[i], values[i])
        sheet.write_row(values)
        if progress is not None and n % BATCH == 0:
            progress(n)
    sheet.close(print_title=title)
    wb.close()
    return n
