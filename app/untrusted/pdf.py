"""PDF uploads read by a real parser (qpdf, through pikepdf), in a sandboxed child process.

A licence scan or a policy has no business running code, so a PDF with active content is refused, not
cleaned. ``check(data)`` raises ``Refused`` (its ``message`` says why) when:

- qpdf cannot read the file, even by rebuilding its cross-reference table, or the file is cut short (no
  ``%%EOF`` at the end), or it has no page tree;
- it is encrypted (whether or not it opens without a password: its content could not be inspected as
  a viewer decrypts it);
- any object holds JavaScript (``/JS`` or ``/JavaScript``, a JavaScript action, the document's
  JavaScript name tree), a Launch, SubmitForm, ImportData, GoToE or RichMediaExecute action, an embedded
  file (``/EmbeddedFiles``, ``/EF``, an EmbeddedFile stream, a FileAttachment annotation), an XFA form
  or RichMedia;
- an action runs by itself (``/OpenAction``, or an ``/AA`` trigger of the document, a page, an
  annotation or a form field, following ``/Next`` chains) and is anything but moving within the
  document (GoTo, Named, Hide, SetOCGState, Trans, Thread): a URI or GoToR opened on display is refused;
- a stream cannot be decoded: every stream but an image's pixels is decoded through all its filters
  (Flate, LZW, ASCIIHex, ASCII85, RunLength), with at most ``STREAM_LIMIT`` bytes for one stream and
  ``DECODED_LIMIT`` for all; a filter outside the standard ones is refused.

What qpdf reads is walked twice: the objects the cross-reference table names (a viewer's view), and
the objects qpdf finds when it rebuilds the table from the file's bytes (what a viewer repairing the
file finds, such as an object outside the table). Object streams are walked through qpdf, and each
slot of an object stream that no table entry names is parsed and walked on its own. Names are compared
after qpdf decoded their ``#xx`` escapes; strings are never mistaken for structure.
"""

import io

import pikepdf
from flask_babel import lazy_gettext as _

from . import sandbox

MB = 1024 * 1024
TIMEOUT = 20  # seconds for one file, in the child
MEMORY = 768 * MB  # address space for the child beyond the worker's own
STREAM_LIMIT = 64 * MB  # decoded bytes of one stream
DECODED_LIMIT = 256 * MB  # decoded bytes of all streams of the file
MAX_ORPHAN_SLOTS = 10_000

REASONS = {
    "broken": _("PDF 文件不完整或已损坏"),
    "encrypted": _("PDF 文件已加密，不允许上传，请上传未加密的文件"),
    "javascript": _("PDF 文件含有 JavaScript 脚本，不允许上传"),
    "launch": _("PDF 文件含有启动外部程序的动作（Launch），不允许上传"),
    "embedded": _("PDF 文件含有嵌入文件（附件），不允许上传"),
    "xfa": _("PDF 文件含有 XFA 表单，不允许上传"),
    "richmedia": _("PDF 文件含有多媒体内容（RichMedia），不允许上传"),
    "submit": _("PDF 文件含有提交或导入数据的动作（SubmitForm、ImportData），不允许上传"),
    "gotoe": _("PDF 文件含有打开嵌入文档的动作（GoToE），不允许上传"),
    "auto_action": _("PDF 文件含有打开或浏览时自动执行的动作，不允许上传"),
    "too_large": _("PDF 文件压缩内容过大，不允许上传"),
    "timeout": _("PDF 文件过于复杂，无法在限定时间内完成检查，不允许上传"),
}


class Refused(ValueError):
    """``code`` is a key of REASONS; ``detail`` names the object or key, for logs and tests."""

    def __init__(self, code, detail=""):
        super().__init__(code, detail)
        self.code, self.detail = code, detail

    @property
    def message(self):
        return REASONS[self.code]

    def __str__(self):
        return f"{self.code}: {self.detail}" if self.detail else self.code


