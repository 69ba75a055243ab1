"""Valid task inputs for tests, one per type."""

from typing import Any

from bpo.core.uow import unit_of_work
from bpo.dataentry.schemas import FormDefinition
from bpo.work.models import DataEntryForm
from tests.support.helpers import unique

W9 = {
    "key": "w9",
    "name": "W-9",
    "fields": [
        {
            "name": "tin",
            "label": "TIN",
            "type": "text",
            "required": True,
            "pattern": r"\d{9}",
            "critical": True,
        },
        {"name": "amount", "label": "Amount", "type": "money", "min": "0"},
    ],
}


def ensure_form(tenant: str, definition: dict[str, Any] = W9) -> None:
    from sqlalchemy import select

    with unit_of_work(tenant) as uow:
        if (
            uow.session.scalar(
                select(DataEntryForm.id).where(DataEntryForm.key == definition["key"])
            )
            is None
        ):
            loaded = FormDefinition().load(definition)
            uow.session.add(
                DataEntryForm(key=loaded["key"], name=loaded["name"], fields=loaded["fields"])
            )


def invoice_task(**overrides: Any) -> dict[str, Any]:
    payload = {
        "vendor": "Paper & Co",
        "invoice_number": unique("INV-"),
        "invoice_date": "2026-11-02",
        "due_date": "2026-12-02",
        "currency": "USD",
        "lines": [
            {"description": "A4 paper", "quantity": "3", "unit_price": "4.99", "tax_rate": "10"}
        ],
        "totals": {"subtotal": "14.97", "tax": "1.50", "total": "16.47"},
    }
    payload.update(overrides.pop("payload", {}))
    return {"type": "accounting.invoice", "payload": payload, **overrides}


def ticket_task(**overrides: Any) -> dict[str, Any]:
    payload = {
        "subject": "Where is my refund?",
        "requester": {"name": "Kim Lee", "email": "kim@example.com"},
        "channel": "email",
        "message": "Order 5512 was returned two weeks ago.",
    }
    payload.update(overrides.pop("payload", {}))
    return {"type": "support.ticket", "payload": payload, **overrides}


def record_task(**overrides: Any) -> dict[str, Any]:
    payload = {"form": "w9", "source": {"text": "Name: ACME LLC, TIN 123-45-6789"}}
    payload.update(overrides.pop("payload", {}))
    return {"type": "data_entry.record", "payload": payload, **overrides}


def journal_task(**overrides: Any) -> dict[str, Any]:
    payload = {
        "date": "2026-11-05",
        "currency": "GBP",
        "memo": "November accrual",
        "lines": [{"account": "6100", "debit": "500.00"}, {"account": "2100", "credit": "500.00"}],
    }
    payload.update(overrides.pop("payload", {}))
    return {"type": "accounting.journal_entry", "payload": payload, **overrides}


def reconciliation_task(**overrides: Any) -> dict[str, Any]:
    payload = {
        "account": "Checking 4411",
        "currency": "EUR",
        "period_start": "2026-10-01",
        "period_end": "2026-10-31",
        "opening_balance": "1000.00",
        "closing_balance": "1250.50",
        "lines": [
            {"date": "2026-10-03", "description": "Customer payment", "amount": "400.50"},
            {"date": "2026-10-20", "description": "Rent", "amount": "-150.00"},
        ],
    }
    payload.update(overrides.pop("payload", {}))
    return {"type": "accounting.bank_reconciliation", "payload": payload, **overrides}


ALL_TYPES = (record_task, invoice_task, reconciliation_task, journal_task, ticket_task)


def task_count(tenant: str) -> int:
    """How many tasks ``tenant`` has (tests compare before and after: nothing written)."""
    from sqlalchemy import func, select

    from bpo.work.models import Task

    with unit_of_work(tenant) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Task)) or 0)
