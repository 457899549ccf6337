"""The one export writer: every list export and every workbook is written here, office-grade.

A sheet is a title block (what, which filter, for whom, exported at — in the platform's zone), a header
row (or two, with merged group headers), the rows, and an optional footnote; it opens in Excel or
LibreOffice ready to read and to print:

- columns as wide as their header and data (measured on the first ``WIDTH_SAMPLE`` rows: measuring
  every cell of a 10⁵-row export cost more than writing it), capped at ``MAX_WIDTH``;
- typed cells: money ``#,##0.00``, counts ``#,##0``, ratios ``0.00%``, dates and times as real date
  cells (``yyyy-mm-dd`` / ``yyyy-mm-dd hh:mm:ss``, stored instants shown in the platform's zone);
  text always as text, never a formula (a leading = + - @ is prefixed with ');
- the header frozen, an autofilter on it;
- print setup: A4 landscape, fit to one page wide, the header rows repeated on every page, the title
  and footnote inside the print area, "第 N 页，共 M 页" in the footer.

XlsxWriter writes in constant-memory mode (each row goes to disk as it is written) through its public
API only. Rows stream from a server-side cursor (``yield_per``) as plain column tuples: the caller passes
the very query its list shows (STYLE.md trap 7: an export that builds its own query drifts and leaks).
CSV: UTF-8 with a BOM (what Excel needs to read UTF-8), money with two decimals, times to the second.

Named exports (``EXPORTS``): a list registers a builder ``(filters, user) -> (stmt, columns, title)``
so that the same export can run in the request (small) or as a job (above ``EXPORT_JOB_ROWS`` rows,
``app/jobs/outputs.py``), from the filter values alone.
"""

import csv
import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import xlsxwriter
from flask import Response, current_app, stream_with_context
from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.types import TypeDecorator

from app import clock
from app.extensions import db

from .download import name_download

BATCH = 2000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
WIDTH_SAMPLE = 1000
MIN_WIDTH, MAX_WIDTH = 6, 60

# kind -> Excel number format (None: text)
NUMBER_FORMATS = {
    "text": None,
    "count": "#,##0",
    "integer": "0",
    "money": "#,##0.00",
    "number": "#,##0.00",
    "ratio": "0.00%",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
}
# the displayed width of a value of a kind whose width does not depend on the text
FIXED_WIDTHS = {"date": 10, "datetime": 19, "ratio": 8}
_FORMULA_START = frozenset("=+-@\t\r")


# ---------------------------------------------------------------------------------------------------
# Columns: header, where the value comes from, how it is shown
# ---------------------------------------------------------------------------------------------------


@dataclass
class Column:
    header: object
    source: object = None  # an SQL expression (fast path) or a getter applied to each ORM row
    formatter: object = None  # value -> shown value (a label for a code, a name for an id)
    kind: str | None = None  # see NUMBER_FORMATS; derived from the SQL type when None
    sql: bool = False


def _local(value, zone=None):
    """An instant as the platform zone's wall clock, without tzinfo (what a spreadsheet cell holds)."""
    if zone is None:
        return clock.local(value).replace(tzinfo=None, microsecond=0)
    return clock.as_utc(value).astimezone(zone).replace(tzinfo=None, microsecond=0)


def _kind_of_type(expr):
    sql_type = getattr(expr, "type", None)
    if isinstance(sql_type, TypeDecorator):  # UtcDateTime and friends: the type they store as
        sql_type = sql_type.impl_instance
    try:
        python_type = sql_type.python_type
    except (AttributeError, NotImplementedError):
        return None
    if python_type is Decimal:
        return "money" if getattr(sql_type, "scale", 2) in (2, None) else "number"
    if python_type is bool:
        return "text"
    if python_type is int:
        return "integer"
    if python_type is float:
        return "number"
    if python_type is datetime:
        return "datetime"
    if python_type is date:
        return "date"
    return "text"


