"""The registry of task types: each names its kind, payload schema and checks."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema

from bpo.accounting.schemas import (
    BankReconciliationPayload,
    InvoicePayload,
    JournalEntryPayload,
    invoice_dedupe_key,
)
from bpo.dataentry.schemas import RecordPayload
from bpo.support.schemas import TicketPayload
from bpo.work.states import Kind


@dataclass(frozen=True)
class TaskType:
    name: str
    kind: Kind
    label: str
    schema: Schema  # one instance, reused: building marshmallow schemas is not free
    weight: int  # capacity units an agent spends on it
    default_title: Callable[[dict[str, Any]], str]
    dedupe_key: Callable[[dict[str, Any]], str] | None = None
    skill_level: int = 1  # the level of skill in this type an agent needs to take it


TYPES: dict[str, TaskType] = {
    t.name: t
    for t in (
        TaskType(
            "data_entry.record",
            Kind.DATA_ENTRY,
            "Data entry record",
            RecordPayload(),
            1,
            lambda p: f"Key {p['form']} record",
        ),
        TaskType(
            "accounting.invoice",
            Kind.ACCOUNTING,
            "Supplier invoice",
            InvoicePayload(),
            2,
            lambda p: f"Invoice {p['invoice_number']} from {p['vendor']}",
            invoice_dedupe_key,
        ),
        TaskType(
            "accounting.bank_reconciliation",
            Kind.ACCOUNTING,
            "Bank reconciliation",
            BankReconciliationPayload(),
            4,
            lambda p: f"Reconcile {p['account']} {p['period_start']} to {p['period_end']}",
            skill_level=2,
        ),
        TaskType(
            "accounting.journal_entry",
            Kind.ACCOUNTING,
            "Journal entry",
            JournalEntryPayload(),
            2,
            lambda p: f"Journal entry {p['date']}: {p['memo']}",
        ),
        TaskType(
            "support.ticket",
            Kind.SUPPORT,
            "Support ticket",
            TicketPayload(),
            1,
            lambda p: str(p["subject"]),
        ),
    )
}
