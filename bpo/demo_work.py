"""Demo work for each demo tenant: a data-entry form and tasks of every type.

Everything goes through the same services as the portal and the API (forms via
:func:`bpo.dataentry.services.create_form`, tasks via
:func:`bpo.work.services.create_batch`), so the demo shows real validation, the
duplicate-invoice flag and routing jobs queued after commit. Seeding a tenant's
work runs once: a tenant that already has tasks is left alone.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from bpo.accounting.schemas import line_amounts
from bpo.core.actors import Actor
from bpo.core.money import cents
from bpo.core.uow import unit_of_work
from bpo.dataentry.services import create_form, form_by_key
from bpo.work.models import Task
from bpo.work.services import create_batch

if TYPE_CHECKING:
    from bpo.demo_sla import DemoSla


@dataclass(frozen=True)
class DemoBook:
    """What one demo tenant's work is about."""

    currency: str
    form: dict[str, Any]
    records: tuple[tuple[str, dict[str, Any]], ...]  # (source text, keyed values or {})
    vendors: tuple[tuple[str, tuple[tuple[str, str, str, str], ...]], ...]  # lines per vendor
    account: str
    tickets: tuple[tuple[str, str, str, str, str], ...]  # subject, name, email, channel, message


BOOKS: dict[str, DemoBook] = {
    "acme": DemoBook(
        currency="USD",
        form={
            "key": "vendor_onboarding",
            "name": "Vendor onboarding (W-9)",
            "fields": [
                {"name": "legal_name", "label": "Legal name", "type": "text", "required": True},
                {
                    "name": "tin",
                    "label": "Taxpayer ID (9 digits)",
                    "type": "text",
                    "required": True,
                    "pattern": r"\d{9}",
                    "critical": True,
                },
                {
                    "name": "entity_type",
                    "label": "Entity type",
                    "type": "choice",
                    "choices": ["Individual", "LLC", "C corporation", "S corporation"],
                },
                {"name": "credit_limit", "label": "Credit limit", "type": "money", "min": "0"},
            ],
        },
        records=(
            ("W-9 scan: Brightside Cleaning LLC, TIN 84-1234567, LLC", {}),
            ("W-9 scan: Harbor Freightways Inc., TIN 36-7654321, C corporation", {}),
            (
                "W-9 scan: Lucy Tran (sole proprietor), SSN on file",
                {"legal_name": "Lucy Tran", "tin": "512349876", "entity_type": "Individual"},
            ),
            ("Vendor form emailed by Midtown Signs, page 2 is blurry", {}),
        ),
        vendors=(
            (
                "Paper & Co",
                (
                    ("A4 paper, 10 reams", "3", "42.50", "8.875"),
                    ("Toner cartridge", "2", "89.99", "8.875"),
                ),
            ),
            ("Brightside Cleaning LLC", (("Store cleaning, October", "1", "1850.00", "0"),)),
            ("Harbor Freightways Inc.", (("Pallet freight NJ-NY", "14", "37.25", "0"),)),
        ),
        account="Chase operating 4411",
        tickets=(
            (
                "Where is my refund?",
                "Kim Lee",
                "kim.lee@example.com",
                "email",
                "I returned order 5512 two weeks ago and have no refund yet.",
            ),
            (
                "Wrong size delivered",
                "Omar Haddad",
                "omar@example.net",
                "chat",
                "Ordered a medium jacket, got a small. Can you swap it?",
            ),
            (
                "Cancel my subscription",
                "Jo Park",
                "jo.park@example.org",
                "phone",
                "Please stop the monthly snack box from December.",
            ),
        ),
    ),
    "globex": DemoBook(
        currency="GBP",
        form={
            "key": "delivery_note",
            "name": "Proof of delivery",
            "fields": [
                {
                    "name": "consignment",
                    "label": "Consignment no.",
                    "type": "text",
                    "required": True,
                    "pattern": r"GX\d{6}",
                    "critical": True,
                },
                {"name": "pallets", "label": "Pallets", "type": "number", "min": "1", "max": "60"},
                {"name": "delivered_on", "label": "Delivered on", "type": "date", "required": True},
                {
                    "name": "depot",
                    "label": "Depot",
                    "type": "choice",
                    "choices": ["Leeds", "Bristol", "Felixstowe"],
                },
            ],
        },
        records=(
            ("POD photo: consignment GX104233, 12 pallets, Leeds, signed 3 Nov", {}),
            (
                "POD photo: consignment GX104250, 4 pallets, Bristol",
                {
                    "consignment": "GX104250",
                    "pallets": "4",
                    "delivered_on": "2026-11-04",
                    "depot": "Bristol",
                },
            ),
            ("POD scan, consignment number smudged, Felixstowe", {}),
        ),
        vendors=(
            ("Northern Diesel Ltd", (("Diesel, 2,000 litres", "2000", "1.42", "20"),)),
            (
                "Tyre World",
                (("HGV tyre 315/80", "6", "289.00", "20"), ("Fitting", "6", "25.00", "20")),
            ),
        ),
        account="Barclays business 2290",
        tickets=(
            (
                "Delivery slot for Friday",
                "Priya Shah",
                "priya@retailer.co.uk",
                "email",
                "Can we move consignment GX104301 to Friday morning?",
            ),
            (
                "Damaged pallet",
                "Tom Reid",
                "tom.reid@example.co.uk",
                "portal",
                "One pallet arrived crushed; photos attached to our claim.",
            ),
        ),
    ),
    "initech": DemoBook(
        currency="AUD",
        form={
            "key": "expense_claim",
            "name": "Expense claim",
            "fields": [
                {"name": "employee", "label": "Employee", "type": "text", "required": True},
                {
                    "name": "amount",
                    "label": "Amount",
                    "type": "money",
                    "required": True,
                    "min": "0.01",
                    "critical": True,
                },
                {
                    "name": "category",
                    "label": "Category",
                    "type": "choice",
                    "choices": ["Travel", "Meals", "Software", "Other"],
                },
                {"name": "incurred_on", "label": "Incurred on", "type": "date"},
            ],
        },
        records=(
            ("Receipt: Qantas SYD-MEL return, A$412.60, employee Peter Gibbons", {}),
            (
                "Receipt: team lunch, A$186.00, Samir N.",
                {"employee": "Samir Nagheenanajar", "amount": "186.00", "category": "Meals"},
            ),
            ("Receipt: JetBrains licence renewal, illegible total", {}),
        ),
        vendors=(
            (
                "CloudHost Pty Ltd",
                (
                    ("Hosting, November", "1", "2450.00", "10"),
                    ("Extra storage 2 TB", "2", "60.00", "10"),
                ),
            ),
            ("Office Brew Co", (("Coffee beans 1 kg", "12", "38.50", "10"),)),
        ),
        account="Westpac business 7781",
        tickets=(
            (
                "TPS report template",
                "Bill Lumbergh",
                "bill@initech.example",
                "email",
                "Did everyone get the memo about the new cover sheets?",
            ),
            (
                "Stapler missing",
                "Milton Waddams",
                "milton@initech.example",
                "phone",
                "I was told I could keep my red stapler.",
            ),
        ),
    ),
}

