"""FastSQLAInterface: FAB's SQLAInterface with list queries that stay fast on million-row tables.

What stock ``SQLAInterface.query`` does on a list page, and what this class does instead:

- relationships shown in the list (``enterprise``, ``project.name``, the relations a listed Python
  property reads, …) are lazy-loaded per row (one query per row and relation): here they are joined
  into the page query (a page is at most ``max_page_size`` rows), so the query count does not grow
  with the page size;
- related-field dropdowns (``query(filters)`` without a page size) offer at most 500 rows;
- an exact ``COUNT(*)`` on every page: here an unfiltered large table is counted from the planner's
  estimate (``pg_class.reltuples``, shown "约 N 项") and a filtered list by a bounded count
  (``SELECT count(*) FROM (… LIMIT 10001)``, shown "10000+" beyond the bound) carried as a scalar
  subquery of the page query itself;
- ``OFFSET`` scans: here deep pages select only the ids (an index-only scan of the scope index) and
  then load those rows; the offset itself is bounded by the view (``max_offset``), and the default
  order (``id desc``) has a keyset path (``after=<id>``: ``WHERE id < :after``) that costs the same
  at any depth.

The list widget and FAB's list template keep working: the count is an ``int`` (pagination does its
arithmetic with it) that renders as its label.
"""

import time

from flask import g, has_request_context
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext, lazy_gettext
from markupsafe import escape
from sqlalchemy import func, select, text
from sqlalchemy.orm import RelationshipProperty, defaultload, joinedload

COUNT_BOUND = 10_000  # filtered lists count at most this many rows (+1 to know there are more)
ESTIMATE_FROM = 50_000  # an unfiltered table whose estimate is above this is not counted exactly
DEFERRED_FROM = 1_000  # from this offset on, page ids first (index-only), then load the rows
DROPDOWN_LIMIT = 500  # rows a related-field select offers (a million-option <select> helps nobody)
ESTIMATE_TTL = 60.0  # seconds a table estimate is reused within a process

_LOADERS = {"defaultload": defaultload, "joinedload": joinedload}
_estimates = {}  # table name -> (expires_at, reltuples)


class ListCount(int):
    """A row count for pagination arithmetic that renders as its label (约 N 项 / 10000+)."""

    def __new__(cls, value, label):
        obj = super().__new__(cls, value)
        obj.label = label
        return obj

    def __str__(self):
        return str(self.label)

    def __html__(self):
        return str(escape(str(self.label)))


def approximate(value):
    return ListCount(value, gettext("约 %(n)s", n=f"{value:,}"))


def at_least(value):
    return ListCount(value + 1, f"{value}+")