def columns_of(columns):
    """Normalise ``columns``: ``Column`` objects, ``(header, SQL expression, formatter[, kind])`` tuples
    (streamed as plain tuples) or ``(header, getter)`` pairs (applied to each ORM row)."""
    out = []
    for col in columns:
        if isinstance(col, Column):
            out.append(col)
            continue
        if len(col) >= 3:
            header, expr, fmt = col[:3]
            kind = col[3] if len(col) > 3 else (None if fmt is not None else _kind_of_type(expr))
            out.append(Column(header, expr, fmt, kind or ("text" if fmt is not None else None), sql=True))
        else:
            out.append(Column(col[0], col[1]))
    return out


def _neutral_text(text):
    """Spreadsheet formula injection: a cell starting with = + - @ is data, not a formula."""
    if text and text[0] in _FORMULA_START and not _is_number(text):
        return "'" + text
    return text


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def _value_kind(value):
    if isinstance(value, bool):
        return "text"
    if isinstance(value, Decimal):
        return "money"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    return "text"


def _clean(value):
    """One value as the writers take it: None, str (neutralised), int, float, Decimal, date, datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float, Decimal, date)):
        return value
    return _neutral_text(str(value))


def iter_rows(query, columns):
    """Yield one list of cell values per row of ``query`` (the formatters applied, text neutralised).

    SQL-expression columns narrow the query to exactly those expressions (``with_only_columns`` keeps
    its joins, filter and order) and stream plain tuples; getter columns apply to each ORM row.
    Untyped columns take their kind from their first value (``Column.kind`` is filled in)."""
    cols = columns_of(columns)
    if cols and all(c.sql for c in cols):
        stmt = query.with_only_columns(*[c.source for c in cols])
        result = db.session.execute(stmt.execution_options(yield_per=BATCH))
        fmts = [c.formatter for c in cols]
        for row in result:
            yield [_clean(v if f is None or v is None else f(v)) for f, v in zip(fmts, row)]
        return
    if hasattr(query, "statement"):  # legacy ORM Query (what FAB's SQLAInterface builds)
        rows = query.yield_per(BATCH)
    else:  # a 2.0 Select of entities
        rows = db.session.execute(query.execution_options(yield_per=BATCH)).scalars()
    for row in rows:
        values = []
        for c in cols:
            v = c.source(row) if c.source is not None else None
            values.append(_clean(v if c.formatter is None or v is None else c.formatter(v)))
        yield values


def count_rows(query, limit):
    """How many rows ``query`` has, counting at most ``limit`` + 1 (an index walk, not a full count)."""
    stmt = query.statement if hasattr(query, "statement") else query
    sub = stmt.order_by(None).limit(limit + 1).subquery()
    return db.session.execute(select(func.count()).select_from(sub)).scalar_one()


# ---------------------------------------------------------------------------------------------------
# The sheet writer
# ---------------------------------------------------------------------------------------------------


def text_width(text):
    """The displayed width of ``text`` in Excel's units: CJK and full-width characters count two."""
    return sum(2 if ord(ch) >= 0x2E80 else 1 for ch in text)


def _shown_width(kind, value):
    if kind in FIXED_WIDTHS:
        return FIXED_WIDTHS[kind]
    if isinstance(value, str):
        return text_width(value)
    if kind in ("money", "number"):
        return len(f"{float(value):,.2f}")
    if kind == "count":
        return len(f"{int(value):,}")
    return len(str(value))


@dataclass
class Header:
    """A header row of single labels, or two rows: ``groups`` of (label, span) over ``labels``; a
    group of span 1 covers both rows (merged vertically)."""

    labels: list
    groups: list = field(default_factory=list)

    @property
    def rows(self):
        return 2 if self.groups else 1


class Formats:
    """The workbook's formats, made once per workbook."""

    def __init__(self, wb):
        border = {"border": 1, "border_color": "#A6A6A6"}
        self.title = wb.add_format({"bold": True, "font_size": 14, "valign": "vcenter"})
        self.subtitle = wb.add_format({"font_color": "#404040", "text_wrap": True, "valign": "top"})
        self.head = wb.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "align": "center", "valign": "vcenter", "text_wrap": True, **border}
        )
        head = {"bold": True, "bg_color": "#DDEBF7", "align": "center", "text_wrap": True, **border}
        self.head_top = wb.add_format(dict(head, bottom=0, valign="bottom"))
        self.head_bottom = wb.add_format(dict(head, top=0, valign="top"))
        self.note = wb.add_format({"font_color": "#404040", "text_wrap": True, "valign": "top"})
        self.cells = {}
        for kind, num in NUMBER_FORMATS.items():
            for bold in (False, True):
                spec = dict(border)
                if num:
                    spec["num_format"] = num
                if bold:
                    spec["bold"] = True
                    spec["bg_color"] = "#F2F2F2"
                self.cells[(kind, bold)] = wb.add_format(spec)


