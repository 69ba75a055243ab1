"""Marshmallow fields shared by payload schemas, and a fast loader for valid input."""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, missing, validate
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA
from marshmallow.fields import Field

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


# -- a fast path for loading valid input ---------------------------------------------


class _Refused(Exception):
    """The fast loader does not take this input: the schema itself must load it."""


Step = Callable[[Any, str | None, Any], Any]


def fast_loader(schema: Schema) -> Callable[[Any], dict[str, Any] | None]:
    """A function returning ``schema.load(data)`` for input the schema accepts, else None.

    It runs the schema's own fields (their ``_deserialize`` and validators) and its
    ``@validates_schema`` hooks, in marshmallow's order, but without marshmallow's
    per-field error bookkeeping, which is most of the cost of loading valid input.
    At the first problem of any kind (a missing or unknown key, a value a field or
    validator refuses, any exception) it returns None: the caller then loads with
    the schema, which names every error exactly as before. A test holds the two
    equal on valid input and checks that bad input always returns None.

    Features it does not mirror (pre/post-load hooks, ``@validates`` field hooks,
    ``many``, ``partial``, unknown keys other than RAISE, dotted attributes) make a
    nested schema load through marshmallow as usual, and a top-level schema's
    loader always return None.
    """
    load = _schema_step(schema)
    if load is None:
        return lambda data: None

    def fast(data: Any) -> dict[str, Any] | None:
        try:
            return load(data)
        except Exception:  # whatever went wrong, the schema decides what to say
            return None

    return fast


def _schema_step(schema: Schema) -> Callable[[Any], dict[str, Any]] | None:
    """``schema``'s load as a closure that raises on any problem; None if unsupported."""
    hooks = schema._hooks
    if (
        schema.many
        or schema.partial
        or schema.unknown != RAISE
        or schema.dict_class is not dict
        or hooks[PRE_LOAD]
        or hooks[POST_LOAD]
        or hooks[VALIDATES]
    ):
        return None
    checks = []
    for attr_name, hook_many, hook_kwargs in hooks[VALIDATES_SCHEMA]:
        if hook_many or hook_kwargs.get("pass_original"):
            return None
        checks.append(getattr(schema, attr_name))
    steps: list[tuple[str, str, Field, Step]] = []
    for attr_name, field in schema.load_fields.items():
        key = field.data_key if field.data_key is not None else attr_name
        attribute = field.attribute or attr_name
        if "." in attribute:  # marshmallow would nest the value: not mirrored
            return None
        steps.append((key, attribute, field, _field_step(field)))
    known = frozenset(key for key, _, _, _ in steps)
    partial, unknown = schema.partial, schema.unknown

    def load(data: Any) -> dict[str, Any]:
        # Exactly a dict (what JSON decodes to); other mappings go through the schema.
        if type(data) is not dict or not data.keys() <= known:
            raise _Refused
        out: dict[str, Any] = {}
        for key, attribute, field, step in steps:
            value = data.get(key, missing)
            if value is missing:
                if field.required:
                    raise _Refused
                default = field.load_default
                if default is not missing:
                    out[attribute] = default() if callable(default) else default
            else:
                out[attribute] = step(value, key, data)
        for check in checks:  # as marshmallow calls them (they raise on bad data)
            check(out, partial=partial, many=False, unknown=unknown)
        return out

    return load


def _field_step(field: Field) -> Step:
    """``field.deserialize`` of a present value, raising on any problem."""
    if field.pre_load or field.post_load:
        return field.deserialize  # processors: marshmallow's own order, nothing mirrored
    core: Step = field._deserialize
    if isinstance(field, fields.Nested):
        sub = None
        if not field.many and field.only is None and not field.exclude and field.unknown is None:
            sub = _schema_step(field.schema)
        if sub is None:
            return field.deserialize
        nested = sub

        def core(value: Any, attr: str | None, data: Any) -> Any:
            return nested(value)

    elif isinstance(field, fields.List):
        inner = _field_step(field.inner)

        def core(value: Any, attr: str | None, data: Any) -> Any:
            if type(value) is not list:  # tuples, sets, ...: the schema decides
                raise _Refused
            return [inner(each, None, None) for each in value]  # as List passes them

    validators = tuple(field.validators)
    allow_none = field.allow_none

    def step(value: Any, attr: str | None, data: Any) -> Any:
        if value is None:
            if allow_none:
                return None
            raise _Refused
        output = core(value, attr, data)
        for validator in validators:
            if validator(output) is False:
                raise _Refused
        return output

    return step
