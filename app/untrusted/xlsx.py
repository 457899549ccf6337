"""Excel workbooks from users (the registry import, and any later xlsx read), read with guards.

``check_archive(data)`` looks at the zip before anything opens it as a workbook: at most
``MAX_ENTRIES`` entries, no duplicate names, only stored or deflated entries, at most ``MAX_UNPACKED``
bytes unpacked in all, no entry above ``RATIO_FLOOR`` unpacking to more than ``MAX_RATIO`` times its
packed size, and every entry really unpacking to the size and CRC its directory entry declares (each
is inflated once and counted, nothing kept); a workbook part and a content-types part; no macros
(``vbaProject.bin``, ActiveX, a macro-enabled content type) and no links outside the file (external
workbook links, data connections, an external relationship other than a hyperlink).

``read_sheet(data, max_rows=, max_columns=)`` returns the first worksheet's rows, read by calamine
(python-calamine, a maintained Rust reader), in a sandboxed child process (app/untrusted/sandbox.py):
calamine allocates its grid from the cell positions it finds and aborts the whole process when an
allocation fails, so it must never see an unbounded sheet in a worker. Before calamine runs, every
part holding sheet data is scanned: the declared ``<dimension>``, every cell reference (at most three
letters and seven digits, ``XFD1048576`` long) and the largest row and column must fit the bounds the
caller gives, and a shared-string table must not declare more strings than it holds. The scan is a
byte search for the form every spreadsheet program writes (``<c r="B7"``); a sheet written otherwise
(references in single quotes, missing, or on prefixed elements) is scanned by an XML parser (expat)
instead, which follows calamine's own rules for cells without a reference. The child's memory and
time limits stand behind the scan for what it does not foresee.
"""

import io
import re
import struct
import zipfile
import zlib
from xml.parsers import expat

import python_calamine
from flask_babel import lazy_gettext as _
from lxml import etree

from . import sandbox

MB = 1024 * 1024
MAX_ENTRIES = 1000
MAX_UNPACKED = 200 * MB
MAX_RATIO = 200
RATIO_FLOOR = 1 * MB  # small parts (styles, themes) may compress better than that
MAX_SMALL_PART = 1 * MB  # [Content_Types].xml and each .rels part, parsed here
TIMEOUT = 60  # seconds for reading one workbook, in the child
MEMORY = 1024 * MB  # address space for the child beyond the worker's own
EXCEL_MAX_COLUMNS, EXCEL_MAX_ROWS = 16384, 1048576

REASONS = {
    "corrupt": lambda: _("Excel 文件已损坏"),
    "not_xlsx": lambda: _("文件类型不允许：仅接受 XLSX"),
    "macro": lambda: _("Excel 文件含有宏，不允许上传"),
    "external": lambda: _("Excel 文件含有外部链接或数据连接，不允许上传"),
    "entries": lambda n: _("Excel 文件包含的部件过多（最多 %(n)d 个），不允许上传", n=n),
    "too_large": lambda: _("Excel 文件解压后过大，不允许上传"),
    "ratio": lambda: _("Excel 文件的压缩比异常（疑似压缩炸弹），不允许上传"),
    "declared": lambda ref, rows, cols: _(
        "工作表声明的范围 %(ref)s 超过上限（最多 %(rows)d 行、%(cols)d 列）", ref=ref, rows=rows, cols=cols
    ),
    "bad_ref": lambda ref: _("工作表中的单元格位置 %(ref)s 无效", ref=ref),
    "rows": lambda n: _("工作表超过 %(n)d 行", n=n),
    "columns": lambda n, ref: _("工作表超过 %(n)d 列（单元格 %(ref)s）", n=n, ref=ref),
    "shared_strings": lambda: _("Excel 文件的共享字符串表声明的数量与内容不符"),
    "no_sheet": lambda: _("Excel 文件中没有工作表"),
    "unreadable": lambda: _("Excel 文件无法读取"),
    "timeout": lambda: _("Excel 文件过于复杂，无法在限定时间内读取"),
}


class Refused(ValueError):
    """``code`` is a key of REASONS, ``params`` its placeholders; ``detail`` is for logs and tests."""

    def __init__(self, code, params=None, detail=""):
        super().__init__(code, params or {}, detail)
        self.code, self.params, self.detail = code, params or {}, detail

    @property
    def message(self):
        return REASONS[self.code](**self.params)

    def __str__(self):
        return " ".join(str(part) for part in (self.code, self.params or "", self.detail) if part)


# ---------------------------------------------------------------- the archive