def table_estimate(session, table_name):
    """The planner's row estimate of a table (PostgreSQL), cached briefly; None elsewhere."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    now = time.monotonic()
    hit = _estimates.get(table_name)
    if hit and hit[0] > now:
        return hit[1]
    value = session.execute(
        text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table_name}
    ).scalar()
    value = int(value) if value is not None and value >= 0 else None
    _estimates[table_name] = (now + ESTIMATE_TTL, value)
    return value


# The text a related row is searched by (its name, number…), per related model.
SEARCH_TEXT = {
    "Enterprise": "name",
    "Project": "name",
    "Policy": "policy_no",
    "DispatchOrder": "order_no",
    "PreventionOrg": "name",
    "Expert": "name",
    "Claim": "remark",
    "Hazard": "description",
    "Application": None,
}


class FilterRelatedTextContains(BaseFilter):
    """A relation to a large table searched by the related row's text (``enterprise`` → its name).

    Replaces FAB's relation filter, whose search form renders every related row into a select on
    each list page (a million options at 150× the province)."""

    name = lazy_gettext("包含")
    arg_name = "ct"

    def apply(self, query, value):
        relation = getattr(self.model, self.column_name)
        target = relation.property.mapper.class_
        text_column = getattr(target, SEARCH_TEXT[target.__name__])
        if isinstance(value, (list, tuple)):
            value = value[0] if value else ""
        return query.filter(relation.has(text_column.contains(str(value or ""), autoescape=True)))

    def __repr__(self):
        return str(self.name)


def keyset_after():
    """The keyset cursor of the current list request (set by ScopedModelView), or None."""
    return g.get("_list_after") if has_request_context() else None


class FastSQLAInterface(SQLAInterface):
    """Drop-in SQLAInterface for list views (see the module docstring)."""

    def __init__(self, obj, session=None, list_columns=None):
        super().__init__(obj, session)
        self.eager_columns = list(list_columns or [])

    @classmethod
    def from_interface(cls, datamodel, list_columns=None):
        return cls(datamodel.obj, datamodel._session, list_columns=list_columns)

    def get_related_interface(self, col_name):
        """One interface per relation, built once: FAB's forms call this for every option of a select
        (building an interface walks the whole mapper), which made a 500-option dropdown cost ~200 ms."""
        cache = self.__dict__.setdefault("_related_interfaces", {})
        if col_name not in cache:
            cache[col_name] = FastSQLAInterface(self.get_related_model(col_name), self._session)
        return cache[col_name]

    # -- eager loading -------------------------------------------------------------------------
    def _relation(self, model, name):
        prop = model.__mapper__.get_property(name) if model.__mapper__.has_property(name) else None
        return prop if isinstance(prop, RelationshipProperty) else None

    def eager_options(self):
        """Loader options for every relationship the listed columns reach (dotted paths followed)."""
        options, seen = [], set()
        for column in self.eager_columns:
            parts = column.split(".")
            model, option, path = self.obj, None, []
            for part in parts:
                prop = self._relation(model, part)
                if prop is None:
                    if part == parts[0] and self.is_property_or_function(part):
                        options.extend(self._property_options(part, seen))
                    break
                path.append(part)
                attr = getattr(model, part)
                if prop.lazy == "joined":
                    loader, eager_already = "defaultload", True  # the mapping joins it already
                else:  # joined even for a collection (a page is at most 100 rows): no query of its own
                    loader, eager_already = "joinedload", False
                option = _LOADERS[loader](attr) if option is None else getattr(option, loader)(attr)
                model = prop.mapper.class_
                if not eager_already and tuple(path) not in seen:
                    seen.add(tuple(path))
                    options.append(option)
        return options

    def _property_options(self, name, seen):
        """A Python property in the list: load the relations its code reads (``org or company``)."""
        fget = getattr(getattr(self.obj, name, None), "fget", None)
        names = set(getattr(getattr(fget, "__code__", None), "co_names", ()))
        options = []
        for prop in self.obj.__mapper__.relationships:
            if prop.key not in names or (prop.key,) in seen or prop.lazy == "joined":
                continue
            seen.add((prop.key,))
            # joined even for a collection (a page is at most 100 rows): no query of its own; the related
            # rows' own relations stay unloaded (the property reads their columns)
            options.append(joinedload(getattr(self.obj, prop.key)).lazyload("*"))
        return options

    # -- counting ------------------------------------------------------------------------------
    def estimated_count(self, query):
        """The planner's estimate when the list is unfiltered and the table large, else None."""
        if query.whereclause is not None:
            return None
        estimate = table_estimate(self.session, self.obj.__table__.name)
        return approximate(estimate) if estimate is not None and estimate > ESTIMATE_FROM else None

    def bounded_count_expr(self, query):
        """``(SELECT count(*) FROM (<the filtered ids> LIMIT 10001))`` as a scalar expression."""
        pk = self.obj.__mapper__.primary_key[0]
        inner = query.with_entities(pk).order_by(None).limit(COUNT_BOUND + 1).subquery()
        return select(func.count()).select_from(inner).scalar_subquery()

    @staticmethod
    def bounded(n):
        return at_least(COUNT_BOUND) if n > COUNT_BOUND else n

    def fast_count(self, query):
        """Estimate (unfiltered, large table) or bounded count (shown "10000+" beyond the bound)."""
        estimate = self.estimated_count(query)
        if estimate is not None:
            return estimate
        return self.bounded(self.session.execute(select(self.bounded_count_expr(query))).scalar() or 0)

    # -- the list query ------------------------------------------------------------------------
    def query(
        self,
        filters=None,
        order_column="",
        order_direction="",
        page=None,
        page_size=None,
        select_columns=None,
        outer_default_load=False,
        known_count=None,
    ):
        """``known_count``: the exact number of rows when the caller has it already (a page that also shows
        per-status figures of the same filter): then nothing is counted."""
        if select_columns or len(self.obj.__mapper__.primary_key) != 1:
            # the REST API path (FAB's own joins already eager-load), or a composite key
            return super().query(
                filters, order_column, order_direction, page, page_size, select_columns, outer_default_load
            )
        base = self.apply_filters(self.session.query(self.obj), filters)
        if not page_size:  # a related-field dropdown (FAB's forms call query(filters)): bounded, no count
            if order_column == "":
                base = base.order_by(self.obj.__mapper__.primary_key[0].desc())
            rows = self.apply_order_by(base, order_column, order_direction).limit(DROPDOWN_LIMIT).all()
            return len(rows), rows
        pk = self.obj.__mapper__.primary_key[0]
        after = keyset_after()
        default_order = order_column in ("", pk.key) and order_direction in ("", "desc")
        if after is not None and default_order:
            query = base.filter(pk < after).order_by(pk.desc())
            page = None
        else:
            query = self.apply_order_by(base, order_column, order_direction, aliases_mapping={}, add_pk=True)
            if order_column == "":
                query = query.order_by(pk.desc())
        offset = (page or 0) * page_size
        # The count rides along in the page query as a scalar subquery (one round trip, not two).
        count = known_count if known_count is not None else self.estimated_count(base)
        total = self.bounded_count_expr(base) if count is None else None
        if offset >= DEFERRED_FROM:
            # Deep page: the ids alone (an index-only scan of the scope index), then those rows.
            id_query = query.with_entities(pk) if total is None else query.with_entities(pk, total)
            page_rows = id_query.offset(offset).limit(page_size).all()
            ids = [r[0] for r in page_rows]
            objs = (
                {
                    getattr(o, pk.key): o
                    for o in self.session.query(self.obj).options(*self.eager_options()).filter(pk.in_(ids))
                }
                if ids
                else {}
            )
            items = [objs[i] for i in ids if i in objs]
        else:
            query = query.options(*self.eager_options())
            if total is not None:
                query = query.add_columns(total)
            page_rows = query.offset(offset or None).limit(page_size).all()
            items = [r[0] for r in page_rows] if total is not None else page_rows
        if count is None:
            if page_rows:
                count = self.bounded(page_rows[0][-1])
            elif offset:  # past the end: the count still tells the pager where the end is
                count = self.fast_count(base)
            else:
                count = 0
        return count, items


