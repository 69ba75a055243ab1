"""Two agents with different skills work their queues in a real browser.

The data/support agent keys a record (after a field error), replies to a ticket
and resolves it, pauses one with a question and declines another; the
accounting agent captures an invoice whose total is wrong first. Both take their
work with "Next task" only.
"""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from bpo.core.uow import unit_of_work
from bpo.routing import router
from bpo.routing.review import review
from bpo.routing.rules import Presence
from bpo.work import index
from bpo.work.models import Task, WorkItem
from bpo.work.states import Status
from tenants.db import utcnow
from tests.browser.test_login_pages import sign_in
from tests.support.agents import make_agent, new_tenant
from tests.support.factories import ensure_form, invoice_task, record_task, ticket_task
from tests.support.helpers import PASSWORD
from tests.web.test_agent_desk import email_of, new_task, task_of

pytestmark = pytest.mark.browser


def _due_in(tenant: str, task_id: int, minutes: int) -> None:
    """Give a task an SLA (the SLA engine is not part of this test): it sets the order."""
    due = utcnow() + timedelta(minutes=minutes)
    with unit_of_work(tenant) as uow:
        uow.session.execute(update(Task).where(Task.id == task_id).values(sla_due_at=due))
        uow.session.execute(
            update(WorkItem)
            .where(WorkItem.tenant_id == index.tenant_id(uow), WorkItem.task_id == task_id)
            .values(sla_due_at=due)
        )


@pytest.fixture
def office():
    """A tenant with waiting work of every kind and two offline agents."""
    tenant = new_tenant("ws")
    ensure_form(tenant)
    tasks = {
        "record": new_task(tenant, record_task(title="Key W-9 of ACME"), route=False),
        "ticket": new_task(tenant, ticket_task(title="Refund not received"), route=False),
        "question": new_task(tenant, ticket_task(title="Which order?"), route=False),
        "decline": new_task(tenant, ticket_task(title="Ticket in Finnish"), route=False),
        "invoice": new_task(tenant, invoice_task(title="Paper & Co invoice"), route=False),
    }
    for minutes, key in enumerate(("invoice", "record", "ticket", "question", "decline")):
        _due_in(tenant, tasks[key], 30 + 45 * minutes)
    router.route(tenant, list(tasks.values()))  # nobody is online: all wait in the pool
    clerk = make_agent(
        [tenant],
        skills={"data_entry.record": 2, "support.ticket": 2},
        presence=Presence.OFFLINE,
        name="Dana Clerk",
    )
    accountant = make_agent(
        [tenant], skills={"accounting.invoice": 2}, presence=Presence.OFFLINE, name="Ari Ledger"
    )
    return tenant, tasks, clerk, accountant


def _start_shift(page: Page, agent_id: int) -> None:
    sign_in(page, "/login", email_of(agent_id), PASSWORD)
    page.goto("/agent/queue")
    expect(page.locator("#presence")).to_have_text("offline")
    page.get_by_role("button", name="Go online").click()
    expect(page.locator("#presence")).to_have_text("online")


def _next(page: Page, title: str) -> None:
    page.get_by_role("button", name="Next task").click()
    expect(page).to_have_url(re.compile(r"/agent/t/[a-z0-9_]+/tasks/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator("#task-status")).to_have_text("in progress")


def test_two_agents_work_their_queues(
    page: Page, browser: Browser, live_server, office, artifacts: Path
):
    tenant, tasks, clerk, accountant = office

    # -- the clerk: a record, a ticket, a question, a decline ---------------------------
    _start_shift(page, clerk)
    _next(page, "Key W-9 of ACME")
    expect(page.locator(".critical-badge").first).to_be_visible()
    page.locator('[name="values.tin"]').fill("12-345")
    page.get_by_role("button", name="Hand in").click()
    expect(page.locator("#values-tin-error")).to_contain_text("does not match")
    expect(page.locator('[name="values.tin"]')).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=artifacts / "agent-record-error.png", full_page=True)
    page.locator('[name="values.tin"]').fill("123456789")
    page.get_by_role("button", name="Hand in").click()
    expect(page.locator(".flash-success")).to_contain_text("handed in")

    _next(page, "Refund not received")
    page.locator('[name="body"]').fill("Your refund left us today.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#thread")).to_contain_text("Your refund left us today.")
    page.locator('[name="resolution"]').fill("refund sent")
    page.get_by_role("button", name="Resolve and hand in").click()
    expect(page.locator(".flash-success")).to_contain_text("handed in")

    _next(page, "Which order?")
    page.locator('[name="question"]').fill("Which order number is it?")
    page.get_by_role("button", name="Pause and ask").click()
    expect(page.locator(".flash-success")).to_contain_text("waiting on the client")
    row = page.locator(f'[data-task="{tenant}-{tasks["question"]}"]')
    expect(row).to_contain_text("waiting on client")

    _next(page, "Ticket in Finnish")
    page.get_by_role("button", name="Decline").click()
    expect(page.locator("#reason-error")).to_be_visible()
    page.locator('[name="reason"]').fill("I do not read Finnish")
    page.get_by_role("button", name="Decline").click()
    expect(page.locator(".flash-success")).to_contain_text("went back to the pool")

    page.get_by_role("button", name="Next task").click()
    expect(page.locator(".flash-notice")).to_contain_text("pool is empty")
    expect(page.locator(".countdown").first).to_contain_text(re.compile(r"\d\dm \d\ds left"))
    page.screenshot(path=artifacts / "agent-queue.png", full_page=True)

    # -- the accountant: an invoice, total wrong first ---------------------------------
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    errors: list[str] = []
    context.on("response", lambda r: errors.append(r.url) if r.status >= 500 else None)
    ledger = context.new_page()
    try:
        _start_shift(ledger, accountant)
        _next(ledger, "Paper & Co invoice")
        expect(ledger.locator('[name="invoice.totals.total"]')).to_have_value("16.47")
        ledger.locator('[name="invoice.totals.total"]').fill("16.74")
        ledger.locator('[name="gl_account"]').fill("6100")
        ledger.get_by_role("button", name="Hand in").click()
        expect(ledger.locator("#invoice-totals-total-error")).to_contain_text("16.47")
        ledger.screenshot(path=artifacts / "agent-invoice-error.png", full_page=True)
        ledger.locator('[name="invoice.totals.total"]').fill("16.47")
        ledger.get_by_role("button", name="Hand in").click()
        expect(ledger.locator(".flash-success")).to_contain_text("handed in")
    finally:
        context.close()
    assert not errors, errors

    # -- the automated review, as its job would run it ---------------------------------
    for key in ("record", "ticket", "invoice"):
        assert review(tenant, tasks[key]) is Status.DONE, key
    assert task_of(tenant, tasks["question"]).status is Status.WAITING_ON_CLIENT
    assert task_of(tenant, tasks["decline"]).status is Status.QUEUED
