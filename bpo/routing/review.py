"""What an agent hands in, per type of work, and the automated review of it.

:func:`check_result` is the one definition of a valid result: the agent's pages
call it before :func:`bpo.routing.desk.hand_in` (so bad input never reaches the
task), and :func:`review` calls it again on the stored result after commit (the
check the review job runs). Results are JSON-safe dicts; amounts stay Decimal
strings.

Shapes (``result`` keys besides ``handed_in_at``/``by``, which hand-in adds):

* ``data_entry.record``: ``{"values": {field: value}}`` valid for the tenant's form.
* ``accounting.invoice``: ``{"invoice": {...invoice payload, lines with an optional
  gl_account...}, "gl_account": str | None, "duplicate_checked": bool}``; totals
  must match the lines to the cent, every line needs a GL account (its own or the
  invoice's), and a task flagged as a possible duplicate needs the box ticked.
* ``accounting.bank_reconciliation``: ``{"lines": [{"matched": bool, "note": str}]}``,
  one per statement line; an unmatched line needs a note.
* ``accounting.journal_entry``: ``{"balanced_confirmed": true, "posting_reference": str}``.
* ``support.ticket``: ``{"resolution": str}``; the customer must have had a public reply.
"""

import logging
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from bpo.accounting.schemas import InvoiceLine, InvoicePayload, JournalEntryPayload
from bpo.core.actors import SYSTEM
from bpo.core.errors import ValidationFailed
from bpo.core.fields import text
from bpo.core.uow import unit_of_work
from bpo.dataentry.schemas import validate_values
from bpo.work.models import DataEntryForm, Task
from bpo.work.schemas import RESULT_META
from bpo.work.services import json_safe, transition
from bpo.work.states import Status

log = logging.getLogger(__name__)

GL_ACCOUNT = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,19}$", error="letters, digits, . and -")


class CheckedLine(InvoiceLine):
    gl_account = fields.String(validate=GL_ACCOUNT)


class CheckedInvoice(InvoicePayload):
    """The invoice as captured: the intake schema (totals to the cent) plus GL codes."""

    lines = fields.List(
        fields.Nested(CheckedLine), required=True, validate=validate.Length(min=1, max=500)
    )


class InvoiceResult(Schema):
    invoice = fields.Nested(CheckedInvoice, required=True)
    gl_account = fields.String(validate=GL_ACCOUNT, load_default=None, allow_none=True)
    duplicate_checked = fields.Boolean(load_default=False)


class MatchLine(Schema):
    matched = fields.Boolean(required=True)
    note = text(500, required=False)


class ReconciliationResult(Schema):
    lines = fields.List(fields.Nested(MatchLine), required=True)


class JournalResult(Schema):
    balanced_confirmed = fields.Boolean(load_default=False)
    posting_reference = text(60)


class TicketResult(Schema):
    resolution = fields.String(validate=validate.Length(max=2000), load_default="")
    resolved = fields.Boolean(load_default=True)


INVOICE, RECONCILIATION, JOURNAL, TICKET = (
    InvoiceResult(),
    ReconciliationResult(),
    JournalResult(),
    TicketResult(),
)


