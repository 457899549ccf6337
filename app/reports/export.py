"""Streamed exports of a list's own (scoped, filtered) query.

Rows are read with a server-side cursor in batches (``yield_per``) and written by openpyxl's
write-only mode or the csv module, so memory stays flat whatever the row count. The caller passes the
very query its list shows (STYLE.md trap 7: an export that builds its own query drifts and leaks).
"""
import csv
import io
import os
import tempfile
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import quote

from flask import Response, stream_with_context
from openpyxl import Workbook

from app.extensions import db

BATCH = 2000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date, int, float)):
        return value
    text = str(value)
    # Spreadsheet formula injection: a cell starting with = + - @ is data, not a formula.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


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
        formats = [fmt for _h, _e, fmt in columns]
        result = db.session.execute(stmt.execution_options(yield_per=BATCH))
        for row in result:
            yield [_cell(fmt(v) if fmt is not None and v is not None else v) for fmt, v in zip(formats, row)]
        return
    getters = [column[1] for column in columns]
    if hasattr(query, "statement"):  # legacy ORM Query (what FAB's SQLAInterface builds)
        rows = query.yield_per(BATCH)
    else:  # a 2.0 Select
        rows = db.session.execute(query.execution_options(yield_per=BATCH)).scalars()
    for row in rows:
        yield [_cell(get(row)) for get in getters]


def write_xlsx(fileobj, columns, rows, title="Sheet1"):
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31])
    ws.append([str(column[0]) for column in columns])
    for values in rows:
        ws.append(values)
    wb.save(fileobj)


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

    # openpyxl writes the archive at save(); spool it to a temporary file, then stream that file.
    tmp = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)
    try:
        write_xlsx(tmp, columns, iter_rows(query, columns), title=filename)
        tmp.close()
    except Exception:
        tmp.close()
        os.unlink(tmp.name)
        raise

    def stream():
        try:
            with open(tmp.name, "rb") as fh:
                while chunk := fh.read(64 * 1024):
                    yield chunk
        finally:
            os.unlink(tmp.name)

    response = Response(stream(), mimetype=XLSX)
    response.headers["Content-Disposition"] = _disposition(filename + ".xlsx")
    response.headers["Content-Length"] = str(os.path.getsize(tmp.name))
    return response
