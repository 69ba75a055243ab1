"""Money: ``Decimal`` everywhere, quantized to the cent with banker-free rounding."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    """``value`` rounded half-up to two decimal places."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def has_at_most_places(value: Decimal, places: int) -> bool:
    exponent = value.as_tuple().exponent
    return isinstance(exponent, int) and -exponent <= places
