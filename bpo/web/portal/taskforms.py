"""HTML forms for submitting tasks, one mechanism for every type.

Each type's form is a *layout*: groups of inputs and tables of line rows, whose
input names are paths into the API's task input (``payload.lines.0.quantity``).
:func:`unflatten` turns the posted form into that input, which goes through the
same service and schemas as the API; :func:`flatten_errors` turns the nested
errors back into the same paths, so each message lands next to its input.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bpo.support.schemas import CHANNELS
from bpo.work.models import DataEntryForm
from bpo.work.states import Priority


@dataclass(frozen=True)
class Input:
    name: str  # path below the group's prefix
    label: str
    kind: str = "text"  # text, textarea, date, datetime, decimal, email, choice, file
    required: bool = True
    choices: tuple[str, ...] = ()
    hint: str = ""


@dataclass(frozen=True)
class Group:
    title: str
    inputs: tuple[Input, ...]
    prefix: str = "payload."


@dataclass(frozen=True)
class Lines:
    """A table of rows: ``<prefix><name>.<row>.<column>``."""

    title: str
    name: str
    columns: tuple[Input, ...]
    rows: int = 4
    prefix: str = "payload."


@dataclass
class Layout:
    type: str
    label: str
    parts: list[Group | Lines] = field(default_factory=list)


COMMON = Group(
    "About this task",
    (
        Input("title", "Title", required=False, hint="Leave empty to let us name it"),
        Input("priority", "Priority", "choice", choices=tuple(p.value for p in Priority)),
        Input(
            "external_ref",
            "Your reference",
            required=False,
            hint="Unique; sending it twice is safe",
        ),
        Input("defer_until", "Do not start before", "datetime", required=False),
    ),
    prefix="",
)

MONEY = "decimal"

STATIC: dict[str, list[Group | Lines]] = {
    "accounting.invoice": [
        Group(
            "Invoice",
            (
                Input("vendor", "Vendor"),
                Input("invoice_number", "Invoice number"),
                Input("invoice_date", "Invoice date", "date"),
                Input("due_date", "Due date", "date"),
                Input("currency", "Currency", hint="ISO code, e.g. USD"),
                Input("purchase_order", "Purchase order", required=False),
            ),
        ),
        Lines(
            "Lines",
            "lines",
            (
                Input("description", "Description"),
                Input("quantity", "Quantity", MONEY),
                Input("unit_price", "Unit price", MONEY),
                Input("tax_rate", "Tax %", MONEY, required=False),
            ),
        ),
        Group(
            "Totals",
            (
                Input("totals.subtotal", "Subtotal", MONEY),
                Input("totals.tax", "Tax", MONEY),
                Input("totals.total", "Total", MONEY),
            ),
        ),
    ],
    "accounting.bank_reconciliation": [
        Group(
            "Statement",
            (
                Input("account", "Account"),
                Input("currency", "Currency", hint="ISO code, e.g. EUR"),
                Input("period_start", "Period start", "date"),
                Input("period_end", "Period end", "date"),
                Input("opening_balance", "Opening balance", MONEY),
                Input("closing_balance", "Closing balance", MONEY),
            ),
        ),
        Lines(
            "Statement lines",
            "lines",
            (
                Input("date", "Date", "date"),
                Input("description", "Description"),
                Input("amount", "Amount (negative = out)", MONEY),
                Input("reference", "Reference", required=False),
            ),
            rows=6,
        ),
    ],
    "accounting.journal_entry": [
        Group(
            "Entry",
            (
                Input("date", "Date", "date"),
                Input("currency", "Currency", hint="ISO code, e.g. GBP"),
                Input("memo", "Memo"),
            ),
        ),
        Lines(
            "Lines (debits must equal credits)",
            "lines",
            (
                Input("account", "Account"),
                Input("description", "Description", required=False),
                Input("debit", "Debit", MONEY, required=False),
                Input("credit", "Credit", MONEY, required=False),
            ),
        ),
    ],
    "support.ticket": [
        Group(
            "Ticket",
            (
                Input("subject", "Subject"),
                Input("requester.name", "Customer name"),
                Input("requester.email", "Customer e-mail", "email"),
                Input("channel", "Channel", "choice", choices=CHANNELS),
                Input("message", "Message", "textarea"),
            ),
        ),
    ],
}

FIELD_KINDS = {"text": "text", "number": "decimal", "money": "decimal", "date": "date"}


def _field_hint(spec: dict[str, Any]) -> str:
    """What a form field accepts, in words: shown under its input."""
    parts = []
    if spec.get("required"):
        parts.append("required when keyed")
    if spec.get("pattern"):
        parts.append(f"format {spec['pattern']}")
    if spec.get("min") is not None and spec.get("max") is not None:
        parts.append(f"{spec['min']} to {spec['max']}")
    elif spec.get("min") is not None:
        parts.append(f"at least {spec['min']}")
    elif spec.get("max") is not None:
        parts.append(f"at most {spec['max']}")
    if spec.get("type") == "money":
        parts.append("two decimals at most")
    if spec.get("critical"):
        parts.append("critical: checked twice")
    return " · ".join(parts)


def record_layout(form: DataEntryForm) -> list[Group | Lines]:
    """The data-entry form: its source, then the form's own fields (optional at intake)."""
    values = tuple(
        Input(
            f"values.{spec['name']}",
            spec.get("label") or spec["name"],
            "choice" if spec["type"] == "choice" else FIELD_KINDS.get(spec["type"], "text"),
            required=False,
            choices=tuple(spec.get("choices") or ()),
            hint=_field_hint(spec),
        )
        for spec in form.fields
    )
    return [
        Group(
            "Source",
            (
                Input(
                    "source.text",
                    "Source text",
                    "textarea",
                    required=False,
                    hint="Paste the text, or attach a file below",
                ),
                Input(
                    "source_file",
                    "Source file",
                    "file",
                    required=False,
                    hint="PDF, image, spreadsheet or text",
                ),
            ),
        ),
        Group(f"{form.name}: values you already know (optional)", values),
    ]


