"""How a number reads in words, wherever it is written: a message of a service, a page, a cell."""

from decimal import Decimal


def percent(fraction, places=2):
    """A fraction as a percentage for messages and cells: 0.1 → "10", 0.125 → "12.5" (no E-notation)."""
    value = (Decimal(str(fraction)) * 100).quantize(Decimal(1).scaleb(-places)).normalize()
    return format(value, "f")