# Action types refused wherever they appear, and the ones allowed to run by themselves.
ACTIONS = {
    "/JavaScript": "javascript",
    "/Launch": "launch",
    "/SubmitForm": "submit",
    "/ImportData": "submit",
    "/GoToE": "gotoe",
    "/RichMediaExecute": "richmedia",
}
QUIET_ACTIONS = {"/GoTo", "/Named", "/Hide", "/SetOCGState", "/Trans", "/Thread"}
KEYS = {
    "/JS": "javascript",
    "/JavaScript": "javascript",
    "/EmbeddedFiles": "embedded",
    "/EF": "embedded",
    "/XFA": "xfa",
    "/RichMediaContent": "richmedia",
    "/RichMediaSettings": "richmedia",
}
KINDS = {
    ("/Type", "/EmbeddedFile"): "embedded",
    ("/Subtype", "/FileAttachment"): "embedded",
    ("/Subtype", "/RichMedia"): "richmedia",
}
GENERAL_FILTERS = {
    "/FlateDecode",
    "/Fl",
    "/LZWDecode",
    "/LZW",
    "/ASCIIHexDecode",
    "/AHx",
    "/ASCII85Decode",
    "/A85",
    "/RunLengthDecode",
    "/RL",
}
IMAGE_FILTERS = {"/DCTDecode", "/DCT", "/JPXDecode", "/JBIG2Decode", "/CCITTFaxDecode", "/CCF"}
CONTAINERS = (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)


def check(data: bytes):
    """Refuse a PDF qpdf cannot read or that holds active content; the parsing runs in a child."""
    try:
        sandbox.run(inspect, data, timeout=TIMEOUT, memory=MEMORY)
    except sandbox.Timeout as exc:
        raise Refused("timeout") from exc
    except sandbox.Crashed as exc:
        raise Refused("too_large" if "memory" in str(exc) else "broken", str(exc)) from exc


def inspect(data: bytes):
    """The whole inspection (in the calling process: ``check`` runs it in a child). Raises Refused."""
    if b"%%EOF" not in data[-2048:]:
        raise Refused("broken", "no %%EOF at the end")
    pikepdf.settings.set_qpdf_limits(
        flate_max_memory=STREAM_LIMIT,
        run_length_max_memory=STREAM_LIMIT,
        png_max_memory=STREAM_LIMIT,
        tiff_max_memory=STREAM_LIMIT,
        max_stream_filters=8,
    )
    budget = [DECODED_LIMIT]
    try:
        with _open(data) as pdf:
            _walk(pdf, budget)
        if b"startxref" in data:
            # Rebuilt from the objects in the file: the same length, so every offset stays valid, and an
            # end marker after the last object (qpdf reads an object ending the file as null).
            with _open(data.replace(b"startxref", b"startxr_f") + b"\n%%EOF\n") as rebuilt:
                _walk(rebuilt, budget)
    except Refused:
        raise
    except pikepdf.PasswordError as exc:
        raise Refused("encrypted") from exc
    except MemoryError as exc:
        raise Refused("too_large", "memory") from exc
    except (pikepdf.PdfError, ValueError, TypeError, KeyError, RuntimeError, RecursionError) as exc:
        if "memory limit" in str(exc):
            raise Refused("too_large", str(exc)[:200]) from exc
        raise Refused("broken", f"{type(exc).__name__}: {str(exc)[:200]}") from exc


def _open(data):
    return pikepdf.open(io.BytesIO(data))


def _walk(pdf, budget):
    if pdf.is_encrypted:
        raise Refused("encrypted")
    xref = pdf.get_xref_table()
    for obj in pdf.objects:
        if isinstance(obj, CONTAINERS):
            _inspect_tree(obj)
        if isinstance(obj, pikepdf.Stream):
            decoded = _decode(obj, budget)
            if decoded is not None and obj.get("/Type") == pikepdf.Name.ObjStm:
                _orphan_slots(obj, decoded, xref)


def _inspect_tree(root):
    """Every dictionary in ``root`` and in its direct children (indirect ones are walked on their own)."""
    stack = [root]
    while stack:
        obj = stack.pop()
        if isinstance(obj, pikepdf.Array):
            children = list(obj)
        else:
            _inspect_dict(obj)
            children = [value for _key, value in obj.items()]
        stack.extend(c for c in children if isinstance(c, CONTAINERS) and not c.is_indirect)