def check_archive(data: bytes):
    """Refuse a zip that is no workbook, holds macros or external links, or unpacks out of proportion."""
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise Refused("corrupt", detail=str(exc)) from exc
    if len(infos) > MAX_ENTRIES:
        raise Refused("entries", {"n": MAX_ENTRIES})
    names = [i.filename for i in infos]
    lower = [n.lower() for n in names]
    if len(set(lower)) != len(lower):
        raise Refused("corrupt", detail="duplicate entry names")
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise Refused("not_xlsx")
    if any(n.endswith("vbaproject.bin") or n.startswith("xl/activex/") for n in lower):
        raise Refused("macro")
    if any(n.startswith("xl/externallinks/") or n == "xl/connections.xml" for n in lower):
        raise Refused("external")
    if sum(i.file_size for i in infos) > MAX_UNPACKED:
        raise Refused("too_large")
    for info in infos:
        if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise Refused("corrupt", detail=f"{info.filename}: encrypted or unusual compression")
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise Refused("ratio", detail=info.filename)
    for info in infos:
        small = info.filename == "[Content_Types].xml" or info.filename.lower().endswith(".rels")
        content = _inflate(data, info, keep=small)
        if small:
            _check_small_part(info.filename, content)


def _inflate(data, info, keep=False):
    """Inflate one entry from its own bytes, counting: refuse more bytes than declared or a bad CRC."""
    header = data[info.header_offset : info.header_offset + 30]
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise Refused("corrupt", detail=f"{info.filename}: no local header")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    start = info.header_offset + 30 + name_length + extra_length
    raw = memoryview(data)[start : start + info.compress_size]
    if len(raw) != info.compress_size:
        raise Refused("corrupt", detail=f"{info.filename}: cut short")
    if keep and info.file_size > MAX_SMALL_PART:
        raise Refused("corrupt", detail=f"{info.filename}: too large")
    kept, size, crc = [], 0, 0
    if info.compress_type == zipfile.ZIP_STORED:
        chunks = [raw]
    else:
        chunks = _inflated_chunks(raw, info)
    for chunk in chunks:
        size += len(chunk)
        if size > info.file_size:
            raise Refused("ratio", detail=f"{info.filename}: unpacks beyond its declared size")
        crc = zlib.crc32(chunk, crc)
        if keep:
            kept.append(bytes(chunk))
    if size != info.file_size or crc != info.CRC:
        raise Refused("corrupt", detail=f"{info.filename}: size or CRC differs from the directory")
    return b"".join(kept) if keep else None


def _inflated_chunks(raw, info, step=MB):
    inflater = zlib.decompressobj(-15)
    for offset in range(0, len(raw), step):
        piece = raw[offset : offset + step]
        while piece and not inflater.eof:
            try:
                yield inflater.decompress(piece, step)
            except zlib.error as exc:
                raise Refused("corrupt", detail=f"{info.filename}: {exc}") from exc
            piece = inflater.unconsumed_tail
        if inflater.eof:
            return
    raise Refused("corrupt", detail=f"{info.filename}: deflate stream cut short")


_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
HYPERLINK = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"


def _check_small_part(name, content):
    if name == "[Content_Types].xml":
        if b"macroEnabled" in content or b"vbaProject" in content:
            raise Refused("macro")
        return
    try:
        root = etree.fromstring(content, _SAFE_XML)
    except etree.XMLSyntaxError as exc:
        raise Refused("corrupt", detail=f"{name}: {exc}") from exc
    for rel in root.iter("{*}Relationship"):
        if (rel.get("TargetMode") or "").lower() == "external" and rel.get("Type") != HYPERLINK:
            raise Refused("external", detail=f"{name}: {rel.get('Type')}")


# ---------------------------------------------------------------- the sheet


def read_sheet(data: bytes, *, max_rows: int, max_columns: int):
    """(Excel row number of the first row returned, rows): the first worksheet as lists of values
    (str, float, int, bool, date, datetime …; '' for an empty cell), leading empty rows and columns
    skipped. Raises Refused."""
    try:
        return sandbox.run(_read, data, max_rows, max_columns, timeout=TIMEOUT, memory=MEMORY)
    except sandbox.Timeout as exc:
        raise Refused("timeout") from exc
    except sandbox.Crashed as exc:
        raise Refused("unreadable", detail=str(exc)) from exc