PRIORITIES = ("normal", "high", "low", "urgent", "normal")


def invoice_payload(
    vendor: str, number: str, when: date, currency: str, lines: Any
) -> dict[str, Any]:
    """An invoice whose totals add up to the cent, as a client's system would send it."""
    rows = [
        {"description": d, "quantity": q, "unit_price": p, "tax_rate": r} for d, q, p, r in lines
    ]
    amounts = [
        line_amounts({"quantity": Decimal(q), "unit_price": Decimal(p), "tax_rate": Decimal(r)})
        for _, q, p, r in lines
    ]
    subtotal = cents(sum((net for net, _ in amounts), Decimal(0)))
    tax = cents(sum((t for _, t in amounts), Decimal(0)))
    return {
        "vendor": vendor,
        "invoice_number": number,
        "invoice_date": when.isoformat(),
        "due_date": (when + timedelta(days=30)).isoformat(),
        "currency": currency,
        "lines": rows,
        "totals": {"subtotal": str(subtotal), "tax": str(tax), "total": str(subtotal + tax)},
    }


def demo_tasks(slug: str, book: DemoBook, today: date) -> list[dict[str, Any]]:
    """Task inputs of every type for one tenant (one invoice is sent twice, as happens)."""
    tasks: list[dict[str, Any]] = []
    for i, (text, values) in enumerate(book.records, 1):
        tasks.append(
            {
                "type": "data_entry.record",
                "external_ref": f"{slug.upper()}-DE-{i:04d}",
                "priority": PRIORITIES[i % len(PRIORITIES)],
                "payload": {"form": book.form["key"], "source": {"text": text}, "values": values},
            }
        )
    for i, (vendor, lines) in enumerate(book.vendors, 1):
        tasks.append(
            {
                "type": "accounting.invoice",
                "external_ref": f"{slug.upper()}-AP-{i:04d}",
                "priority": PRIORITIES[(i + 1) % len(PRIORITIES)],
                "payload": invoice_payload(
                    vendor, f"INV-{1000 + i}", today - timedelta(days=3 * i), book.currency, lines
                ),
            }
        )
    vendor, lines = book.vendors[0]
    tasks.append(  # the same invoice again, from another mailbox: flagged as a likely duplicate
        {
            "type": "accounting.invoice",
            "title": f"{vendor} invoice INV-1001 (resent)",
            "external_ref": f"{slug.upper()}-AP-{len(book.vendors) + 1:04d}",
            "payload": invoice_payload(
                vendor, "INV-1001", today - timedelta(days=3), book.currency, lines
            ),
        }
    )
    period_end = today.replace(day=1) - timedelta(days=1)
    tasks.append(
        {
            "type": "accounting.bank_reconciliation",
            "external_ref": f"{slug.upper()}-REC-{period_end:%Y%m}",
            "priority": "high",
            "payload": {
                "account": book.account,
                "currency": book.currency,
                "period_start": period_end.replace(day=1).isoformat(),
                "period_end": period_end.isoformat(),
                "opening_balance": "12500.00",
                "closing_balance": "10968.45",
                "lines": [
                    {
                        "date": period_end.replace(day=3).isoformat(),
                        "description": "Customer receipts",
                        "amount": "4210.95",
                    },
                    {
                        "date": period_end.replace(day=15).isoformat(),
                        "description": "Payroll",
                        "amount": "-5120.00",
                    },
                    {
                        "date": period_end.replace(day=28).isoformat(),
                        "description": "Bank fees",
                        "amount": "-22.50",
                    },
                    {
                        "date": period_end.replace(day=28).isoformat(),
                        "description": "Card settlement",
                        "amount": "-600.00",
                    },
                ],
            },
        }
    )
    tasks.append(
        {
            "type": "accounting.journal_entry",
            "external_ref": f"{slug.upper()}-JE-{period_end:%Y%m}",
            "payload": {
                "date": period_end.isoformat(),
                "currency": book.currency,
                "memo": f"Accrued expenses {period_end:%B %Y}",
                "lines": [
                    {"account": "6100 Utilities", "debit": "840.00"},
                    {"account": "6200 Professional fees", "debit": "1500.00"},
                    {"account": "2100 Accrued liabilities", "credit": "2340.00"},
                ],
            },
        }
    )
    for i, (subject, name, email, channel, message) in enumerate(book.tickets, 1):
        tasks.append(
            {
                "type": "support.ticket",
                "external_ref": f"{slug.upper()}-T-{i:04d}",
                "priority": PRIORITIES[(i + 2) % len(PRIORITIES)],
                "payload": {
                    "subject": subject,
                    "requester": {"name": name, "email": email},
                    "channel": channel,
                    "message": message,
                },
            }
        )
    return tasks


def seed_work(
    slug: str,
    requester: Actor,
    *,
    book: DemoBook | None = None,
    today: date | None = None,
    sla: "DemoSla | None" = None,
) -> int:
    """Seed ``slug``'s form and work unless it has tasks; returns how many tasks were created.

    With ``sla``, the tenant's calendar and policies come first (so intake starts the
    clocks), then closed history of the last 30 days is added and the SLA story told
    (:func:`tell_sla_story`).
    """
    from bpo.demo_sla import history_tasks, seed_sla, tell_sla_story

    book = book or BOOKS.get(slug, BOOKS["acme"])
    today = today or date.today()
    with unit_of_work(slug) as uow:
        if uow.session.scalar(select(func.count()).select_from(Task)):
            return 0
    if sla is not None:
        seed_sla(slug, sla)
    with unit_of_work(slug) as uow:
        if form_by_key(uow, book.form["key"]) is None:
            create_form(uow, book.form)
        result = create_batch(uow, demo_tasks(slug, book, today), requester)
        history = (
            create_batch(uow, history_tasks(slug, book, today), requester).created if sla else []
        )
    if sla is not None:
        tell_sla_story(slug, [t.id for t in result.created], [t.id for t in history])
    return len(result.created) + len(history)
