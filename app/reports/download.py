"""Every download's Content-Disposition: the UTF-8 file name (``filename*``, RFC 6266/5987) and beside
it an ASCII name for the clients that read only ``filename`` (``curl -OJ``, old mail gateways): the
name in pinyin (or its ASCII letters) plus the date, e.g. 保单台帐.xlsx → ``baodantaizhang-20261129.xlsx``.
"""

import re
from urllib.parse import quote

from flask import send_file

from app import clock

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def _pinyin(text):
    from pypinyin import Style, lazy_pinyin

    # Chinese runs become pinyin syllables; other characters pass through and are slugged below.
    return "".join(lazy_pinyin(text, style=Style.NORMAL, errors=lambda chars: [" " + chars + " "]))


def ascii_filename(name: str, day=None) -> str:
    """``name``'s ASCII twin: pinyin (or the ASCII letters) of the stem, a dash, the date, the
    extension; never empty (``download-20261129.xlsx``)."""
    stem, dot, ext = str(name).rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9]{1,8}", ext):
        stem, ext = str(name), ""
    slug = _NOT_SLUG.sub("-", _pinyin(stem).lower()).strip("-")[:80].strip("-") or "download"
    stamp = (day or clock.today()).strftime("%Y%m%d")
    return f"{slug}-{stamp}" + (f".{ext.lower()}" if ext else "")


def content_disposition(name: str, inline=False) -> str:
    """The header value: ``attachment; filename="<ascii>"; filename*=UTF-8''<percent-encoded name>``."""
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_filename(name)}\"; filename*=UTF-8''{quote(str(name), safe='')}"


def name_download(response, name, inline=False):
    """Set ``response``'s Content-Disposition for ``name`` (the one rule above); returns it."""
    response.headers["Content-Disposition"] = content_disposition(name, inline=inline)
    return response


def send_download(path_or_file, name, mimetype, inline=False, **kwargs):
    """``flask.send_file`` with the platform's file names and no caching of private files."""
    kwargs.setdefault("max_age", 0)
    response = send_file(path_or_file, mimetype=mimetype, as_attachment=not inline, download_name=name, **kwargs)
    response.headers["Cache-Control"] = "private, no-store"
    return name_download(response, name, inline=inline)