def new_workbook(path):
    return xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,
            "remove_timezone": True,
            "tmpdir": os.path.dirname(path) or None,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )


class TableSheet:
    """One worksheet: title lines, header, typed rows, footnote; widths, freeze, filter, print setup.

    Rows are written in order (constant-memory mode); ``close()`` sets what depends on them (widths,
    autofilter, print area)."""

    def __init__(
        self,
        wb,
        formats,
        name,
        title,
        subtitle_lines=(),
        header=None,
        kinds=(),
        freeze_cols=0,
        autofilter=True,
        min_widths=None,
    ):
        self.wb, self.f = wb, formats
        self.ws = wb.add_worksheet(sheet_title(name))
        self.header = header
        self.kinds = list(kinds)
        self.ncols = len(header.labels)
        self.widths = [MIN_WIDTH] * self.ncols
        for c, w in (min_widths or {}).items():
            self.widths[c] = max(self.widths[c], w)
        self.freeze_cols, self.autofilter_on = freeze_cols, autofilter
        self.sampled = 0
        self.row = 0
        self.zone = clock.zone()  # looked up once per sheet, not per cell
        last = max(self.ncols - 1, 0)
        ws = self.ws
        # Title block: the title, then what/whom/when lines, each merged over the table's width.
        ws.set_row(0, 24)
        self._merged_text(0, str(title), self.f.title, last)
        self.row = 1
        for line in subtitle_lines:
            ws.set_row(self.row, 18)
            self._merged_text(self.row, str(line), self.f.subtitle, last)
            self.row += 1
        self.header_top = self.row
        self._write_header()
        self.first_data = self.row

    def _merged_text(self, r, text, fmt, last):
        if last > 0:
            self.ws.merge_range(r, 0, r, last, text, fmt)
        else:
            self.ws.write_string(r, 0, text, fmt)

    def _write_header(self):
        ws, head, r = self.ws, self.header, self.row
        labels = [str(x) for x in head.labels]
        if not head.groups:
            ws.set_row(r, 30)
            for c, label in enumerate(labels):
                ws.write_string(r, c, label, self.f.head)
                self._measure_header(c, label)
            self.row += 1
            return
        ws.set_row(r, 22)
        ws.set_row(r + 1, 22)
        # Constant-memory mode writes rows in order and cannot merge down into a row not yet written:
        # a single column's label spans the two rows as an open-bottomed cell over an open-topped one.
        c = 0
        for label, span in head.groups:
            label = str(label)
            if span == 1:
                ws.write_blank(r, c, None, self.f.head_top)
                self._measure_header(c, label)
            else:
                ws.merge_range(r, c, r, c + span - 1, label, self.f.head)
                for k in range(span):
                    self._measure_header(c + k, label, share=span)
            c += span
        c = 0
        for label, span in head.groups:
            if span == 1:
                ws.write_string(r + 1, c, str(label), self.f.head_bottom)
            else:
                for k in range(span):
                    ws.write_string(r + 1, c + k, labels[c + k], self.f.head)
                    self._measure_header(c + k, labels[c + k])
            c += span
        self.row += 2

    def _measure_header(self, c, label, share=1):
        # a header wraps onto two lines at most: half its width (plus padding) is enough
        longest = max((text_width(part) for part in label.split("\n")), default=0)
        need = longest / share if share > 1 else (longest if longest <= 12 else (longest + 1) // 2 + 1)
        self.widths[c] = max(self.widths[c], need + 2)

    def _infer_kinds(self, values):
        for c, v in enumerate(values):
            if c >= len(self.kinds):
                self.kinds.append(None)
            if self.kinds[c] is None and v is not None:
                self.kinds[c] = _value_kind(v)

    def write_row(self, values, bold=False):
        """One row of cell values (None: an empty bordered cell)."""
        if None in self.kinds or len(self.kinds) < len(values):
            self._infer_kinds(values)
        ws, r, cells = self.ws, self.row, self.f.cells
        measure = self.sampled < WIDTH_SAMPLE
        for c, value in enumerate(values):
            kind = self.kinds[c] or "text"
            fmt = cells[(kind, bold)]
            if value is None:
                ws.write_blank(r, c, None, fmt)
                continue
            if isinstance(value, str):
                ws.write_string(r, c, value, cells[("text", bold)])
            elif isinstance(value, date):  # a date cell; an instant in the platform's zone
                if kind not in ("date", "datetime"):
                    kind = "datetime" if isinstance(value, datetime) else "date"
                    fmt = cells[(kind, bold)]
                if isinstance(value, datetime):
                    value = _local(value, self.zone) if kind == "datetime" else value.date()
                ws.write_datetime(r, c, value, fmt)
            else:
                ws.write_number(r, c, float(value) if isinstance(value, Decimal) else value, fmt)
            if measure:
                w = _shown_width(kind, value) + 2
                if w > self.widths[c]:
                    self.widths[c] = w
        self.sampled += 1
        self.row += 1

    def footnote(self, lines):
        """Notes below the table, merged over its width, inside the print area."""
        last = max(self.ncols - 1, 0)
        self.row += 1  # one empty row between the table and its notes
        total_width = sum(min(max(w, MIN_WIDTH), MAX_WIDTH) for w in self.widths)
        for line in lines:
            text = str(line)
            lines_needed = max(1, -(-text_width(text) // max(int(total_width), 1)))
            self.ws.set_row(self.row, 16 * lines_needed + 2)
            self._merged_text(self.row, text, self.f.note, last)
            self.row += 1

    def close(self, print_title=None):
        ws, last_col = self.ws, max(self.ncols - 1, 0)
        for c, w in enumerate(self.widths):
            ws.set_column(c, c, min(max(w, MIN_WIDTH), MAX_WIDTH))
        header_last = self.first_data - 1
        ws.freeze_panes(self.first_data, self.freeze_cols)
        if self.autofilter_on:
            ws.autofilter(header_last, 0, max(self.row - 1, header_last), last_col)
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)  # one page wide, as many pages tall as needed
        ws.repeat_rows(self.header_top, header_last)
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
        ws.print_area(0, 0, max(self.row - 1, header_last), last_col)
        footer_title = (print_title or "").replace("&", "&&")
        ws.set_footer(f"&L{footer_title}&R" + gettext("第 &P 页，共 &N 页"))


def sheet_title(title):
    """Excel refuses sheet names over 31 characters or with []:*?/\\ in them."""
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in str(title))[:31]
    return cleaned or "Sheet1"


# ---------------------------------------------------------------------------------------------------
# The title block of a list export
# ---------------------------------------------------------------------------------------------------


def export_subtitle(filters_text=None, user=None, exported_at=None):
    """The line under an export's title: which filter, for whom, exported at (platform zone)."""
    parts = [gettext("筛选条件：%(f)s", f=filters_text or gettext("全部"))]
    if user is not None:
        who = getattr(user, "username", "") or ""
        party = getattr(user, "party_name", "") or ""
        parts.append(gettext("导出人：%(u)s", u=f"{who}（{party}）" if party else who))
    when = exported_at or clock.local(clock.now())
    parts.append(gettext("导出时间：%(t)s", t=when.strftime("%Y-%m-%d %H:%M:%S")))
    return "；".join(parts)


def describe_filters(filters, labels=None):
    """``{"project": ["龙建"], …}`` as "项目名称：龙建；…" (parameters without a label by their name)."""
    labels = labels or {}
    parts = []
    for key, values in (filters or {}).items():
        values = [v for v in (values if isinstance(values, (list, tuple)) else [values]) if str(v).strip()]
        if not values or key in ("fmt", "page", "psize") or key.startswith("psize_"):
            continue
        column = re.sub(r"^_flt_\d+_", "", key)  # FAB's list filters: _flt_<op>_<column>
        label = labels.get(column)
        if label is None:
            continue
        shown = "、".join(str(v) for v in values[:5]) + ("…" if len(values) > 5 else "")
        parts.append(f"{label}：{shown}")
    return "；".join(parts)


def write_xlsx(path, columns, rows, title="Sheet1", subtitle=None, progress=None):
    """Write ``rows`` (lists of values from ``iter_rows``) as one office-grade sheet at ``path``.
    ``progress(n)`` is called every ``BATCH`` rows. Returns the number of rows written."""
    cols = columns_of(columns)
    wb = new_workbook(path)
    sheet = TableSheet(
        wb,
        Formats(wb),
        title,
        title,
        [subtitle if subtitle is not None else export_subtitle()],
        Header([c.header for c in cols]),
        [c.kind for c in cols],
    )
    n = 0
    for n, values in enumerate(rows, start=1):
        sheet.write_row(values)
        if progress is not None and n % BATCH == 0:
            progress(n)
    sheet.close(print_title=str(title))
    wb.close()
    return n


def csv_cell(value, kind=None):
    if value is None:
        return ""
    if isinstance(value, datetime):
        return clock.fmt_seconds(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (Decimal, float)) and kind in (None, "money", "number"):
        return f"{value:.2f}"
    if isinstance(value, float) and kind == "ratio":
        return f"{value:.4f}"
    return value


def iter_csv(columns, rows, progress=None):
    """The CSV document as UTF-8 chunks: a BOM, the header, the rows."""
    cols = columns_of(columns)
    kinds = [c.kind for c in cols]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with a BOM
    writer.writerow([str(c.header) for c in cols])
    for i, values in enumerate(rows, start=1):
        writer.writerow([csv_cell(v, k) for v, k in zip(values, kinds)])
        if i % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            if progress is not None and i % BATCH == 0:
                progress(i)
    yield buffer.getvalue().encode("utf-8")


def write_csv(path, columns, rows, progress=None):
    with open(path, "wb") as fh:
        for chunk in iter_csv(columns, rows, progress):
            fh.write(chunk)


def export_response(query, columns, filename, fmt="xlsx", subtitle=None):
    """A download of ``query``'s rows with Chinese headers: xlsx (default) or csv, streamed."""
    from app.security.audit import audit_event

    audit_event("export", f"{filename}.{fmt}")
    if subtitle is None:
        from app.security.scope import current_user_obj

        subtitle = export_subtitle(None, current_user_obj())
    cols = columns_of(columns)
    if fmt == "csv":
        response = Response(stream_with_context(iter_csv(cols, iter_rows(query, cols))), content_type=CSV)
        response.headers["Cache-Control"] = "private, no-store"
        return name_download(response, filename + ".csv")
    # The archive is complete only at close(): write it to a temporary file, then stream that file.
    return spooled_xlsx(
        lambda path: write_xlsx(path, cols, iter_rows(query, cols), title=filename, subtitle=subtitle),
        filename + ".xlsx",
    )


def spooled_xlsx(write, filename):
    """A download of the .xlsx that ``write(path)`` writes to a temporary file: streamed from disk,
    the file removed once sent (or at once if writing fails)."""
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        write(path)
    except BaseException:
        os.unlink(path)
        raise
    return stream_file(path, filename, XLSX, remove=True)


def stream_file(path, filename, mimetype, remove=False):
    """A download of the file at ``path`` (removed once sent when ``remove``)."""

    def stream():
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(64 * 1024):
                    yield chunk
        finally:
            if remove:
                os.unlink(path)

    response = Response(stream(), mimetype=mimetype)
    response.headers["Content-Length"] = str(os.path.getsize(path))
    response.headers["Cache-Control"] = "private, no-store"
    return name_download(response, filename)


# ---------------------------------------------------------------------------------------------------
# Named exports: what a job needs to run a list's export from its filter values alone
# ---------------------------------------------------------------------------------------------------


@dataclass
class ExportSpec:
    name: str
    title: object  # the list's name (lazy): 保单台帐
    build: object  # (filters: dict[str, list[str]], user) -> (stmt, columns, title)
    permission: tuple  # (permission, view_menu) the user must hold, e.g. ("can_export", "Ledger")
    filter_labels: dict = field(default_factory=dict)


EXPORTS: dict[str, ExportSpec] = {}


def job_threshold():
    return int(current_app.config.get("EXPORT_JOB_ROWS", 20000))
