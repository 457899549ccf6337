from markupsafe import Markup, escape


def choice(choice_set):
    """A list/show formatter rendering a status code as its translated label in a badge."""

    def fmt(value):
        return Markup('<span class="label label-%s">%s</span>') % (
            choice_set.colour(value),
            escape(str(choice_set.label(value))),
        )

    return fmt


def money(value):
    return "" if value is None else f"{value:,.2f}"