def layout_for(type_name: str, label: str, form: DataEntryForm | None = None) -> Layout:
    parts = record_layout(form) if form is not None else STATIC[type_name]
    return Layout(type_name, label, [COMMON, *parts])


# -- posted form <-> task input -----------------------------------------------------


def unflatten(items: Iterable[tuple[str, str]], zone: ZoneInfo) -> dict[str, Any]:
    """``payload.lines.0.quantity=3`` → ``{"payload": {"lines": [{"quantity": "3"}]}}``.

    Empty inputs are left out (so a missing required field says "required"), line
    rows left entirely empty are dropped, and ``defer_until`` is read in ``zone``.
    """
    tree: dict[str, Any] = {}
    for name, raw in items:
        value = raw.strip()
        if not value or name in ("csrf_token", "type", "source_file"):
            continue
        node: Any = tree
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break  # "a=1" and "a.b=2" both posted: keep the first, ignore the clash
        else:
            if not isinstance(node.get(leaf), dict):
                node[leaf] = value
    if "defer_until" in tree:
        tree["defer_until"] = _local_to_utc(tree["defer_until"], zone)
    return _lists(tree)


def _lists(node: Any) -> Any:
    """Dicts whose keys are all digits become lists, in numeric order."""
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def _local_to_utc(value: str, zone: ZoneInfo) -> str:
    try:
        local = datetime.fromisoformat(value)
    except ValueError:
        return value  # the schema names the field and says what it wants
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone)
    return local.isoformat()


def flat_values(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """The inverse of :func:`unflatten` for re-displaying what the user typed."""
    flat: dict[str, str] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flat_values(value, path + "."))
        elif isinstance(value, list):
            flat.update(flat_values({str(i): v for i, v in enumerate(value)}, path + "."))
        else:
            flat[path] = "" if value is None else str(value)
    return flat