PAGE_SIZES = (10, 20, 50, 100)  # what a list's 条/页 offers; anything else falls back to the view's default


class Pager:
    """The pager of a list page: 共 N 项 (an int, or a ListCount rendering 约 N / 10000+), the page (0-based),
    the window of page numbers to link and the keyset "下一页" link of deep default-ordered lists."""

    def __init__(self, count, page, size, max_offset, keyset_next=None, page_arg="page", size_arg="psize"):
        self.count, self.page, self.size = count, page, size
        # pages the pager links: no further than the offset cap (an estimate of 1M rows is 100,000 pages)
        self.pages = min(max(-(-int(count) // size), 1), max_offset // size + 1)
        self.sizes = PAGE_SIZES
        self.keyset_next = keyset_next
        self.page_arg, self.size_arg = page_arg, size_arg

    def window(self, around=2, edge=2):
        """Page numbers to link (0-based) with None for a gap: computed here, not by a template loop
        over every page (50,000 pages at 1M rows)."""
        last = self.pages - 1
        wanted = sorted(
            {
                p
                for p in (
                    *range(edge),
                    *range(last - edge + 1, last + 1),
                    *range(self.page - around, self.page + around + 1),
                )
                if 0 <= p <= last
            }
        )
        out = []
        for p in wanted:
            if out and out[-1] is not None and p > out[-1] + 1:
                out.append(None)
            out.append(p)
        return out
