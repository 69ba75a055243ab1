"""Accounting payloads: payable invoices, bank reconciliations, journal entries.

Every amount is a ``Decimal``; totals must agree to the cent.
"""

from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from bpo.core.fields import CURRENCY, Money, Quantity, text
from bpo.core.money import cents

ZERO = Decimal("0")


class InvoiceLine(Schema):
    description = text(300)
    quantity = Quantity(required=True, validate=validate.Range(min=Decimal("0.0001")))
    unit_price = Money(required=True, minimum=ZERO)
    tax_rate = Quantity(
        places=3, load_default=ZERO, validate=validate.Range(min=ZERO, max=Decimal("100"))
    )


class InvoiceTotals(Schema):
    subtotal = Money(required=True)
    tax = Money(required=True, minimum=ZERO)
    total = Money(required=True)


def line_amounts(line: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """(net, tax) of one invoice line, each rounded to the cent."""
    net = cents(line["quantity"] * line["unit_price"])
    return net, cents(net * line["tax_rate"] / 100)


class InvoicePayload(Schema):
    """``accounting.invoice``: a supplier invoice to capture and post (payables)."""

    vendor = text(200)
    invoice_number = text(60)
    invoice_date = fields.Date(required=True)
    due_date = fields.Date(required=True)
    currency = CURRENCY
    lines = fields.List(
        fields.Nested(InvoiceLine), required=True, validate=validate.Length(min=1, max=500)
    )
    totals = fields.Nested(InvoiceTotals, required=True)
    purchase_order = text(60, required=False)

    @validates_schema
    def _dates_and_totals(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        if data["due_date"] < data["invoice_date"]:
            errors["due_date"] = ["must not be before the invoice date"]
        amounts = [line_amounts(line) for line in data["lines"]]
        subtotal = sum((net for net, _ in amounts), ZERO)
        tax = sum((t for _, t in amounts), ZERO)
        totals = data["totals"]
        total_errors: dict[str, list[str]] = {}
        if totals["subtotal"] != subtotal:
            total_errors["subtotal"] = [f"the lines add up to {subtotal}, not {totals['subtotal']}"]
        if totals["tax"] != tax:
            total_errors["tax"] = [f"the lines' tax adds up to {tax}, not {totals['tax']}"]
        if totals["total"] != totals["subtotal"] + totals["tax"]:
            total_errors["total"] = [
                f"subtotal plus tax is {totals['subtotal'] + totals['tax']}, not {totals['total']}"
            ]
        if total_errors:
            errors["totals"] = total_errors
        if errors:
            raise ValidationError(errors)


def invoice_dedupe_key(payload: dict[str, Any]) -> str:
    """Same vendor and invoice number (case and spacing aside) is a likely duplicate."""
    vendor = " ".join(str(payload["vendor"]).lower().split())
    number = "".join(str(payload["invoice_number"]).lower().split())
    return f"invoice:{vendor}:{number}"


class StatementLine(Schema):
    date = fields.Date(required=True)
    description = text(300)
    amount = Money(required=True)
    reference = text(100, required=False)


class BankReconciliationPayload(Schema):
    """``accounting.bank_reconciliation``: match a statement period's lines to the books."""

    account = text(100)
    currency = CURRENCY
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    opening_balance = Money(required=True)
    closing_balance = Money(required=True)
    lines = fields.List(
        fields.Nested(StatementLine), required=True, validate=validate.Length(min=1, max=5000)
    )

    @validates_schema
    def _period_and_balance(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        if data["period_end"] < data["period_start"]:
            errors["period_end"] = ["must not be before the period start"]
        else:
            outside = {
                i: {"date": [f"outside the period {data['period_start']} to {data['period_end']}"]}
                for i, line in enumerate(data["lines"])
                if not data["period_start"] <= line["date"] <= data["period_end"]
            }
            if outside:
                errors["lines"] = outside
        movement = sum((line["amount"] for line in data["lines"]), ZERO)
        if data["opening_balance"] + movement != data["closing_balance"]:
            expected = data["opening_balance"] + movement
            errors["closing_balance"] = [
                f"opening balance plus the lines is {expected}, not {data['closing_balance']}"
            ]
        if errors:
            raise ValidationError(errors)


class JournalLine(Schema):
    account = text(100)
    description = text(300, required=False)
    debit = Money(load_default=ZERO, minimum=ZERO)
    credit = Money(load_default=ZERO, minimum=ZERO)

    @validates_schema
    def _one_side(self, data: dict[str, Any], **kwargs: Any) -> None:
        if (data["debit"] > 0) == (data["credit"] > 0):
            raise ValidationError("enter either a debit or a credit", field_name="debit")


class JournalEntryPayload(Schema):
    """``accounting.journal_entry``: lines whose debits equal their credits."""

    date = fields.Date(required=True)
    currency = CURRENCY
    memo = text(300)
    lines = fields.List(
        fields.Nested(JournalLine), required=True, validate=validate.Length(min=2, max=500)
    )

    @validates_schema
    def _balanced(self, data: dict[str, Any], **kwargs: Any) -> None:
        debits = sum((line["debit"] for line in data["lines"]), ZERO)
        credits = sum((line["credit"] for line in data["lines"]), ZERO)
        if debits != credits:
            raise ValidationError(
                f"debits ({debits}) must equal credits ({credits})", field_name="lines"
            )
