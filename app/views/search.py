"""The 查询 bar of a list (the manual's row of fields with 重置 / 查询 / 导出): each field is a query-string
parameter with its label, turned into a FAB filter of the list's own query.

    search_bar = [
        Text("enterprise", _("施工企业名称"), "enterprise"),       # a relation: its name contains …
        Text("q", _("关键字"), "project_name", "policy_no"),       # any of several columns contains …
        Choice("status", _("投保状态"), "status", ApplicationStatus),
        RegionPrefix("region", _("行政区划代码"), "region_code"),
    ]

The filters are FAB ``BaseFilter``s applied by the datamodel with the view's base filters (the scope
first), so the list, its count, its statistics and its export all read the same rows.
"""

from flask_appbuilder.models.filters import BaseFilter
from sqlalchemy import false, or_

from .datamodel import SEARCH_TEXT

MAX_TEXT = 100


def _text(value):
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return str(value or "").strip()[:MAX_TEXT]


class ColumnsContain(BaseFilter):
    """Any of ``columns`` contains the text (a relation: the related row's searchable text)."""

    name = "contains"
    arg_name = "ct"

    def __init__(self, columns, datamodel):
        super().__init__(columns[0], datamodel)
        self.columns = columns

    def criterion(self, text):
        parts = []
        for name in self.columns:
            attr = getattr(self.model, name)
            prop = getattr(attr, "property", None)
            if hasattr(prop, "mapper"):  # a relation: EXISTS (related row whose text contains …)
                target = prop.mapper.class_
                parts.append(attr.has(getattr(target, SEARCH_TEXT[target.__name__]).contains(text, autoescape=True)))
            else:
                parts.append(attr.contains(text, autoescape=True))
        return or_(*parts) if len(parts) > 1 else parts[0]

    def apply(self, query, value):
        text = _text(value)
        return query.filter(self.criterion(text)) if text else query


class ChoiceEqual(BaseFilter):
    """The column equals one of the choice set's values (``null_value``: the column is empty; anything
    else matches nothing)."""

    name = "equal"
    arg_name = "eq"

    def __init__(self, column, datamodel, choice_set, null_value=None):
        super().__init__(column, datamodel)
        self.choice_set, self.null_value = choice_set, null_value

    def apply(self, query, value):
        text = _text(value)
        if not text:
            return query
        if self.null_value is not None and text == self.null_value:
            return query.filter(getattr(self.model, self.column_name).is_(None))
        if text not in self.choice_set.values():
            return query.filter(false())
        return query.filter(getattr(self.model, self.column_name) == text)


class PrefixOf(BaseFilter):
    """A 行政区划代码 filter: 230000 → the province (23…), 230100 → its city (2301…), a county its code."""

    name = "region"
    arg_name = "rg"

    def apply(self, query, value):
        from app.extensions import db
        from app.models import Project, Region
        from app.models.reference import CITY_DIGITS, city_of

        code = _text(value)
        if not code:
            return query
        if not code.isdigit():
            return query.filter(false())
        region = db.session.get(Region, code) if len(code) == 6 else None
        prefix = region.prefix if region is not None else code
        column = getattr(self.model, self.column_name)
        if len(prefix) == CITY_DIGITS and self.model is Project and self.column_name == "region_code":
            return query.filter(city_of(column) == prefix)  # what ix_project_city_status is built on
        return query.filter(column.like(prefix + "%"))


class SearchField:
    """One field of the 查询 bar: ``param`` in the query string, its label, how it renders and filters."""

    kind = "text"

    def __init__(self, param, label, placeholder=None):
        self.param, self.label, self.placeholder = param, label, placeholder

    def make_filter(self, datamodel) -> BaseFilter:
        raise NotImplementedError

    def options(self):
        return []


class Text(SearchField):
    def __init__(self, param, label, *columns, placeholder=None):
        super().__init__(param, label, placeholder)
        self.columns = columns or (param,)

    def make_filter(self, datamodel):
        return ColumnsContain(list(self.columns), datamodel)


class Choice(SearchField):
    kind = "choice"

    def __init__(self, param, label, column, choice_set, null_choice=None):
        super().__init__(param, label)
        self.column, self.choice_set, self.null_choice = column, choice_set, null_choice

    def make_filter(self, datamodel):
        return ChoiceEqual(self.column, datamodel, self.choice_set, self.null_choice[0] if self.null_choice else None)

    def options(self):
        return ([self.null_choice] if self.null_choice else []) + self.choice_set.choices()


class RegionPrefix(SearchField):
    def __init__(self, param, label, column="region_code", placeholder=None):
        super().__init__(param, label, placeholder)
        self.column = column

    def make_filter(self, datamodel):
        return PrefixOf(self.column, datamodel)
