"""The list query language of the API, parsed strictly: a malformed ``q`` is 400, a bad filter 422.

``q`` is Rison (FAB's convention): ``(filters:!((col:status,opr:eq,value:pending_review)),
order_column:submitted_at,order_direction:asc,page:0,page_size:20,columns:!(id,status))``.

Filters (every condition must hold):

========== ================================================ =========================================
kind       operators                                        value
========== ================================================ =========================================
integer    eq ne gt ge lt le between in                     integer (between: ``!(low,high)``)
number     eq ne gt ge lt le between                        number
date       eq ne gt ge lt le between                        ``'YYYY-MM-DD'``
date-time  eq ne gt ge lt le between                        ISO 8601, offset optional (platform zone)
string     eq ne sw ew ct in                                text
boolean    eq ne                                            ``!t`` / ``!f``
relation   rel_o_m eq ne in                                 the related row's id
========== ================================================ =========================================

``neq`` is accepted for ``ne`` (FAB's name). ``eq``/``ne`` with ``!n`` (null) test for emptiness.
Anything else — an unknown column, an operator the column does not have, a value of the wrong kind,
a key of ``q`` that does not exist — answers 422 (filters) or 400 (the rest of ``q``) naming it.
"""

import base64
import binascii
import json
from decimal import Decimal, InvalidOperation

import prison
from flask import request
from flask_babel import lazy_gettext as _
from sqlalchemy import and_, or_

from app.validators import INT32_MAX

from .problems import Problem
from .timefmt import isoformat, parse_date, parse_instant

ORDERED = ("eq", "ne", "gt", "ge", "lt", "le", "between")
OPERATORS = {
    "integer": ORDERED + ("in",),
    "number": ORDERED,
    "date": ORDERED,
    "date-time": ORDERED,
    "string": ("eq", "ne", "sw", "ew", "ct", "in"),
    "boolean": ("eq", "ne"),
    "relation": ("rel_o_m", "eq", "ne", "in"),
}
ALIASES = {"neq": "ne"}
Q_KEYS = {"filters", "order_column", "order_direction", "page", "page_size", "columns", "keys"}
MAX_IN = 200
MAX_FILTERS = 20
MAX_OFFSET = 1_000_000
INT64_MAX = 2**63 - 1


def parse_q():
    """The ``q`` argument as a dict ({} when absent); 400 on anything that is not a Rison/JSON object."""
    raw = request.args.get("q")
    if raw is None or raw == "":
        return {}
    try:
        value = prison.loads(raw)
    except Exception:
        try:
            value = json.loads(raw)
        except Exception:
            raise Problem("invalid_query", _("参数 q 不是有效的 Rison 或 JSON")) from None
    if not isinstance(value, dict):
        raise Problem("invalid_query", _("参数 q 应为对象，如 (page:0,page_size:20)"))
    unknown = sorted(set(value) - Q_KEYS)
    if unknown:
        raise Problem(
            "invalid_query",
            _("参数 q 含有未知的键：%(keys)s", keys=", ".join(map(str, unknown))),
            errors={f"q.{k}": [_("未知的键")] for k in unknown},
        )
    return value


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def page_args(q, default_size, cap):
    """(page, page_size, requested_size_or_None_when_not_capped). Integers only; 400 otherwise."""
    page = q.get("page", 0)
    size = q.get("page_size", default_size)
    if not _is_int(page) or page < 0:
        raise Problem("invalid_query", _("page 应为不小于 0 的整数"), errors={"q.page": [_("应为不小于 0 的整数")]})
    if not _is_int(size) or size < 1:
        raise Problem(
            "invalid_query", _("page_size 应为不小于 1 的整数"), errors={"q.page_size": [_("应为不小于 1 的整数")]}
        )
    requested = None
    if size > cap:
        requested, size = size, cap
    if page * size > MAX_OFFSET:
        raise Problem(
            "invalid_query",
            _("页码过大：最多翻到第 %(n)s 条，更多数据请用 changes 接口的游标", n=MAX_OFFSET),
            errors={"q.page": [_("页码过大")]},
        )
    return page, size, requested


