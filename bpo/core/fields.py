"""Marshmallow fields shared by payload schemas."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields, validate

from bpo.core.money import has_at_most_places


class Money(fields.Decimal):
    """An amount with at most two decimal places, serialized as a string."""

    def __init__(self, *, minimum: Decimal | None = None, **kwargs: Any) -> None:
        validators = [validate.Range(min=minimum)] if minimum is not None else []
        super().__init__(as_string=True, allow_nan=False, validate=validators, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, float):
            raise ValidationError("send amounts as strings or integers, not floating-point numbers")
        amount: Decimal = super()._deserialize(value, attr, data, **kwargs)
        if not has_at_most_places(amount, 2):
            raise ValidationError("at most two decimal places")
        if abs(amount) >= Decimal("1e13"):
            raise ValidationError("amount too large")
        return amount


class Quantity(fields.Decimal):
    """A quantity or rate with at most ``places`` decimals."""

    def __init__(self, *, places: int = 4, **kwargs: Any) -> None:
        self.max_places = places
        super().__init__(as_string=True, allow_nan=False, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, float):
            raise ValidationError("send numbers as strings or integers, not floating-point numbers")
        number: Decimal = super()._deserialize(value, attr, data, **kwargs)
        if not has_at_most_places(number, self.max_places):
            raise ValidationError(f"at most {self.max_places} decimal places")
        if abs(number) >= Decimal("1e9"):
            raise ValidationError("number too large")
        return number


def text(max_length: int, *, required: bool = True, **kwargs: Any) -> fields.String:
    """A trimmed, non-blank string of at most ``max_length`` characters."""
    return fields.String(
        required=required, validate=[validate.Length(min=1, max=max_length)], **kwargs
    )


CURRENCY = fields.String(
    required=True,
    validate=validate.Regexp(r"^[A-Z]{3}$", error="a three-letter ISO 4217 code, e.g. USD"),
)


def no_nul(value: str) -> None:
    """PostgreSQL text cannot hold a NUL character: refuse it as bad input, naming the field."""
    if "\x00" in value:
        raise ValidationError("contains a NUL character (\\u0000), which cannot be stored")


# Instants PostgreSQL's timestamptz and Python's datetime both hold in every time zone.
EARLIEST = datetime(1971, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
SANE_INSTANT = validate.Range(min=EARLIEST, max=LATEST, error="must be between 1971 and 9000")