def _load(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationFailed(
            "the work has errors: see the marked fields", fields=messages
        ) from None
    return loaded


def _fail(message: str, fields: dict[str, Any]) -> ValidationFailed:
    return ValidationFailed(message, fields=fields)


def check_result(session: Session, task: Task, result: Any) -> dict[str, Any]:
    """The valid, JSON-safe result of ``task`` from ``result``; ValidationFailed
    names each bad field (paths as the work forms post them)."""
    data = {
        k: v
        for k, v in (result if isinstance(result, dict) else {}).items()
        if k not in RESULT_META
    }
    nul = _nul_paths(data)
    if nul:
        # PostgreSQL cannot store NUL in text or JSONB: refuse it by name, never a 500.
        raise _fail(
            "the work holds a NUL character", {p: ["remove the NUL character"] for p in nul}
        )
    checker = CHECKERS.get(task.type)
    if checker is None:
        raise _fail(f"no work form for {task.type}", {"type": ["unknown"]})
    return json_safe(checker(session, task, data))


def _nul_paths(value: Any, path: str = "") -> list[str]:
    """Dotted paths (as the forms name inputs) of every string holding a NUL."""
    if isinstance(value, str):
        return [path or "_schema"] if "\x00" in value else []
    if isinstance(value, dict):
        children = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        children = [(str(i), v) for i, v in enumerate(value)]
    else:
        return []
    found: list[str] = []
    for key, child in children:
        here = f"{path}.{key}" if path else key
        found += [here] if "\x00" in key else _nul_paths(child, here)
    return found


def _record(session: Session, task: Task, data: dict[str, Any]) -> dict[str, Any]:
    form = session.scalar(select(DataEntryForm).where(DataEntryForm.key == task.payload["form"]))
    if form is None:
        raise _fail("the record's form no longer exists", {"values": ["no such form"]})
    values = data.get("values") or {}
    if not isinstance(values, dict):
        raise _fail("the values are not a record", {"values": ["not a record"]})
    try:
        return {"values": validate_values(form.fields, values)}
    except ValidationError as exc:
        raise _fail(
            "some values are not valid: see the marked fields", {"values": exc.messages}
        ) from None


def _invoice(session: Session, task: Task, data: dict[str, Any]) -> dict[str, Any]:
    loaded = _load(INVOICE, data)
    missing = {
        i: {"gl_account": ["give a GL account for this line or for the invoice"]}
        for i, line in enumerate(loaded["invoice"]["lines"])
        if not line.get("gl_account") and not loaded["gl_account"]
    }
    if missing:
        raise _fail("GL accounts are missing", {"invoice": {"lines": missing}})
    flagged = any(f.get("code") == "possible_duplicate" for f in task.flags or [])
    if flagged and not loaded["duplicate_checked"]:
        raise _fail(
            "this invoice may be a duplicate",
            {"duplicate_checked": ["confirm you checked it is not a duplicate"]},
        )
    return loaded


def _reconciliation(session: Session, task: Task, data: dict[str, Any]) -> dict[str, Any]:
    loaded = _load(RECONCILIATION, data)
    expected = len(task.payload["lines"])
    if len(loaded["lines"]) != expected:
        raise _fail("mark every statement line", {"lines": [f"{expected} lines to mark"]})
    unexplained = {
        i: {"note": ["say why this line does not match"]}
        for i, line in enumerate(loaded["lines"])
        if not line["matched"] and not (line.get("note") or "").strip()
    }
    if unexplained:
        raise _fail("unmatched lines need a note", {"lines": unexplained})
    return loaded


def _journal(session: Session, task: Task, data: dict[str, Any]) -> dict[str, Any]:
    problems: dict[str, Any] = {}
    try:
        loaded: dict[str, Any] = JOURNAL.load(data)
    except ValidationError as exc:
        problems = dict(exc.messages) if isinstance(exc.messages, dict) else {}
        loaded = {"balanced_confirmed": data.get("balanced_confirmed") in ("true", True)}
    if not loaded.get("balanced_confirmed"):
        problems.setdefault("balanced_confirmed", ["confirm debits equal credits"])
    if problems:
        raise _fail("the entry is not ready to post", problems)
    try:
        JournalEntryPayload().load(task.payload)  # still balanced to the cent
    except ValidationError as exc:
        raise _fail("the entry does not balance", {"payload": exc.messages}) from None
    return loaded


def _ticket(session: Session, task: Task, data: dict[str, Any]) -> dict[str, Any]:
    loaded = _load(TICKET, data)
    if not any(m.visibility == "public_reply" for m in task.messages):
        raise _fail(
            "reply to the customer before resolving", {"reply": ["send a public reply first"]}
        )
    return {"resolution": loaded["resolution"].strip(), "resolved": True}


CHECKERS = {
    "data_entry.record": _record,
    "accounting.invoice": _invoice,
    "accounting.bank_reconciliation": _reconciliation,
    "accounting.journal_entry": _journal,
    "support.ticket": _ticket,
}


def _reason(exc: ValidationFailed) -> str:
    from bpo.core.errors import flatten_fields

    details = "; ".join(f"{path}: {', '.join(p)}" for path, p in flatten_fields(exc.fields).items())
    return f"automated review: {exc.message}" + (f" ({details})" if details else "")


def review(tenant: str, task_id: int) -> Status | None:
    """Check a handed-in task: its result valid for its type → ``done``; not →
    ``rejected`` with the reason, back to the same agent (they still hold it).

    Idempotent: a task that is not ``in_review`` (reviewed already, cancelled,
    gone) is left alone and None returned; otherwise the new status.
    """
    with unit_of_work(tenant) as uow:
        task = uow.session.get(Task, task_id, with_for_update=True)
        if task is None or task.status is not Status.IN_REVIEW:
            return None
        try:
            check_result(uow.session, task, task.result or {})
        except ValidationFailed as exc:
            transition(uow, task, Status.REJECTED, SYSTEM, _reason(exc)[:2000])
            log.info("review rejected %s/%s: %s", tenant, task_id, exc.message)
            return Status.REJECTED
        transition(uow, task, Status.DONE, SYSTEM, "automated review passed")
        return Status.DONE