def _inspect_dict(d):
    keys = set(d.keys())
    for key in sorted(keys & KEYS.keys()):
        raise Refused(KEYS[key], key)
    for (field, value), code in KINDS.items():
        if field in keys and d[field] == pikepdf.Name(value):
            raise Refused(code, f"{field} {value}")
    if "/S" in keys and isinstance(d["/S"], pikepdf.Name) and str(d["/S"]) in ACTIONS:
        raise Refused(ACTIONS[str(d["/S"])], f"/S {d['/S']}")
    if "/OpenAction" in keys:
        _automatic(d["/OpenAction"], "/OpenAction")
    if "/AA" in keys and isinstance(d["/AA"], pikepdf.Dictionary):
        for trigger, action in d["/AA"].items():
            _automatic(action, f"/AA {trigger}")


def _automatic(action, where):
    """An action run without a click, with its /Next chain: only moving within the document."""
    stack, seen = [action], set()
    while stack:
        act = stack.pop()
        if isinstance(act, pikepdf.Array):  # a destination, or the /Next array of actions
            stack.extend(a for a in act if isinstance(a, pikepdf.Dictionary))
            continue
        if not isinstance(act, pikepdf.Dictionary):
            continue
        if act.is_indirect:
            if act.objgen in seen:
                continue
            seen.add(act.objgen)
        kind = str(act.get("/S", ""))
        if kind in ACTIONS:
            raise Refused(ACTIONS[kind], f"{where} {kind}")
        if kind and kind not in QUIET_ACTIONS:
            raise Refused("auto_action", f"{where} {kind}")
        if "/Next" in act:
            stack.append(act["/Next"])


def _filters(stream):
    value = stream.get("/Filter")
    if value is None:
        return []
    return [str(f) for f in value] if isinstance(value, pikepdf.Array) else [str(value)]


def _decode(stream, budget):
    """The decoded bytes of a stream (None for image data, left to its codec), counted against the budget."""
    filters = _filters(stream)
    unknown = [f for f in filters if f not in GENERAL_FILTERS and f not in IMAGE_FILTERS]
    if unknown:
        raise Refused("broken", f"unknown filter {unknown[0]}")
    pixels = any(f in IMAGE_FILTERS for f in filters) or stream.get("/Subtype") == pikepdf.Name.Image
    if pixels and stream.get("/Type") != pikepdf.Name.ObjStm:
        return None
    decoded = stream.read_bytes()
    budget[0] -= len(decoded)
    if len(decoded) > STREAM_LIMIT or budget[0] < 0:
        raise Refused("too_large", f"{len(decoded)} decoded bytes")
    return decoded


def _orphan_slots(stream, decoded, xref):
    """Objects of an object stream that no cross-reference entry names, each parsed and walked alone."""
    number = stream.objgen[0]
    try:
        count, first = int(stream.get("/N", 0)), int(stream.get("/First", 0))
        header = [int(t) for t in decoded[:first].split()[: 2 * count]]
    except (TypeError, ValueError) as exc:
        raise Refused("broken", f"object stream {number}: bad header") from exc
    slots = sorted(zip(header[0::2], header[1::2], range(count)), key=lambda s: s[1])
    ends = [offset for _num, offset, _i in slots[1:]] + [len(decoded) - first]
    orphans = []
    for (num, offset, index), end in zip(slots, ends):
        entry = xref.get((num, 0))
        named = entry is not None and entry.type == 2 and entry.obj_stream_number == number
        if not (named and entry.obj_stream_index == index):
            orphans.append(decoded[first + offset : first + end])
    if len(orphans) > MAX_ORPHAN_SLOTS:
        raise Refused("broken", f"object stream {number}: {len(orphans)} unnamed objects")
    for body in orphans:
        with _open(_alone(body)) as pdf:
            obj = pdf.get_object((4, 0))
            if isinstance(obj, CONTAINERS):
                _inspect_tree(obj)


def _alone(body):
    """A one-page PDF whose object 4 is ``body``: qpdf parses it with references it can resolve."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 1 1] >>",
        body.strip() or b"null",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, text in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + text + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()