def order_args(q, order_columns, default):
    column = q.get("order_column", None)
    direction = q.get("order_direction", None)
    if column is None:
        column, default_dir = default
        direction = direction or default_dir
    if not isinstance(column, str) or column not in order_columns:
        raise Problem(
            "invalid_query",
            _("不能按 %(col)s 排序；可排序的列：%(cols)s", col=str(column), cols=", ".join(order_columns)),
            errors={"q.order_column": [_("不可排序的列")]},
        )
    direction = direction or "asc"
    if direction not in ("asc", "desc"):
        raise Problem(
            "invalid_query",
            _("order_direction 应为 asc 或 desc"),
            errors={"q.order_direction": [_("应为 asc 或 desc")]},
        )
    return column, direction


def column_args(q, allowed):
    cols = q.get("columns")
    if cols is None:
        return None
    if not isinstance(cols, list) or not cols or not all(isinstance(c, str) for c in cols):
        raise Problem("invalid_query", _("columns 应为列名列表"), errors={"q.columns": [_("应为列名列表")]})
    unknown = [c for c in cols if c not in allowed and not any(a.startswith(c + ".") for a in allowed)]
    if unknown:
        raise Problem(
            "invalid_query",
            _("未知的列：%(cols)s", cols=", ".join(unknown)),
            errors={"q.columns": [_("未知的列：%(cols)s", cols=", ".join(unknown))]},
        )
    return cols


# ---------------------------------------------------------------- filters
def _bad(index, field, message):
    name = f"filters[{index}].{field}"
    raise Problem(
        "invalid_filter", _("筛选条件 %(name)s 无效：%(why)s", name=name, why=message), errors={name: [message]}
    )


def _convert(kind, value, index, spec):
    """One filter value of ``kind`` → the Python value to compare with; 422 naming the filter."""
    try:
        if kind in ("integer", "relation"):
            if not _is_int(value):
                raise ValueError
            limit = INT64_MAX if spec.big else INT32_MAX
            if not -limit <= value <= limit:
                raise OverflowError
            return value
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError
            number = Decimal(str(value))
            if not number.is_finite() or abs(number) >= Decimal("1e15"):
                raise ValueError
            return number
        if kind == "date":
            return parse_date(value)
        if kind == "date-time":
            return parse_instant(value)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise ValueError
            return value
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ValueError
        text = str(value)
        if spec.max_length and len(text) > spec.max_length:
            _bad(index, "value", _("文本过长（最多 %(n)s 个字符）", n=spec.max_length))
        return text
    except OverflowError:
        _bad(index, "value", _("数值超出范围"))
    except (ValueError, TypeError, InvalidOperation):
        expected = {
            "integer": _("应为整数"),
            "relation": _("应为记录 id（整数）"),
            "number": _("应为数字"),
            "date": _("应为日期 YYYY-MM-DD"),
            "date-time": _("应为 ISO 8601 时间，如 2026-05-01T08:00:00+08:00"),
            "boolean": _("应为 !t 或 !f"),
            "string": _("应为文本"),
        }[kind]
        _bad(index, "value", expected)


class FilterSpec:
    """What one filterable column allows: its kind, the SQL expression compared, its operators."""

    def __init__(self, name, kind, expr, max_length=None, big=False):
        self.name, self.kind, self.expr, self.max_length, self.big = name, kind, expr, max_length, big

    @property
    def operators(self):
        return OPERATORS[self.kind]


