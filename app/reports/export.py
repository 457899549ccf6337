"""Streamed exports of a list's own (scoped, filtered) query.

Rows are read with a server-side cursor in batches (``yield_per``) and written by XlsxWriter in
constant-memory mode (each row goes to disk as it is written; ~1.5× faster than openpyxl's
write-only mode on 100,000 rows, docs/benchmarks.md) or the csv module, so memory stays flat
whatever the row count. The caller passes the
very query its list shows (STYLE.md trap 7: an export that builds its own query drifts and leaks).
"""

import csv
import io
import os
import tempfile
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import quote

import xlsxwriter
from flask import Response, stream_with_context

from app import clock
from app.extensions import db

BATCH = 2000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _local(value):
    """An instant as the platform zone's wall clock, without tzinfo (what a spreadsheet cell holds)."""
    return clock.local(value).replace(tzinfo=None, microsecond=0)


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return _local(value)
    if isinstance(value, (date, int, float)):
        return value
    text = str(value)
    # Spreadsheet formula injection: a cell starting with = + - @ is data, not a formula.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _text_cell(value):
    if not value:
        return ""
    return _cell(value) if value[0] in _FORMULA_START else value


_FORMULA_START = frozenset("=+-@\t\r")


def _converter(expr, fmt):
    """The cell conversion of one exported column, chosen once from its SQL type (a million cells
    per 100,000-row export: the generic ``_cell`` per value was a third of the export's time)."""
    if fmt is not None:
        return lambda v: "" if v is None else _cell(fmt(v))
    try:
        python_type = expr.type.python_type
    except (AttributeError, NotImplementedError):
        return _cell
    if python_type is str:
        return _text_cell
    if python_type is Decimal:
        return lambda v: "" if v is None else float(v)
    if python_type is datetime:
        return lambda v: "" if v is None else _local(v)
    if python_type in (int, float, date):
        return lambda v: "" if v is None else v
    return _cell


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def iter_rows(query, columns):
    """Yield one list of cell values per row of ``query``.

    ``columns`` are either ``(header, SQL expression, formatter or None)`` — the query is then narrowed
    to exactly those expressions (``with_only_columns`` keeps its joins, filter and order) and rows
    stream as plain tuples, the fast path for large exports — or ``(header, getter)`` with a getter
    applied to each ORM row.
    """
    if columns and len(columns[0]) == 3:
        stmt = query.with_only_columns(*[expr for _h, expr, _f in columns])
        converters = [_converter(expr, fmt) for _h, expr, fmt in columns]
        result = db.session.execute(stmt.execution_options(yield_per=BATCH))
        for row in result:
            yield [convert(v) for convert, v in zip(converters, row)]
        return
    getters = [column[1] for column in columns]
    if hasattr(query, "statement"):  # legacy ORM Query (what FAB's SQLAInterface builds)
        rows = query.yield_per(BATCH)
    else:  # a 2.0 Select
        rows = db.session.execute(query.execution_options(yield_per=BATCH)).scalars()
    for row in rows:
        yield [_cell(get(row)) for get in getters]


class SheetWriter:
    """Writes rows of plain values into an XlsxWriter worksheet, typed per cell: text always as text
    (never a formula), numbers as numbers, dates and times with a date format, empty cells skipped."""

    def __init__(self, wb, ws):
        date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
        time_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        # The public write_* methods first parse "A1"-style arguments (a decorator on every call, ~5 % of a
        # 100,000-row export); rows and columns here are always numbers, so the typed writers behind them
        # are called directly (XlsxWriter is pinned below 4 in requirements.txt).
        text = getattr(ws, "_write_string", ws.write_string)
        number = getattr(ws, "_write_number", ws.write_number)
        when = getattr(ws, "_write_datetime", ws.write_datetime)
        self.text = text
        self.writers = {
            str: text,
            int: number,
            float: number,
            Decimal: lambda r, c, v: number(r, c, float(v)),
            bool: lambda r, c, v: number(r, c, int(v)),
            datetime: lambda r, c, v: when(r, c, v, time_fmt),
            date: lambda r, c, v: when(r, c, v, date_fmt),
        }

    def row(self, r, values):
        writers, text = self.writers, self.text
        for c, value in enumerate(values):
            if value == "" or value is None:
                continue
            writer = writers.get(type(value))
            if writer is None:
                text(r, c, str(value))
            else:
                writer(r, c, value)


def write_xlsx(path, columns, rows, title="Sheet1"):
    """Write ``rows`` (lists of cell values from ``iter_rows``) under a bold header row to an .xlsx at
    ``path``."""
    wb = xlsxwriter.Workbook(
        path, {"constant_memory": True, "remove_timezone": True, "tmpdir": os.path.dirname(path) or None}
    )
    ws = wb.add_worksheet(_sheet_title(title))
    bold = wb.add_format({"bold": True})
    for c, column in enumerate(columns):
        ws.write_string(0, c, str(column[0]), bold)
    writer = SheetWriter(wb, ws)
    for r, values in enumerate(rows, start=1):
        writer.row(r, values)
    wb.close()


def _sheet_title(title):
    """Excel refuses sheet names over 31 characters or with []:*?/\\ in them."""
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in str(title))[:31]
    return cleaned or "Sheet1"


def _disposition(filename):
    ascii_name = filename.encode("ascii", "ignore").decode() or "export"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def export_response(query, columns, filename, fmt="xlsx"):
    """A download of ``query``'s rows with Chinese headers: xlsx (default) or csv, streamed."""
    from app.security.audit import audit_event

    audit_event("export", f"{filename}.{fmt}")
    if fmt == "csv":

        def generate():
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            buffer.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with a BOM
            writer.writerow([str(column[0]) for column in columns])
            for i, values in enumerate(iter_rows(query, columns)):
                writer.writerow(values)
                if i % 500 == 0:
                    yield buffer.getvalue().encode("utf-8")
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue().encode("utf-8")

        response = Response(stream_with_context(generate()), mimetype="text/csv; charset=utf-8")
        response.headers["Content-Disposition"] = _disposition(filename + ".csv")
        return response

    # The archive is complete only at close(): write it to a temporary file, then stream that file.
    return spooled_xlsx(
        lambda path: write_xlsx(path, columns, iter_rows(query, columns), title=filename), filename + ".xlsx"
    )


def spooled_xlsx(write, filename):
    """A download of the .xlsx that ``write(path)`` writes to a temporary file: streamed from disk,
    the file removed once sent (or at once if writing fails)."""
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        write(path)
    except Exception:
        os.unlink(path)
        raise

    def stream():
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(64 * 1024):
                    yield chunk
        finally:
            os.unlink(path)

    response = Response(stream(), mimetype=XLSX)
    response.headers["Content-Disposition"] = _disposition(filename)
    response.headers["Content-Length"] = str(os.path.getsize(path))
    response.headers["Cache-Control"] = "private, no-store"
    return response
