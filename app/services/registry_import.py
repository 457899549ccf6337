"""住建厅项目表 import: the housing department's list of valid projects (basis of 项目总数 and 注册比率).

Two steps. ``preview`` reads the xlsx (app/untrusted/xlsx.py: the archive checked, the sheet bounded,
read by calamine in a sandboxed child), checks the headers, validates every row (identifiers through
app.validators, once per distinct value), finds duplicates inside the file and compares with the
stored rows (new / changed / unchanged). ``run_import`` re-validates the same stored file and, only
when no row has an error, upserts everything in one transaction, in batches: all or nothing.
Unchanged rows are not touched, so importing the same file twice changes nothing. Only Admin and the
province department may import (the registry covers the whole province). A stored file not imported
within IMPORT_PREVIEW_HOURS is refused and removed (by ``load_file``, and by ``flask files sweep``).
"""

import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from flask import current_app
from flask_babel import lazy_gettext as _
from sqlalchemy import insert, select, update

from app import clock
from app.extensions import db
from app.models import Region, RegistryProject
from app.models.base import utcnow
from app.models.enums import PartyKind
from app.security.scope import party_of
from app.storage import MB, UPLOAD_RULES, get_storage, sniff
from app.untrusted import xlsx
from app.validators import REGION_RE, ValidationError, check_project_code, validate_credit_code, validate_money

from .base import Forbidden, Invalid, NotFound, unit_of_work

KIND = "registry_import"
TOKEN_RE = re.compile(r"^ri(\d+)-[0-9a-f]{40}\.xlsx$")
BATCH = 1000
MAX_ROWS = 100_000
MAX_COLUMNS = 32  # the sheet may carry a few columns beyond the eight it needs, not a thousand
SHOWN_ERRORS = 500
MAX_INVESTMENT = Decimal("1e14")  # Numeric(16, 2)

# (field, header, required, max length)
COLUMNS = [
    ("project_code", "项目代码", True, 64),
    ("name", "项目名称", True, 255),
    ("region_code", "行政区划代码", True, 6),
    ("enterprise_name", "施工企业名称", False, 128),
    ("credit_code", "统一社会信用代码", True, 18),
    ("builder_name", "建设单位名称", False, 255),
    ("investment", "投资规模(万元)", False, None),
    ("valid", "是否有效", False, None),
]
HEADERS = [c[1] for c in COLUMNS]
TEXT_FIELDS = ["project_code", "name", "region_code", "enterprise_name", "credit_code", "builder_name"]
COMPARED = TEXT_FIELDS + ["investment", "valid"]
VALID_WORDS = {
    "": True,
    "是": True,
    "有效": True,
    "1": True,
    "Y": True,
    "YES": True,
    "TRUE": True,
    "否": False,
    "无效": False,
    "0": False,
    "N": False,
    "NO": False,
    "FALSE": False,
}
NUMBER_RE = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")


@dataclass
class RowError:
    row: int  # the Excel row number (header is row 1)
    project_code: str
    messages: list


@dataclass
class RegistryImport:
    total: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    error_count: int = 0
    header_errors: list = field(default_factory=list)
    errors: list = field(default_factory=list)  # the first SHOWN_ERRORS RowErrors
    warnings: list = field(default_factory=list)  # RowErrors carrying warnings (shown, not blocking)
    frame: object = None  # the normalised rows (dicts by field, with "row", "action" and "id")

    @property
    def ok(self):
        return not self.header_errors and self.error_count == 0


def can_import(user) -> bool:
    party = party_of(user)
    return party.is_admin or (party.kind == PartyKind.DEPARTMENT and party.sees_all)


def ensure_can_import(user):
    if not can_import(user):
        raise Forbidden(_("只有管理员和省住建厅可以导入住建厅项目表"))


def _header(text):
    return unicodedata.normalize("NFKC", str(text)).replace(" ", "").strip()


