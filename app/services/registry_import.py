"""住建厅项目表 import: the housing department's list of valid projects (basis of 项目总数 and 注册比率).

Two steps. ``preview`` reads the xlsx, checks the headers, validates every row (vectorised with
pandas; identifiers through app.validators, once per distinct value), finds duplicates inside the file
and compares with the stored rows (new / changed / unchanged). ``run_import`` re-validates the same
stored file and, only when no row has an error, upserts everything in one transaction, in batches:
all or nothing. Unchanged rows are not touched, so importing the same file twice changes nothing.
Only Admin and the province department may import (the registry covers the whole province).
"""

import functools
import io
import itertools
import re
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
from flask_babel import lazy_gettext as _
from lxml import etree
from sqlalchemy import insert, select, update

from app.extensions import db
from app.models import Region, RegistryProject
from app.models.base import utcnow
from app.models.enums import PartyKind
from app.security.scope import party_of
from app.storage import MB, UPLOAD_RULES, get_storage, sniff
from app.validators import ValidationError, check_project_code, validate_credit_code

from .base import Forbidden, Invalid, NotFound, unit_of_work

KIND = "registry_import"
TOKEN_RE = re.compile(r"^ri(\d+)-[0-9a-f]{40}\.xlsx$")
BATCH = 1000
MAX_ROWS = 100_000
SHOWN_ERRORS = 500

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
    frame: object = None  # the normalised rows, with the diff columns

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


NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


@functools.lru_cache(maxsize=256)
def _letters_index(letters):
    index = 0
    for ch in letters:
        index = index * 26 + ord(ch.upper()) - 64
    return index - 1


def _column_index(ref):
    return _letters_index(ref.rstrip("0123456789"))


def _first_sheet_path(archive):
    workbook = etree.fromstring(archive.read("xl/workbook.xml"))
    sheet = workbook.find(f"{NS}sheets/{NS}sheet")
    rel_id = sheet.get(f"{REL_NS}id")
    rels = etree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for rel in rels:
        if rel.get("Id") == rel_id:
            target = rel.get("Target")
            return target.lstrip("/") if target.startswith("/") else "xl/" + target
    raise KeyError(rel_id)


V = f"{NS}v"
T = f"{NS}t"
INLINE_T = f"{NS}is/{NS}t"


def _text_of(element):
    texts = [t.text for t in element.iter(T)]
    return texts[0] or "" if len(texts) == 1 else "".join(t or "" for t in texts)


