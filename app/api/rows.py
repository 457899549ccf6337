"""Rows as the API shows them, and the JSON Schema of each: one description drives both.

A resource lists its columns as names, a relation's column dotted (``project.name``). Each column's
kind comes from the SQLAlchemy type: integer, number (Numeric and Float: a JSON number, never a
string), string, date (``YYYY-MM-DD``), date-time (ISO 8601 with offset, app/api/timefmt.py) and
boolean. The same kinds give the OpenAPI schema, so a response cannot disagree with its contract.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Numeric, String, Text, TypeDecorator
from sqlalchemy import inspect as sa_inspect

from .timefmt import isoformat


@dataclass(frozen=True)
class Col:
    name: str  # as the client names it: "status", "project.name"
    kind: str  # integer | number | string | date | date-time | boolean
    nullable: bool
    max_length: int | None = None
    relation: str | None = None  # "project" for "project.name"
    attr: str = ""  # the attribute on the (related) model
    model: type | None = None  # the model the attribute belongs to
    rel_nullable: bool = False  # the relation may be empty (its foreign key is nullable)


def column_kind(sqltype):
    if isinstance(sqltype, TypeDecorator):  # UtcDateTime and the like: the type they store
        sqltype = sqltype.impl_instance
    if isinstance(sqltype, Boolean):
        return "boolean"
    if isinstance(sqltype, DateTime):
        return "date-time"
    if isinstance(sqltype, Date):
        return "date"
    if isinstance(sqltype, Integer):
        return "integer"
    if isinstance(sqltype, (Numeric, Float)):
        return "number"
    if isinstance(sqltype, (String, Text)):
        return "string"
    return "string"


def describe(model, name):
    """The Col of ``name`` on ``model``; KeyError when it is neither a column nor relation.column."""
    if "." in name:
        rel_name, attr = name.split(".", 1)
        rel = sa_inspect(model).relationships.get(rel_name)
        if rel is None or rel.uselist:
            raise KeyError(name)
        target = rel.mapper.class_
        inner = describe(target, attr)
        # a view-only relation (the newest related row) may be empty even where its key is not
        local_nullable = rel.viewonly or any(c.nullable for c in rel.local_columns)
        return Col(name, inner.kind, inner.nullable, inner.max_length, rel_name, attr, target, local_nullable)
    column = sa_inspect(model).columns.get(name)
    if column is None:
        raise KeyError(name)
    length = getattr(column.type, "length", None)
    return Col(name, column_kind(column.type), bool(column.nullable), length, None, name, model)


def plain_value(value):
    """A Python value → its JSON form: Decimal → number, datetime → ISO 8601 with offset, date → ISO."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def serialize(obj, cols):
    """One row: plain columns at the top, a relation's columns in a nested object (null when the
    relation is empty)."""
    out = {}
    for col in cols:
        if col.relation is None:
            out[col.name] = plain_value(getattr(obj, col.attr))
            continue
        related = getattr(obj, col.relation)
        if related is None:
            out[col.relation] = None
            continue
        out.setdefault(col.relation, {})[col.attr] = plain_value(getattr(related, col.attr))
    return out


def value_schema(col, nullable=None):
    kind = col.kind
    schema = {"type": kind}
    if kind == "date":
        schema = {"type": "string", "format": "date"}
    elif kind == "date-time":
        schema = {"type": "string", "format": "date-time"}
    elif kind == "integer":
        schema = {"type": "integer"}
    if kind == "string" and col.max_length:
        schema["maxLength"] = col.max_length
    if col.nullable if nullable is None else nullable:
        schema["nullable"] = True
    return schema


def row_schema(cols):
    """JSON Schema (OpenAPI 3.0) of a row made of ``cols``. No property is required: ``columns`` in
    ``q`` asks for a subset; every property present has its exact type, and nothing else may appear."""
    props, nested = {}, {}
    for col in cols:
        if col.relation is None:
            props[col.name] = value_schema(col)
        else:
            nested.setdefault(col.relation, []).append(col)
    for rel, inner in nested.items():
        nullable = any(c.rel_nullable for c in inner)
        props[rel] = {
            "type": "object",
            "nullable": nullable,
            "properties": {c.attr: value_schema(c) for c in inner},
            "additionalProperties": False,
        }
    return {"type": "object", "properties": props, "additionalProperties": False}
