from decimal import Decimal

from markupsafe import Markup, escape

EMPTY = "—"  # what an empty value reads as in every list, detail page and export cell


def plain(value):
    """The formatter of a column that has none of its own: empty → "—", a Decimal in positional
    notation (never "1E+1"), anything else as it is."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def choice(choice_set, empty=None):
    """A list/show formatter rendering a status code as its translated label in a badge (``empty``, in
    grey, when there is no value)."""

    def fmt(value):
        if value in (None, ""):
            return Markup('<span class="text-muted">%s</span>') % (empty or "")
        return Markup('<span class="label label-%s">%s</span>') % (
            choice_set.colour(value),
            escape(str(choice_set.label(value))),
        )

    return fmt


def money(value):
    return "" if value is None else f"{value:,.2f}"
