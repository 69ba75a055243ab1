"""The work form of each task type: which inputs it shows, pre-filled from what.

Input names are paths into the result dict that
:func:`bpo.routing.review.check_result` validates (``invoice.lines.0.quantity``),
the same mechanism as the portal's intake forms: :func:`parse` unflattens the
posted form, and the checker's nested errors flatten back onto those names.
"""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bpo.web.filters import viewer_zone
from bpo.web.portal.taskforms import FIELD_KINDS, Input, flat_values, unflatten
from bpo.work.models import DataEntryForm, Task
from bpo.work.schemas import RESULT_META

MONEY = "decimal"
INVOICE_HEAD = (
    Input("invoice.vendor", "Vendor"),
    Input("invoice.invoice_number", "Invoice number"),
    Input("invoice.invoice_date", "Invoice date", "date"),
    Input("invoice.due_date", "Due date", "date"),
    Input("invoice.currency", "Currency", hint="ISO code, e.g. USD"),
    Input("invoice.purchase_order", "Purchase order", required=False),
    Input("gl_account", "GL account (whole invoice)", required=False, hint="or one per line"),
)
INVOICE_LINE = (
    Input("description", "Description"),
    Input("quantity", "Quantity", MONEY),
    Input("unit_price", "Unit price", MONEY),
    Input("tax_rate", "Tax %", MONEY, required=False),
    Input("gl_account", "GL account", required=False),
)
INVOICE_TOTALS = (
    Input("invoice.totals.subtotal", "Subtotal", MONEY),
    Input("invoice.totals.tax", "Tax", MONEY),
    Input("invoice.totals.total", "Total", MONEY),
)
MATCH = Input("matched", "Matched", "choice", required=False, choices=("matched", "unmatched"))
NOTE = Input("note", "Note", required=False)
POSTING = Input("posting_reference", "Posting reference", hint="the ledger's reference")
RESOLUTION = Input("resolution", "Resolution summary", "textarea", required=False)


@dataclass
class WorkForm:
    """What the template needs to draw a task's work form."""

    type: str
    values: dict[str, str]
    fields: list[tuple[Input, bool]] = field(default_factory=list)  # (input, critical)
    line_rows: int = 0
    flagged: bool = False
    form_name: str | None = None  # a data-entry record's form, as the client named it


def _record_form(session: Session, task: Task) -> DataEntryForm | None:
    return session.scalar(select(DataEntryForm).where(DataEntryForm.key == task.payload["form"]))


def _record_fields(form: DataEntryForm | None) -> list[tuple[Input, bool]]:
    specs = form.fields if form is not None else []
    return [
        (
            Input(
                f"values.{spec['name']}",
                spec.get("label") or spec["name"],
                "choice" if spec["type"] == "choice" else FIELD_KINDS.get(spec["type"], "text"),
                required=bool(spec.get("required")),
                choices=tuple(spec.get("choices") or ()),
                hint=_hint(spec),
            ),
            bool(spec.get("critical")),
        )
        for spec in specs
    ]


def _hint(spec: dict[str, Any]) -> str:
    parts = []
    if spec.get("pattern"):
        parts.append(f"format {spec['pattern']}")
    for bound, word in (("min", "at least"), ("max", "at most")):
        if spec.get(bound) is not None:
            parts.append(f"{word} {spec[bound]}")
    if spec.get("type") == "money":
        parts.append("two decimals at most")
    return " · ".join(parts)


def initial(task: Task) -> dict[str, str]:
    """Pre-filled values: what the agent handed in before (a rejected task), else
    what the client sent."""
    result = {k: v for k, v in (task.result or {}).items() if k not in RESULT_META}
    p = task.payload
    if task.type == "data_entry.record":
        return flat_values({"values": result.get("values") or p.get("values") or {}})
    if task.type == "accounting.invoice":
        if result.get("invoice"):
            return {k: v for k, v in flat_values(result).items() if v != "None"}
        return flat_values({"invoice": p})
    if task.type == "accounting.bank_reconciliation":
        marks = result.get("lines") or []
        values = {}
        for i, mark in enumerate(marks):
            values[f"lines.{i}.matched"] = "matched" if mark.get("matched") else "unmatched"
            values[f"lines.{i}.note"] = mark.get("note") or ""
        return values
    if task.type == "accounting.journal_entry":
        return {"posting_reference": str(result.get("posting_reference") or "")}
    return {"resolution": str(result.get("resolution") or "")}


def work_form(session: Session, task: Task, values: dict[str, str] | None = None) -> WorkForm:
    """The task's work form, with ``values`` (re-display after errors) or pre-filled."""
    form = WorkForm(task.type, values if values is not None else initial(task))
    if task.type == "data_entry.record":
        record_form = _record_form(session, task)
        form.fields = _record_fields(record_form)
        form.form_name = record_form.name if record_form is not None else None
    elif task.type == "accounting.invoice":
        typed = [
            int(k.split(".")[2])
            for k, v in form.values.items()
            if k.startswith("invoice.lines.") and k.split(".")[2].isdigit() and v
        ]
        form.line_rows = max([len(task.payload.get("lines") or []), *(i + 1 for i in typed)])
        form.flagged = any(f.get("code") == "possible_duplicate" for f in task.flags or [])
    elif task.type == "accounting.bank_reconciliation":
        form.line_rows = len(task.payload.get("lines") or [])
    return form


def parse(task: Task, posted: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The posted work form as (result dict for the checker, flat values to re-display)."""
    items = [(k, v) for k, v in posted.items(multi=True) if k not in ("action", "csrf_token")]
    data = unflatten(items, viewer_zone())
    if task.type == "accounting.bank_reconciliation":
        # Row by row, by the statement's own line numbers: a row left blank must
        # stay in its place (unflatten would drop it and shift the rows after it).
        data = {"lines": [_mark(posted, i) for i in range(len(task.payload.get("lines") or []))]}
    if task.type == "data_entry.record":
        data.setdefault("values", {})
    return data, {k: v.strip() for k, v in items}


def _mark(posted: Any, row: int) -> dict[str, Any]:
    mark: dict[str, Any] = {}
    matched = (posted.get(f"lines.{row}.matched") or "").strip()
    if matched in ("matched", "unmatched"):
        mark["matched"] = matched == "matched"
    elif matched:
        mark["matched"] = matched  # not a choice: the checker names it
    note = (posted.get(f"lines.{row}.note") or "").strip()
    if note:
        mark["note"] = note
    return mark