def sheet_rows(data: bytes):
    """The first worksheet's rows as lists of strings.

    A streaming read of the sheet XML (lxml iterparse): openpyxl needs ~15 s for 50,000 rows, this
    about one. Numbers keep their stored text (an integral float loses its '.0')."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        shared = []
        if "xl/sharedStrings.xml" in archive.namelist():
            with archive.open("xl/sharedStrings.xml") as fh:
                for _event, si in etree.iterparse(fh, tag=f"{NS}si"):
                    shared.append(_text_of(si))
                    si.clear()
        with archive.open(_first_sheet_path(archive)) as fh:
            for _event, row in etree.iterparse(fh, tag=f"{NS}row"):
                values: list[str] = []
                for cell in row:
                    kind, ref = cell.get("t"), cell.get("r")
                    if kind == "inlineStr":
                        value = cell.findtext(INLINE_T)
                        if value is None:
                            value = _text_of(cell)
                    else:
                        v = cell.find(V)
                        value = (v.text or "") if v is not None else ""
                        if kind == "s":
                            value = shared[int(value)] if value else ""
                        elif kind in (None, "n") and value.endswith(".0"):
                            value = value[:-2]
                    position = _column_index(ref) if ref else len(values)
                    if position > len(values):
                        values.extend([""] * (position - len(values)))
                    values.append(value)
                row.clear()
                while row.getprevious() is not None:
                    del row.getparent()[0]
                yield values


def read_rows(data: bytes, result: RegistryImport):
    """The sheet as a DataFrame of stripped strings named by field, or None (header errors set)."""
    try:
        rows = list(itertools.islice(sheet_rows(data), MAX_ROWS + 2))  # header + one row too many
    except (KeyError, ValueError, IndexError, AttributeError, OSError, zipfile.BadZipFile, etree.XMLSyntaxError) as exc:
        result.header_errors.append(
            _("无法读取文件：请上传 Excel (.xlsx) 格式的住建厅项目表（%(err)s）", err=type(exc).__name__)
        )
        return None
    if not rows:
        result.header_errors.append(_("文件中没有数据行"))
        return None
    width = max(len(r) for r in rows)
    header = [h or f"_{i}" for i, h in enumerate(rows[0] + [""] * (width - len(rows[0])))]
    frame = pd.DataFrame([r + [""] * (width - len(r)) for r in rows[1:]], columns=header, dtype=object)
    by_header = {_header(h): h for h in frame.columns}
    missing = [header for _f, header, required, _n in COLUMNS if required and header not in by_header]
    if missing:
        result.header_errors.append(
            _("表头缺少：%(cols)s。表头应为：%(all)s", cols="、".join(missing), all="、".join(HEADERS))
        )
        return None
    if len(frame) > MAX_ROWS:
        result.header_errors.append(_("行数超过上限 %(n)d 行，请分批导入", n=MAX_ROWS))
        return None
    out = pd.DataFrame(index=frame.index)
    for fname, header, _required, _n in COLUMNS:  # type: ignore[assignment]  # header: the list above
        column = frame[by_header[header]] if header in by_header else pd.Series("", index=frame.index)
        out[fname] = column.fillna("").astype(str).str.strip()
    # Drop rows that are blank in every column (Excel often carries formatted empty rows).
    out = out[(out != "").any(axis=1)]
    out["row"] = out.index + 2
    return out


def _map_unique(series, check):
    """Apply ``check`` (value → (normalised, error or None, warnings)) once per distinct value."""
    results = {value: check(value) for value in series.unique()}
    return (
        series.map(lambda v: results[v][0]),
        series.map(lambda v: results[v][1]),
        series.map(lambda v: results[v][2]),
    )


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


def validate(frame, known_regions):
    """Per-row error and warning messages (Series of lists), and the normalised frame."""
    errors = pd.Series([[] for _ in range(len(frame))], index=frame.index, dtype=object)

    def flag(mask, message):
        if mask.any():
            errors[mask] = errors[mask].map(lambda msgs, m=message: msgs + [m])

    for fname, header, required, limit in COLUMNS:
        if required:
            flag(frame[fname] == "", str(_("请填写%(col)s", col=header)))
        if limit and fname != "region_code":
            flag(frame[fname].str.len() > limit, str(_("%(col)s不能超过%(n)d个字符", col=header, n=limit)))

    frame["project_code"], code_error, code_warning = _map_unique(frame["project_code"], _project_code)
    filled = frame["project_code"] != ""
    for message in code_error[code_error.notna() & filled].unique():
        flag(filled & (code_error == message), message)

    region = frame["region_code"]
    shape_ok = region.str.fullmatch(r"\d{6}")
    flag((region != "") & ~shape_ok, str(_("行政区划代码应为6位数字")))
    unknown = shape_ok & ~region.isin(known_regions)
    for code in region[unknown].unique():
        flag(unknown & (region == code), str(_("行政区划代码%(code)s不存在", code=code)))

    credit = frame["credit_code"]
    frame["credit_code"], credit_error, _none = _map_unique(credit, _credit)
    for message in credit_error[credit_error.notna() & (credit != "")].unique():
        flag((credit != "") & (credit_error == message), message)

    raw_investment = frame["investment"].str.replace(",", "", regex=False)
    investment = pd.to_numeric(raw_investment, errors="coerce")
    flag((raw_investment != "") & investment.isna(), str(_("投资规模(万元)应为数字")))
    flag(investment < 0, str(_("投资规模(万元)不能为负数")))
    frame["investment"] = investment.round(2)

    valid_word = frame["valid"].str.upper()
    flag(~valid_word.isin(VALID_WORDS), str(_("是否有效应填“是”或“否”")))
    frame["valid"] = valid_word.map(VALID_WORDS).fillna(True).astype(bool)

    dup = filled & frame["project_code"].duplicated(keep=False)
    if dup.any():
        rows_of = frame[dup].groupby("project_code")["row"].apply(lambda r: "、".join(str(x) for x in r))
        listing = frame.loc[dup, "project_code"].map(rows_of)
        errors[dup] = pd.Series(
            [
                msgs + [str(_("项目代码在文件中重复（第%(rows)s行）", rows=rows))]
                for msgs, rows in zip(errors[dup], listing)
            ],
            index=listing.index,
            dtype=object,
        )
    return errors, code_warning


def _existing(codes):
    """The stored registry rows for these project codes, as a frame (batched IN lookups)."""
    columns = [RegistryProject.id] + [getattr(RegistryProject, f) for f in COMPARED]
    parts = []
    for start in range(0, len(codes), BATCH):
        chunk = codes[start : start + BATCH]
        rows = db.session.execute(select(*columns).where(RegistryProject.project_code.in_(chunk))).all()
        parts.append(pd.DataFrame(rows, columns=["id"] + COMPARED))
    if not parts:
        return pd.DataFrame(columns=["id"] + COMPARED)
    return pd.concat(parts, ignore_index=True)


def _diff(frame):
    """Mark each row new / changed / unchanged against the stored rows (vectorised comparison)."""
    stored = _existing(frame["project_code"].tolist())
    stored = stored.rename(columns={f: f + "_db" for f in COMPARED if f != "project_code"})
    merged = frame.merge(stored, on="project_code", how="left")
    merged.index = frame.index
    is_new = merged["id"].isna()
    changed = pd.Series(False, index=frame.index)
    for f in COMPARED:
        if f == "project_code":
            continue
        before = merged[f + "_db"]
        if f == "investment":
            a = merged[f].fillna(-1.0)
            b = pd.to_numeric(before, errors="coerce").astype(float).round(2).fillna(-1.0)
        elif f == "valid":
            a, b = merged[f].astype(bool), before.fillna(True).astype(bool)
        else:
            a, b = merged[f].fillna(""), before.fillna("").astype(str)
        changed |= a != b
    frame["id"] = merged["id"]
    frame["action"] = "unchanged"
    frame.loc[~is_new & changed, "action"] = "changed"
    frame.loc[is_new, "action"] = "new"
    return frame


def preview(data: bytes, user) -> RegistryImport:
    """Validate a file and compare it with the stored registry; changes nothing."""
    ensure_can_import(user)
    result = RegistryImport()
    frame = read_rows(data, result)
    if frame is None:
        return result
    result.total = len(frame)
    if not result.total:
        result.header_errors.append(_("文件中没有数据行"))
        return result
    known = set(db.session.execute(select(Region.code)).scalars())
    errors, warnings = validate(frame, known)
    failing = errors[errors.map(len) > 0]
    result.error_count = len(failing)
    result.errors = [
        RowError(int(frame.at[i, "row"]), frame.at[i, "project_code"], msgs)
        for i, msgs in failing.head(SHOWN_ERRORS).items()
    ]
    warned = warnings[warnings.notna()]
    result.warnings = [
        RowError(int(frame.at[i, "row"]), frame.at[i, "project_code"], [w])
        for i, w in warned.head(SHOWN_ERRORS).items()
    ]
    if result.error_count:
        return result
    frame = _diff(frame)
    counts = frame["action"].value_counts()
    result.new, result.changed = int(counts.get("new", 0)), int(counts.get("changed", 0))
    result.unchanged = int(counts.get("unchanged", 0))
    result.frame = frame
    return result


def store_file(file_storage, user) -> str:
    """Keep the uploaded file between the preview and the import; returns its token.

    The token is the storage key: the user's id and 160 random bits, so only the uploader can use it.
    (Kept outside stored_file: the xlsx content type does not fit its content_type column.)"""
    ensure_can_import(user)
    _types, cap = UPLOAD_RULES[KIND]
    data = file_storage.stream.read(cap + 1)
    if not data:
        raise Invalid(_("文件为空"))
    if len(data) > cap:
        raise Invalid(_("文件过大，最大 %(mb)s MB", mb=cap // MB))
    if sniff(data[:8]) != "application/zip":
        raise Invalid(_("文件类型不允许：仅接受 XLSX"))
    token = f"ri{user.id}-{secrets.token_hex(20)}.xlsx"
    get_storage().write(token, data)
    return token


def load_file(token, user) -> bytes:
    ensure_can_import(user)
    match = TOKEN_RE.match(str(token or ""))
    if match is None or int(match.group(1)) != user.id or not get_storage().exists(token):
        raise NotFound(_("导入文件不存在，请重新上传"))
    return get_storage().read(token)


def _records(frame, batch_name, now):
    fields = TEXT_FIELDS + ["investment", "valid"]
    rows = frame[fields].astype(object).where(frame[fields].notna(), None)
    for record in rows.to_dict("records"):
        for f in ("enterprise_name", "builder_name"):
            record[f] = record[f] or None
        record["valid"] = bool(record["valid"])
        if record["investment"] is not None:
            record["investment"] = Decimal(str(round(float(record["investment"]), 2)))
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
    frame = result.frame
    now = utcnow()
    batch_name = now.strftime("%Y%m%d%H%M%S") + f"-{user.id}"
    new = list(_records(frame[frame["action"] == "new"], batch_name, now))
    for record in new:
        record["created_at"] = now
    changed_frame = frame[frame["action"] == "changed"]
    changed = list(_records(changed_frame, batch_name, now))
    for record, pk in zip(changed, changed_frame["id"].astype(int)):
        record["id"] = int(pk)
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