def _read(data, max_rows, max_columns):
    check_archive(data)
    _check_sheets(data, max_rows, max_columns)
    try:
        with python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)) as workbook:
            if not workbook.sheet_names:
                raise Refused("no_sheet")
            sheet = workbook.get_sheet_by_index(0)
            start, end = sheet.start, sheet.end
            if end is not None:
                _bound(end[0] + 1, end[1] + 1, max_rows, max_columns, _ref(end[0] + 1, end[1] + 1))
            rows = sheet.to_python(skip_empty_area=True)
    except python_calamine.CalamineError as exc:
        raise Refused("unreadable", detail=f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    return (start[0] + 1 if start else 1), rows


def _check_sheets(data, max_rows, max_columns):
    """Bound every part with sheet data, and every shared-string table, before a reader sees them."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            content = archive.read(info)
            head = content[:4096]
            if SST_TAG.search(head):
                _check_shared_strings(content)
            if b"sheetData" in content:
                _check_encoding(head)
                _scan_sheet(content, max_rows, max_columns)


_ENCODING = re.compile(rb"""<\?xml[^>]*\bencoding\s*=\s*["']([^"']*)["']""")
SST_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sst[\s>]")
_SST_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sst[\s>][^>]*>")
_COUNT_ATTR = re.compile(rb"""(?<![\w.:-])(uniqueCount|count)\s*=\s*(["'])(.*?)\2""", re.S)
_SI = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s/>]")
_DIMENSION = re.compile(rb"""<(?:[A-Za-z_][\w.-]*:)?dimension\s[^>]*?(?<![\w.:-])ref\s*=\s*(["'])(.*?)\1""", re.S)
# Every cell start tag; the reference when it comes first in double quotes, as every writer puts it, else b"".
_CELL = re.compile(rb'<c(?=[\s/>])(?:\s+r="([^"<>]*)")?')
_PREFIXED_CELL = re.compile(rb"<[A-Za-z_][\w.-]*:c[\s/>]")
_BAD_REF = re.compile(rb"(?m)^(?![A-Za-z]{1,3}[1-9][0-9]{0,6}$).*$")
_REF = re.compile(r"^([A-Za-z]{1,3})([1-9][0-9]{0,6})$")


def _check_encoding(head):
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:64]:
        raise Refused("corrupt", detail="sheet XML is not UTF-8")
    match = _ENCODING.search(head)
    if match and match.group(1).lower() not in (b"utf-8", b"utf8"):
        raise Refused("corrupt", detail=f"sheet XML in {match.group(1)[:20]!r}")


def _check_shared_strings(content):
    """calamine reserves room for the declared number of strings: it must not exceed what is there."""
    start = _SST_START.search(content[:4096])
    held = len(_SI.findall(content))
    for attribute, _quote, value in _COUNT_ATTR.findall(start.group(0) if start else b""):
        if not value.isdigit() or (attribute == b"uniqueCount" and int(value) > held):
            raise Refused("shared_strings", detail=f"{attribute.decode()}={value[:20]!r}, {held} strings")


def _column(letters):
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index


def _ref(row, column):
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row}"


def _parse_ref(text):
    """'B7' → (7, 2); Refused for anything that is no reference inside Excel's grid."""
    match = _REF.match(text)
    if not match or _column(match.group(1)) > EXCEL_MAX_COLUMNS or int(match.group(2)) > EXCEL_MAX_ROWS:
        raise Refused("bad_ref", {"ref": text[:20]})
    return int(match.group(2)), _column(match.group(1))


def _bound(row, column, max_rows, max_columns, ref):
    if column > max_columns:
        raise Refused("columns", {"n": max_columns, "ref": ref[:20]})
    if row > max_rows:
        raise Refused("rows", {"n": max_rows})


def _scan_sheet(xml, max_rows, max_columns):
    before = xml[: xml.find(b"sheetData")]
    declared = _DIMENSION.search(before)
    if declared:
        text = declared.group(2).decode("ascii", "replace")
        corners = [_parse_ref(part) for part in text.split(":")]
        if max(r for r, _c in corners) > max_rows or max(c for _r, c in corners) > max_columns:
            raise Refused("declared", {"ref": text[:30], "rows": max_rows, "cols": max_columns})
    refs = _CELL.findall(xml)
    if b"" in refs or _PREFIXED_CELL.search(xml):
        return _scan_exactly(xml, max_rows, max_columns)
    if not refs:
        return
    joined = b"\n".join(refs)
    bad = _BAD_REF.search(joined)
    if bad:
        raise Refused("bad_ref", {"ref": bad.group(0)[:20].decode("ascii", "replace")})
    column = max(_column(letters.decode()) for letters in set(re.findall(rb"(?m)^[A-Za-z]+", joined)))
    row = max(map(int, re.findall(rb"[0-9]+", joined)))
    if column > EXCEL_MAX_COLUMNS or row > EXCEL_MAX_ROWS:
        raise Refused("bad_ref", {"ref": _ref(min(row, 9_999_999), column)[:20]})
    _bound(row, column, max_rows, max_columns, _ref(row, column))


def _scan_exactly(xml, max_rows, max_columns):
    """The same bounds through an XML parser, placing cells without a reference as calamine does:
    the next column of the row, in the row after the previous one when the row has no number."""
    state = {"row": 0, "column": 0}

    def start(name, attrs):
        local = name.rpartition(":")[2]
        if local == "row":
            number = attrs.get("r")
            if number is None:
                state["row"] += 1
            elif number.isdigit() and len(number) <= 7 and 0 < int(number) <= EXCEL_MAX_ROWS:
                state["row"] = int(number)
            else:
                raise Refused("bad_ref", {"ref": number[:20]})
            state["column"] = 0
        elif local == "c":
            ref = attrs.get("r")
            if ref is None:
                state["column"] += 1
                row, column = max(state["row"], 1), state["column"]
            else:
                row, column = _parse_ref(ref)
                state["column"] = column
            _bound(row, column, max_rows, max_columns, _ref(row, column))

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    try:
        parser.Parse(xml, True)
    except expat.ExpatError as exc:
        raise Refused("corrupt", detail=f"sheet XML: {exc}") from exc
