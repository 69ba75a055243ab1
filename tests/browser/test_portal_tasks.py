"""A client submits work of every type in a real browser and sees field errors."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bpo.core.actors import SYSTEM
from bpo.core.uow import unit_of_work
from bpo.work.models import TaskMessage
from bpo.work.services import create_task, transition
from bpo.work.states import Status
from tests.browser.test_login_pages import sign_in
from tests.support.factories import ensure_form, ticket_task
from tests.support.helpers import unique

pytestmark = pytest.mark.browser


@pytest.fixture
def portal(page: Page, world) -> Page:
    ensure_form(world.alpha)
    sign_in(page, f"/portal/{world.alpha}/login", world.client_alpha_email, world.password)
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()
    return page


def fill(page: Page, values: dict[str, str]) -> None:
    for name, value in values.items():
        field = page.locator(f'[name="{name}"]')
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def submitted(page: Page, title: str) -> None:
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    expect(page.locator(".flash-success")).to_contain_text("was submitted")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


def test_invoice_with_a_wrong_total_shows_the_error_next_to_the_total(
    portal: Page, world, artifacts: Path
):
    page = portal
    page.get_by_role("link", name="New task").first.click()
    page.get_by_role("link", name=re.compile("Supplier invoice")).click()
    ref = unique("INV-")
    fill(
        page,
        {
            "title": f"Invoice {ref}",
            "external_ref": ref,
            "payload.vendor": "Paper & Co",
            "payload.invoice_number": ref,
            "payload.invoice_date": "2026-11-02",
            "payload.due_date": "2026-12-02",
            "payload.currency": "USD",
            "payload.lines.0.description": "A4 paper",
            "payload.lines.0.quantity": "3",
            "payload.lines.0.unit_price": "4.99",
            "payload.lines.0.tax_rate": "10",
            "payload.totals.subtotal": "14.97",
            "payload.totals.tax": "1.50",
            "payload.totals.total": "99.99",
        },
    )
    page.get_by_role("button", name="Submit supplier invoice").click()

    total = page.locator('[name="payload.totals.total"]')
    expect(total).to_have_attribute("aria-invalid", "true")
    error = page.locator("#payload-totals-total-error")
    expect(error).to_contain_text("subtotal plus tax is 16.47")
    expect(page.locator('[name="payload.vendor"]')).to_have_value("Paper & Co")  # kept
    page.screenshot(path=artifacts / "portal-invoice-error.png", full_page=True)

    total.fill("16.47")
    page.get_by_role("button", name="Submit supplier invoice").click()
    submitted(page, f"Invoice {ref}")
    expect(page.locator(".payload")).to_contain_text("16.47 USD")
    page.screenshot(path=artifacts / "portal-invoice-task.png", full_page=True)


def test_add_a_line_button_adds_a_numbered_row(portal: Page, world):
    page = portal
    page.goto(f"/portal/{world.alpha}/tasks/new/accounting.journal_entry")
    rows = page.locator('[data-lines="lines"] tbody tr')
    before = rows.count()
    page.get_by_role("button", name="Add a line").click()
    expect(rows).to_have_count(before + 1)
    expect(page.locator(f'[name="payload.lines.{before}.account"]')).to_be_visible()


def test_the_other_four_types(portal: Page, world, artifacts: Path):
    page = portal
    cases = [
        (
            "support.ticket",
            {
                "payload.subject": "Refund for order 5512",
                "payload.requester.name": "Kim Lee",
                "payload.requester.email": "kim@example.com",
                "payload.channel": "email",
                "payload.message": "Returned two weeks ago.",
            },
            "Refund for order 5512",
        ),
        (
            "accounting.journal_entry",
            {
                "payload.date": "2026-11-05",
                "payload.currency": "GBP",
                "payload.memo": "November accrual",
                "payload.lines.0.account": "6100",
                "payload.lines.0.debit": "500.00",
                "payload.lines.1.account": "2100",
                "payload.lines.1.credit": "500.00",
            },
            "Journal entry 2026-11-05: November accrual",
        ),
        (
            "accounting.bank_reconciliation",
            {
                "payload.account": "Checking 4411",
                "payload.currency": "EUR",
                "payload.period_start": "2026-10-01",
                "payload.period_end": "2026-10-31",
                "payload.opening_balance": "1000.00",
                "payload.closing_balance": "1250.50",
                "payload.lines.0.date": "2026-10-03",
                "payload.lines.0.description": "Customer payment",
                "payload.lines.0.amount": "400.50",
                "payload.lines.1.date": "2026-10-20",
                "payload.lines.1.description": "Rent",
                "payload.lines.1.amount": "-150.00",
            },
            "Reconcile Checking 4411 2026-10-01 to 2026-10-31",
        ),
        (
            "data_entry.record",
            {
                "payload.source.text": "Name: ACME LLC, TIN 123456789",
                "payload.values.tin": "123456789",
            },
            "W-9 record",
        ),
    ]
    for type_name, values, title in cases:
        page.goto(f"/portal/{world.alpha}/tasks/new/{type_name}")
        fill(page, values)
        short = type_name.split(".")[1]
        if type_name == "data_entry.record":
            page.screenshot(path=artifacts / "portal-new-record.png", full_page=True)
        page.locator("form.task-form button.primary").click()
        submitted(page, title)
        page.screenshot(path=artifacts / f"portal-task-{short}.png", full_page=True)
    page.get_by_role("navigation").get_by_role("link", name="Tasks", exact=True).click()
    table = page.locator("table.tasks")
    for _type_name, _values, title in cases:
        expect(table).to_contain_text(title)
    page.screenshot(path=artifacts / "portal-task-list.png", full_page=True)


def test_a_bad_record_value_is_marked(portal: Page, world):
    page = portal
    page.goto(f"/portal/{world.alpha}/tasks/new/data_entry.record")
    fill(page, {"payload.source.text": "TIN unreadable", "payload.values.tin": "12-34"})
    page.locator("form.task-form button.primary").click()
    expect(page.locator("#payload-values-tin-error")).to_contain_text("expected format")
    expect(page.locator(".flash-error")).to_contain_text("Nothing was submitted")


def test_a_question_from_the_provider_is_answered(portal: Page, world, artifacts: Path):
    page = portal
    with unit_of_work(world.alpha) as uow:
        task = create_task(uow, ticket_task(title="Refund for order 7731"), SYSTEM).task
        for status in (Status.QUEUED, Status.ASSIGNED, Status.IN_PROGRESS):
            transition(uow, task, status, SYSTEM)
        uow.session.add_all(
            [
                TaskMessage(
                    task=task,
                    visibility="public_reply",
                    author="staff:1",
                    author_name="Agent Ann",
                    body="Which card was the order paid with?",
                ),
                TaskMessage(
                    task=task,
                    visibility="internal_note",
                    author="staff:1",
                    author_name="Agent Ann",
                    body="check the chargeback list first",
                ),
            ]
        )
        transition(uow, task, Status.WAITING_ON_CLIENT, SYSTEM, "need the card used")
        task_id = task.id
    page.goto(f"/portal/{world.alpha}/tasks/{task_id}")
    expect(page.locator(".flash-question")).to_contain_text("The provider asked a question")
    expect(page.locator(".flash-question .question")).to_have_text(
        "Which card was the order paid with?"
    )
    expect(page.locator("#messages")).to_contain_text("Which card was the order paid with?")
    expect(page.locator("body")).not_to_contain_text("chargeback")
    expect(page.get_by_role("button", name="Cancel this task")).to_have_count(0)
    page.screenshot(path=artifacts / "portal-task-question.png", full_page=True)
    page.get_by_label("Your answer").fill("The Visa ending 4242.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".flash-success")).to_contain_text("Your message was sent")
    expect(page.locator("#messages")).to_contain_text("The Visa ending 4242.")
    expect(page.locator(".flash-question")).to_have_count(0)
    expect(page.locator(".status.big")).to_have_text(re.compile(r"^\s*in progress\s*$", re.I))


def test_cancel_from_the_task_page_and_filter_the_list(portal: Page, world, artifacts: Path):
    page = portal
    tag = unique("cancel")
    with unit_of_work(world.alpha) as uow:
        task_id = create_task(uow, ticket_task(title=f"{tag} ticket"), SYSTEM).task.id
    page.goto(f"/portal/{world.alpha}/tasks/{task_id}")
    page.get_by_label("Reason for cancelling").fill("solved it ourselves")
    asked: list[str] = []  # the page asks first; saying no keeps the task
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.get_by_role("button", name="Cancel this task").click()
    expect(page.get_by_role("button", name="Cancel this task")).to_be_visible()
    assert asked and "Cancel this task?" in asked[0]
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Cancel this task").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Task {task_id} was cancelled")
    expect(page.locator(".status.big")).to_have_text(re.compile(r"^\s*cancelled\s*$", re.I))
    expect(page.locator(".timeline")).to_contain_text("solved it ourselves")
    page.goto(f"/portal/{world.alpha}/tasks")
    page.get_by_label("Search").fill(tag)
    page.get_by_label("Status").select_option("cancelled")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.tasks tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(f"{tag} ticket")
    page.goto(f"/portal/{world.alpha}/tasks?created_from=yesterday")
    expect(page.locator(".flash-error")).to_contain_text("created_from")
    page.screenshot(path=artifacts / "portal-task-list-bad-filter.png", full_page=True)
