from markupsafe import Markup, escape


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