def _text(value):
    """A cell as the text the validators read: integral numbers without '.0', dates as ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value == datetime.combine(value.date(), datetime.min.time()) else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def read_rows(data: bytes, result: RegistryImport):
    """The sheet's data rows as dicts of stripped strings by field (plus "row", the Excel row number),
    or None with header errors set."""
    try:
        first_row, rows = xlsx.read_sheet(data, max_rows=MAX_ROWS + 1, max_columns=MAX_COLUMNS)
    except xlsx.Refused as exc:
        if exc.code == "rows":
            result.header_errors.append(_("行数超过上限 %(n)d 行，请分批导入", n=MAX_ROWS))
        else:
            result.header_errors.append(exc.message)
        return None
    if not rows:
        result.header_errors.append(_("文件中没有数据行"))
        return None
    by_header: dict[str, int] = {}
    for index, text in enumerate(rows[0]):
        by_header.setdefault(_header(_text(text)), index)
    missing = [header for _f, header, required, _n in COLUMNS if required and header not in by_header]
    if missing:
        result.header_errors.append(
            _("表头缺少：%(cols)s。表头应为：%(all)s", cols="、".join(missing), all="、".join(HEADERS))
        )
        return None
    if len(rows) - 1 > MAX_ROWS:
        result.header_errors.append(_("行数超过上限 %(n)d 行，请分批导入", n=MAX_ROWS))
        return None
    positions = [(fname, by_header.get(header)) for fname, header, _r, _n in COLUMNS]
    out = []
    for offset, cells in enumerate(rows[1:], start=1):
        record = {
            fname: (_text(cells[index]) if index is not None and index < len(cells) else "")
            for fname, index in positions
        }
        if any(record.values()):  # Excel often carries formatted empty rows
            record["row"] = first_row + offset
            out.append(record)
    return out


def _cached(check):
    """``check`` (value → (normalised, error or None, warning or None)) applied once per distinct value."""
    results = {}

    def run(value):
        if value not in results:
            results[value] = check(value)
        return results[value]

    return run


def _credit(value):
    try:
        return validate_credit_code(value), None, None
    except ValidationError as exc:
        return value, str(exc.message), None


def _project_code(value):
    try:
        warnings = check_project_code(value)
    except ValidationError as exc:
        return value, str(exc.message), None
    return unicodedata.normalize("NFKC", value), None, "；".join(str(w) for w in warnings) or None


def _investment(raw):
    """(value or None, error or None) for the 投资规模(万元) text: the money rule of app.validators."""
    text = raw.replace(",", "")
    if text == "":
        return None, None
    if not NUMBER_RE.match(text):
        return None, str(_("投资规模(万元)应为数字"))
    try:
        return validate_money(text, maximum=MAX_INVESTMENT), None
    except ValidationError as exc:
        return None, str(_("投资规模(万元)：%(m)s", m=exc.message))


def validate(rows, known_regions):
    """Per-row error lists and warnings (None or text), in the order of ``rows``; the rows are
    normalised in place (project and credit codes, investment as Decimal, valid as bool)."""
    required = {f: str(_("请填写%(col)s", col=h)) for f, h, req, _n in COLUMNS if req}
    too_long = {f: (n, str(_("%(col)s不能超过%(n)d个字符", col=h, n=n))) for f, h, _r, n in COLUMNS if n}
    too_long.pop("region_code")
    region_shape = str(_("行政区划代码应为6位数字"))
    valid_word = str(_("是否有效应填“是”或“否”"))
    unknown_region = {}
    project_code, credit_code = _cached(_project_code), _cached(_credit)
    errors, warnings, rows_of_code = [], [], {}
    for record in rows:
        messages = []
        for fname, message in required.items():
            if record[fname] == "":
                messages.append(message)
        for fname, (limit, message) in too_long.items():
            if len(record[fname]) > limit:
                messages.append(message)
        warning = None
        if record["project_code"] != "":
            record["project_code"], error, warning = project_code(record["project_code"])
            if error and error not in messages:
                messages.append(error)
            rows_of_code.setdefault(record["project_code"], []).append(record["row"])
        region = record["region_code"]
        if region != "" and not REGION_RE.match(region):
            messages.append(region_shape)
        elif region != "" and region not in known_regions:
            if region not in unknown_region:
                unknown_region[region] = str(_("行政区划代码%(code)s不存在", code=region))
            messages.append(unknown_region[region])
        if record["credit_code"] != "":
            record["credit_code"], error, _none = credit_code(record["credit_code"])
            if error:
                messages.append(error)
        record["investment"], error = _investment(record["investment"])
        if error:
            messages.append(error)
        word = record["valid"].upper()
        if word not in VALID_WORDS:
            messages.append(valid_word)
        record["valid"] = VALID_WORDS.get(word, True)
        errors.append(messages)
        warnings.append(warning)
    for record, messages in zip(rows, errors):
        seen = rows_of_code.get(record["project_code"]) if record["project_code"] != "" else None
        if seen and len(seen) > 1:
            messages.append(str(_("项目代码在文件中重复（第%(rows)s行）", rows="、".join(str(r) for r in seen))))
    return errors, warnings


def _existing(codes):
    """The stored registry rows for these project codes, by code (batched IN lookups)."""
    columns = [RegistryProject.id] + [getattr(RegistryProject, f) for f in COMPARED]
    stored = {}
    for start in range(0, len(codes), BATCH):
        chunk = codes[start : start + BATCH]
        for row in db.session.execute(select(*columns).where(RegistryProject.project_code.in_(chunk))):
            stored[row.project_code] = row
    return stored


def _same(field_name, new, old):
    if field_name == "investment":
        return (None if old is None else Decimal(old).quantize(Decimal("0.01"))) == new
    if field_name == "valid":
        return bool(True if old is None else old) == new
    return (old or "") == (new or "")


def _diff(rows):
    """Mark each row new / changed / unchanged against the stored rows."""
    stored = _existing([r["project_code"] for r in rows])
    for record in rows:
        before = stored.get(record["project_code"])
        record["id"] = before.id if before is not None else None
        if before is None:
            record["action"] = "new"
        elif all(_same(f, record[f], getattr(before, f)) for f in COMPARED if f != "project_code"):
            record["action"] = "unchanged"
        else:
            record["action"] = "changed"
    return rows


def preview(data: bytes, user) -> RegistryImport:
    """Validate a file and compare it with the stored registry; changes nothing."""
    ensure_can_import(user)
    result = RegistryImport()
    rows = read_rows(data, result)
    if rows is None:
        return result
    result.total = len(rows)
    if not result.total:
        result.header_errors.append(_("文件中没有数据行"))
        return result
    known = set(db.session.execute(select(Region.code)).scalars())
    errors, warnings = validate(rows, known)
    failing = [(record, messages) for record, messages in zip(rows, errors) if messages]
    result.error_count = len(failing)
    result.errors = [RowError(r["row"], r["project_code"], m) for r, m in failing[:SHOWN_ERRORS]]
    warned = [(record, warning) for record, warning in zip(rows, warnings) if warning]
    result.warnings = [RowError(r["row"], r["project_code"], [w]) for r, w in warned[:SHOWN_ERRORS]]
    if result.error_count:
        return result
    _diff(rows)
    result.new = sum(1 for r in rows if r["action"] == "new")
    result.changed = sum(1 for r in rows if r["action"] == "changed")
    result.unchanged = result.total - result.new - result.changed
    result.frame = rows
    return result


def store_file(file_storage, user) -> str:
    """Keep the uploaded file between the preview and the import; returns its token.

    The token is the storage key: the user's id and 160 random bits, so only the uploader can use it.
    (Kept outside stored_file: the xlsx content type does not fit its content_type column.) The archive
    is checked first (app/untrusted/xlsx.py): a file it refuses is not stored."""
    ensure_can_import(user)
    _types, cap = UPLOAD_RULES[KIND]
    data = file_storage.stream.read(cap + 1)
    if not data:
        raise Invalid(_("文件为空"))
    if len(data) > cap:
        raise Invalid(_("文件过大，最大 %(mb)s MB", mb=cap // MB))
    if sniff(data[:8]) != "application/zip":
        raise Invalid(_("文件类型不允许：仅接受 XLSX"))
    try:
        xlsx.check_archive(data)
    except xlsx.Refused as exc:
        raise Invalid(exc.message) from exc
    token = f"ri{user.id}-{secrets.token_hex(20)}.xlsx"
    get_storage().write(token, data)
    return token


def preview_max_age():
    """Seconds a stored file waits for its import (IMPORT_PREVIEW_HOURS, default 24)."""
    return float(current_app.config.get("IMPORT_PREVIEW_HOURS", 24)) * 3600


def is_preview(key):
    return TOKEN_RE.match(key) is not None


def load_file(token, user) -> bytes:
    """The stored file of this user's preview; NotFound when it is unknown, another user's, or expired
    (an expired file is removed here)."""
    ensure_can_import(user)
    match = TOKEN_RE.match(str(token or ""))
    storage = get_storage()
    if match is None or int(match.group(1)) != user.id or not storage.exists(token):
        raise NotFound(_("导入文件不存在，请重新上传"))
    if clock.now().timestamp() - storage.modified(token) > preview_max_age():
        storage.delete(token)
        raise NotFound(_("导入文件已过期，请重新上传"))
    return storage.read(token)


def _records(rows, batch_name, now):
    for row in rows:
        record = {f: row[f] for f in TEXT_FIELDS + ["investment", "valid"]}
        for f in ("enterprise_name", "builder_name"):
            record[f] = record[f] or None
        record.update(import_batch=batch_name, imported_at=now, updated_at=now)
        yield record


def import_steps(token, user):
    """The import as a generator, for a progress display: validates the stored file again, then
    upserts it in one transaction in batches, yielding (rows written, rows to write) before the first
    batch and after each one. Returns the RegistryImport. Nothing is committed unless every batch
    succeeds; a caller that stops early (a closed connection) rolls everything back."""
    data = load_file(token, user)
    result = preview(data, user)
    if not result.ok:
        raise Invalid(_("文件有错误，未导入任何数据"))
    user_id = user.id
    rows = result.frame
    now = utcnow()
    batch_name = now.strftime("%Y%m%d%H%M%S") + f"-{user.id}"
    new = list(_records((r for r in rows if r["action"] == "new"), batch_name, now))
    for record in new:
        record["created_at"] = now
    changed_rows = [r for r in rows if r["action"] == "changed"]
    changed = list(_records(changed_rows, batch_name, now))
    for record, row in zip(changed, changed_rows):
        record["id"] = int(row["id"])
    batches = [(insert(RegistryProject), new[i : i + BATCH]) for i in range(0, len(new), BATCH)]
    batches += [(update(RegistryProject), changed[i : i + BATCH]) for i in range(0, len(changed), BATCH)]
    total, done = len(new) + len(changed), 0
    yield done, total
    try:
        with unit_of_work() as session:
            for statement, chunk in batches:
                session.execute(statement, chunk)
                done += len(chunk)
                yield done, total
    except GeneratorExit:
        db.session.rollback()
        raise
    get_storage().delete(token)
    from app.models import AppUser
    from app.security.audit import audit_event

    audit_event(
        "registry_import",
        f"{batch_name}: {result.new} new, {result.changed} changed, {result.unchanged} unchanged",
        user=db.session.get(AppUser, user_id),
    )
    result.frame = None
    return result


def run_import(token, user) -> RegistryImport:
    """import_steps run to the end."""
    steps = import_steps(token, user)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value
