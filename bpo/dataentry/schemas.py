"""Data entry: tenant-defined forms and the records keyed against them.

A form is a list of fields (name, label, type, required, pattern or range,
choices, critical). A ``data_entry.record`` task carries its source (a text or an
attachment) and, once keyed, the values, which are validated against the form.
"""

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from bpo.core.fields import text
from bpo.core.money import has_at_most_places

FIELD_TYPES = ("text", "number", "date", "choice", "money")
NAME = validate.Regexp(
    r"^[a-z][a-z0-9_]{0,59}$", error="lower-case letters, digits and _, starting with a letter"
)


class FormField(Schema):
    name = fields.String(required=True, validate=NAME)
    label = text(200)
    type = fields.String(required=True, validate=validate.OneOf(FIELD_TYPES))
    required = fields.Boolean(load_default=False)
    critical = fields.Boolean(load_default=False)  # keyed twice / checked by a second agent
    pattern = fields.String(validate=validate.Length(max=300))
    min = fields.String(validate=validate.Length(max=40))
    max = fields.String(validate=validate.Length(max=40))
    choices = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)), validate=validate.Length(max=200)
    )

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        kind = data["type"]
        if kind == "choice" and not data.get("choices"):
            raise ValidationError("a choice field needs choices", field_name="choices")
        if "pattern" in data:
            if kind != "text":
                raise ValidationError("only text fields take a pattern", field_name="pattern")
            try:
                re.compile(data["pattern"])
            except re.error as exc:
                raise ValidationError(
                    f"not a valid regular expression: {exc}", field_name="pattern"
                ) from exc
        for bound in ("min", "max"):
            if bound in data:
                if kind not in ("number", "money", "date"):
                    raise ValidationError(
                        f"only number, money and date fields take {bound}", field_name=bound
                    )
                try:
                    _parse(kind, data[bound])
                except ValueError as exc:
                    raise ValidationError(str(exc), field_name=bound) from exc


class FormDefinition(Schema):
    key = fields.String(required=True, validate=NAME)
    name = text(200)
    # "fields" is a Schema attribute: declare it under another name, keep the key.
    form_fields = fields.List(
        fields.Nested(FormField),
        required=True,
        validate=validate.Length(min=1, max=200),
        data_key="fields",
        attribute="fields",
    )

    @validates_schema
    def _unique_names(self, data: dict[str, Any], **kwargs: Any) -> None:
        names = [f["name"] for f in data["fields"]]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValidationError(
                f"field names must be unique: {', '.join(duplicates)}", field_name="fields"
            )


def _parse(kind: str, raw: Any) -> Any:
    """Parse a raw value of field type ``kind``; ValueError says what is wrong."""
    if isinstance(raw, float):
        raise ValueError("send numbers as strings or integers, not floating-point numbers")
    value = str(raw).strip()
    if kind in ("number", "money"):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError("not a number") from None
        if not number.is_finite():
            raise ValueError("not a number")
        if kind == "money" and not has_at_most_places(number, 2):
            raise ValueError("at most two decimal places")
        return number
    if kind == "date":
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError("a date as YYYY-MM-DD") from None
    return value


def validate_values(
    form_fields: list[dict[str, Any]], values: dict[str, Any], *, partial: bool = False
) -> dict[str, Any]:
    """Check keyed ``values`` against a form; returns them normalized to strings.

    ``partial``: the values a client already knows, sent with the source; each given
    one must be valid, but none is required (the agent keys the record in full).
    Raises ValidationError with one entry per bad field, and one for unknown fields.
    """
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    known = {f["name"] for f in form_fields}
    for unknown in sorted(set(values) - known):
        errors[unknown] = ["not a field of this form"]
    for spec in form_fields:
        name, kind = spec["name"], spec["type"]
        raw = values.get(name)
        if raw is None or str(raw).strip() == "":
            if spec.get("required") and not partial:
                errors[name] = ["required"]
            continue
        try:
            value = _parse(kind, raw)
        except ValueError as exc:
            errors[name] = [str(exc)]
            continue
        problem = _check(spec, kind, value)
        if problem:
            errors[name] = [problem]
            continue
        clean[name] = str(value) if not isinstance(value, date) else value.isoformat()
    if errors:
        raise ValidationError(errors)
    return clean


def _check(spec: dict[str, Any], kind: str, value: Any) -> str | None:
    if kind == "text" and spec.get("pattern") and not re.fullmatch(spec["pattern"], value):
        return f"does not match the expected format {spec['pattern']}"
    if kind == "text" and len(value) > 2000:
        return "at most 2000 characters"
    if kind == "choice" and value not in spec["choices"]:
        return "one of " + ", ".join(spec["choices"])
    if "min" in spec and value < _parse(kind, spec["min"]):
        return f"at least {spec['min']}"
    if "max" in spec and value > _parse(kind, spec["max"]):
        return f"at most {spec['max']}"
    return None


class Source(Schema):
    text = text(50_000, required=False)
    attachment_id = fields.Integer(validate=validate.Range(min=1))

    @validates_schema
    def _one_source(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("text" in data) == ("attachment_id" in data):
            raise ValidationError("give either a text or an attachment_id", field_name="text")


class RecordPayload(Schema):
    """``data_entry.record``: a source document to key against form ``form``."""

    form = fields.String(required=True, validate=NAME)
    source = fields.Nested(Source, required=True)
    values = fields.Dict(keys=fields.String(), load_default=dict)
