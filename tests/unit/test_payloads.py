"""Every task type's payload rules, happy path and each rule (pure: no database)."""

from decimal import Decimal

import pytest
from marshmallow import ValidationError

from bpo.accounting.schemas import (
    BankReconciliationPayload,
    InvoicePayload,
    JournalEntryPayload,
    invoice_dedupe_key,
)
from bpo.dataentry.schemas import FormDefinition, RecordPayload, validate_values
from bpo.support.schemas import TicketPayload


def invoice(**overrides):
    data = {
        "vendor": "Paper & Co",
        "invoice_number": "INV-1001",
        "invoice_date": "2026-11-02",
        "due_date": "2026-12-02",
        "currency": "USD",
        "lines": [
            {"description": "A4 paper", "quantity": "3", "unit_price": "4.99", "tax_rate": "8.875"},
            {"description": "Toner", "quantity": "1", "unit_price": "89.10", "tax_rate": "8.875"},
        ],
        "totals": {"subtotal": "104.07", "tax": "9.24", "total": "113.31"},
    }
    data.update(overrides)
    return data


def errors_of(schema, data):
    with pytest.raises(ValidationError) as raised:
        schema.load(data)
    return raised.value.messages


def test_invoice_happy_path_keeps_decimals():
    loaded = InvoicePayload().load(invoice())
    assert loaded["totals"]["total"] == Decimal("113.31")
    assert isinstance(loaded["lines"][0]["unit_price"], Decimal)
    assert InvoicePayload().dump(loaded)["totals"]["total"] == "113.31"


def test_invoice_line_tax_is_rounded_per_line_to_the_cent():
    # 3 x 4.99 = 14.97 -> tax 1.3286 -> 1.33; 89.10 -> 7.9076 -> 7.91; 1.33 + 7.91 = 9.24
    assert InvoicePayload().load(invoice())["totals"]["tax"] == Decimal("9.24")


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        (
            {"totals": {"subtotal": "104.06", "tax": "9.24", "total": "113.30"}},
            ("totals", "subtotal"),
            "104.07",
        ),
        (
            {"totals": {"subtotal": "104.07", "tax": "9.25", "total": "113.32"}},
            ("totals", "tax"),
            "9.24",
        ),
        (
            {"totals": {"subtotal": "104.07", "tax": "9.24", "total": "113.32"}},
            ("totals", "total"),
            "113.31",
        ),
        ({"due_date": "2026-11-01"}, ("due_date",), "before the invoice date"),
        ({"currency": "usd"}, ("currency",), "ISO 4217"),
        ({"lines": []}, ("lines",), "Length"),
        ({"vendor": ""}, ("vendor",), "Length"),
    ],
)
def test_invoice_rules(change, path, fragment):
    messages = errors_of(InvoicePayload(), invoice(**change))
    for key in path:
        messages = messages[key]
    assert fragment.lower() in " ".join(map(str, messages)).lower()


def test_invoice_refuses_floats_and_extra_places():
    bad = invoice()
    bad["lines"][0]["unit_price"] = 4.99
    assert "floating-point" in str(errors_of(InvoicePayload(), bad)["lines"][0]["unit_price"])
    bad = invoice()
    bad["lines"][0]["unit_price"] = "4.999"
    assert "two decimal places" in str(errors_of(InvoicePayload(), bad)["lines"][0]["unit_price"])
    bad = invoice()
    bad["lines"][0]["quantity"] = "0"
    assert "quantity" in errors_of(InvoicePayload(), bad)["lines"][0]


def test_invoice_unknown_fields_are_refused():
    assert "colour" in errors_of(InvoicePayload(), invoice(colour="red"))


def test_duplicate_key_ignores_case_and_spacing():
    a = invoice_dedupe_key({"vendor": "Paper  & Co", "invoice_number": "inv-1001"})
    b = invoice_dedupe_key({"vendor": "paper & co", "invoice_number": "INV- 1001"})
    assert a == b


def reconciliation(**overrides):
    data = {
        "account": "Checking 4411",
        "currency": "EUR",
        "period_start": "2026-10-01",
        "period_end": "2026-10-31",
        "opening_balance": "1000.00",
        "closing_balance": "1250.50",
        "lines": [
            {"date": "2026-10-03", "description": "Customer payment", "amount": "400.50"},
            {"date": "2026-10-20", "description": "Rent", "amount": "-150.00", "reference": "SO-9"},
        ],
    }
    data.update(overrides)
    return data


def test_reconciliation_happy_path_and_rules():
    loaded = BankReconciliationPayload().load(reconciliation())
    assert loaded["closing_balance"] == Decimal("1250.50")
    messages = errors_of(BankReconciliationPayload(), reconciliation(closing_balance="1250.51"))
    assert "1250.50" in str(messages["closing_balance"])
    messages = errors_of(BankReconciliationPayload(), reconciliation(period_end="2026-09-30"))
    assert "period_end" in messages
    outside = reconciliation()
    outside["lines"][1]["date"] = "2026-11-01"
    assert "outside the period" in str(
        errors_of(BankReconciliationPayload(), outside)["lines"][1]["date"]
    )