def criteria(raw_filters, specs):
    """The SQL criteria of the ``filters`` list; 422 naming the first bad filter."""
    if raw_filters is None:
        return []
    if not isinstance(raw_filters, list):
        raise Problem("invalid_filter", _("filters 应为列表"), errors={"filters": [_("应为列表")]})
    if len(raw_filters) > MAX_FILTERS:
        raise Problem("invalid_filter", _("筛选条件过多"), errors={"filters": [_("最多 %(n)s 个", n=MAX_FILTERS)]})
    out = []
    for i, f in enumerate(raw_filters):
        if not isinstance(f, dict) or set(f) - {"col", "opr", "value"} or "col" not in f or "opr" not in f:
            _bad(i, "col", _("每个筛选条件应为 (col:…,opr:…,value:…)"))
        spec = specs.get(f["col"]) if isinstance(f["col"], str) else None
        if spec is None:
            _bad(i, "col", _("不能按 %(col)s 筛选；可用：%(cols)s", col=str(f["col"]), cols=", ".join(sorted(specs))))
        opr = ALIASES.get(f["opr"], f["opr"]) if isinstance(f["opr"], str) else None
        if opr not in spec.operators:
            _bad(
                i,
                "opr",
                _(
                    "列 %(col)s 不支持运算符 %(opr)s；可用：%(ops)s",
                    col=spec.name,
                    opr=str(f["opr"]),
                    ops=", ".join(spec.operators),
                ),
            )
        if "value" not in f:
            _bad(i, "value", _("缺少 value"))
        out.append(_criterion(spec, opr, f["value"], i))
    return out


def _criterion(spec, opr, value, i):
    e = spec.expr
    if value is None:
        if opr == "eq":
            return e.is_(None)
        if opr == "ne":
            return e.isnot(None)
        _bad(i, "value", _("只有 eq 和 ne 可与空值 !n 比较"))
    if opr == "between":
        if not isinstance(value, list) or len(value) != 2:
            _bad(i, "value", _("between 的值应为两个值的列表 !(下限,上限)"))
        low, high = (_convert(spec.kind, v, i, spec) for v in value)
        if low > high:
            _bad(i, "value", _("下限大于上限"))
        return and_(e >= low, e <= high)
    if opr == "in":
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_IN:
            _bad(i, "value", _("in 的值应为 1 至 %(n)s 个值的列表", n=MAX_IN))
        return e.in_([_convert(spec.kind, v, i, spec) for v in value])
    v = _convert(spec.kind, value, i, spec)
    if opr in ("eq", "rel_o_m"):
        return e == v
    if opr == "ne":
        return or_(e != v, e.is_(None))
    if opr == "gt":
        return e > v
    if opr == "ge":
        return e >= v
    if opr == "lt":
        return e < v
    if opr == "le":
        return e <= v
    escaped = v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if opr == "sw":
        return e.like(escaped + "%", escape="\\")
    if opr == "ew":
        return e.like("%" + escaped, escape="\\")
    return e.like("%" + escaped + "%", escape="\\")  # ct


# ---------------------------------------------------------------- the sync cursor
def encode_cursor(updated_at, row_id):
    """An opaque, URL-safe position after (updated_at, id)."""
    raw = json.dumps([updated_at.isoformat(timespec="microseconds"), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token):
    from datetime import datetime

    try:
        padded = token + "=" * (-len(token) % 4)
        stamp, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not _is_int(row_id) or not 0 <= row_id <= INT64_MAX:
            raise ValueError
        return datetime.fromisoformat(stamp), row_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
        raise Problem(
            "invalid_query", _("cursor 无效：请使用上一页返回的 next_cursor"), errors={"cursor": [_("无效")]}
        ) from None


def since_arg():
    raw = request.args.get("since")
    if raw is None or raw == "":
        return None
    try:
        return parse_instant(raw)
    except (ValueError, TypeError):
        raise Problem(
            "invalid_query",
            _("since 应为 ISO 8601 时间，如 2026-05-01T08:00:00+08:00"),
            errors={"since": [_("应为 ISO 8601 时间")]},
        ) from None


__all__ = ["parse_q", "page_args", "order_args", "column_args", "criteria", "FilterSpec", "isoformat"]