def journal(lines):
    return {"date": "2026-11-05", "currency": "GBP", "memo": "Accrual", "lines": lines}


def test_journal_entry_balances():
    ok = journal([{"account": "6100", "debit": "500.00"}, {"account": "2100", "credit": "500.00"}])
    assert JournalEntryPayload().load(ok)["lines"][1]["credit"] == Decimal("500.00")
    unbalanced = journal(
        [{"account": "6100", "debit": "500.00"}, {"account": "2100", "credit": "499.99"}]
    )
    assert "must equal credits" in str(errors_of(JournalEntryPayload(), unbalanced)["lines"])
    both = journal(
        [{"account": "6100", "debit": "5.00", "credit": "5.00"}, {"account": "2100", "credit": "0"}]
    )
    assert "either a debit or a credit" in str(errors_of(JournalEntryPayload(), both)["lines"][0])
    single = journal([{"account": "6100", "debit": "5.00"}])
    assert "lines" in errors_of(JournalEntryPayload(), single)


def test_ticket_rules():
    ok = {
        "subject": "Refund",
        "requester": {"name": "Kim", "email": "kim@example.com"},
        "channel": "email",
        "message": "Please refund order 55",
    }
    assert TicketPayload().load(ok)["channel"] == "email"
    messages = errors_of(
        TicketPayload(), {**ok, "channel": "pigeon", "requester": {"name": "K", "email": "nope"}}
    )
    assert "channel" in messages and "email" in messages["requester"]
    assert "message" in errors_of(TicketPayload(), {**ok, "message": ""})


FORM = {
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
        {"name": "amount", "label": "Amount", "type": "money", "min": "0", "max": "10000"},
        {"name": "signed", "label": "Signed on", "type": "date", "min": "2020-01-01"},
        {"name": "class", "label": "Class", "type": "choice", "choices": ["individual", "llc"]},
        {"name": "pages", "label": "Pages", "type": "number", "max": "50"},
    ],
}


def test_form_definitions_are_validated():
    assert FormDefinition().load(FORM)["fields"][0]["critical"] is True
    dup = {**FORM, "fields": [FORM["fields"][0], FORM["fields"][0]]}
    assert "unique" in str(errors_of(FormDefinition(), dup)["fields"])
    no_choices = {**FORM, "fields": [{"name": "c", "label": "C", "type": "choice"}]}
    assert "choices" in str(errors_of(FormDefinition(), no_choices))
    bad_regex = {**FORM, "fields": [{"name": "t", "label": "T", "type": "text", "pattern": "("}]}
    assert "regular expression" in str(errors_of(FormDefinition(), bad_regex))
    range_on_text = {**FORM, "fields": [{"name": "t", "label": "T", "type": "text", "min": "1"}]}
    assert "min" in str(errors_of(FormDefinition(), range_on_text))


def test_record_values_are_checked_against_the_form():
    fields = FormDefinition().load(FORM)["fields"]
    clean = validate_values(
        fields, {"tin": "123456789", "amount": "99.50", "signed": "2026-01-02", "class": "llc"}
    )
    assert clean == {"tin": "123456789", "amount": "99.50", "signed": "2026-01-02", "class": "llc"}
    with pytest.raises(ValidationError) as raised:
        validate_values(
            fields,
            {
                "tin": "12-34",
                "amount": "10000.01",
                "signed": "2019-12-31",
                "class": "corp",
                "pages": "x",
                "zzz": "1",
            },
        )
    errors = raised.value.messages
    assert "format" in errors["tin"][0]
    assert "at most 10000" in errors["amount"][0]
    assert "at least 2020-01-01" in errors["signed"][0]
    assert "one of individual, llc" in errors["class"][0]
    assert "not a number" in errors["pages"][0]
    assert "not a field" in errors["zzz"][0]
    with pytest.raises(ValidationError) as raised:
        validate_values(fields, {"amount": "1.001"})
    assert raised.value.messages == {"tin": ["required"], "amount": ["at most two decimal places"]}


def test_record_needs_exactly_one_source():
    assert RecordPayload().load({"form": "w9", "source": {"text": "scan text"}})["values"] == {}
    assert "source" in errors_of(RecordPayload(), {"form": "w9", "source": {}})
    assert "source" in errors_of(
        RecordPayload(), {"form": "w9", "source": {"text": "x", "attachment_id": 1}}
    )


def test_stored_payloads_equal_what_the_schemas_dump():
    """services.json_safe stands in for schema.dump on intake: they must agree."""
    from bpo.work.services import json_safe
    from bpo.work.types import TYPES
    from tests.support.factories import ALL_TYPES

    for factory in ALL_TYPES:
        task = factory()
        schema = TYPES[task["type"]].schema
        loaded = schema.load(task["payload"])
        assert json_safe(loaded) == schema.dump(loaded), task["type"]
