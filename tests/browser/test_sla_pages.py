"""A supervisor edits an SLA policy (a bad value, then a good one) and previews; a
client opens the SLA report. Real Chromium; screenshots in tests/artifacts/."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.work import services
from tests.browser.test_login_pages import sign_in
from tests.support.agents import new_tenant
from tests.support.factories import invoice_task
from tests.support.helpers import PASSWORD
from tests.support.sla import setup_sla
from tests.web.test_portal_sla_report import client_of, seed_report
from tests.web.test_supervisor_routing import supervisor_of

pytestmark = pytest.mark.browser


def test_supervisor_sees_the_field_error_then_previews(page: Page, app, artifacts: Path):
    tenant = new_tenant("slb")
    policy_id = setup_sla(tenant, name="Everything")
    with unit_of_work(tenant) as uow:
        task = services.create_task(
            uow, invoice_task(title="March supplier invoice"), Actor("client:1", "C")
        ).task
    sign_in(page, "/login", supervisor_of(tenant), PASSWORD)
    page.goto(f"/supervisor/tenants/{tenant}/pool")
    page.get_by_role("link", name=re.compile("SLA policies")).click()
    expect(page.locator(f'tr[data-policy="{policy_id}"]')).to_contain_text("Resolution: 1 h")
    page.locator(f'tr[data-policy="{policy_id}"]').get_by_role("link", name="Edit").click()

    page.get_by_label("Resolution hours").fill("two")
    page.get_by_role("button", name="Save policy").click()
    error = page.locator('[id="targets.resolution-error"]')
    expect(error).to_have_text("enter whole hours and minutes")
    expect(page.locator('tr[data-target="resolution"]')).to_contain_text("enter whole hours")
    expect(page.get_by_label("Resolution hours")).to_have_value("two")
    page.screenshot(path=str(artifacts / "sla-policy-error.png"), full_page=True)

    page.get_by_label("Resolution hours").fill("4")
    page.get_by_label("Resolution minutes").fill("0")
    page.get_by_role("button", name="Save policy").click()
    expect(page.locator(".flash-success")).to_contain_text("Saved policy Everything")
    page.get_by_role("link", name=re.compile("Preview what the current policies")).click()
    row = page.locator(f'tr[data-task="{task.id}"]')
    expect(row).to_contain_text("March supplier invoice")
    expect(row).to_contain_text("+3 h")
    page.screenshot(path=str(artifacts / "sla-policy-preview.png"), full_page=True)
    page.get_by_role("button", name="Recalculate open tasks").click()
    expect(page.locator(".flash-success")).to_contain_text("Recalculation of open tasks queued")


def test_client_opens_the_sla_report(page: Page, app, artifacts: Path):
    tenant = new_tenant("slb")
    ids = seed_report(tenant)
    sign_in(page, f"/portal/{tenant}/login", client_of(tenant), PASSWORD)
    page.get_by_role("link", name="SLA report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("SLA report")
    expect(
        page.locator('#attainment tr[data-month="2026-01"][data-kind="accounting"]')
    ).to_contain_text("50.0 %")
    breach = page.locator(f'#breaches tr[data-task="{ids["B"]}"]')
    expect(breach).to_contain_text("missed by 2 h 30 min")
    expect(breach).to_contain_text("2026-01-20 06:00 EST")
    page.screenshot(path=str(artifacts / "portal-sla-report.png"), full_page=True)
    breach.get_by_role("link", name=f"#{ids['B']}").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{ids['B']}$"))


def test_an_agent_reads_their_sla_notifications(page: Page, app, artifacts: Path):
    from tests.support.agents import make_agent
    from tests.web.test_notifications import breached_task, email_of

    tenant = new_tenant("slb")
    agent_id = make_agent([tenant], name="Nora Notes")
    task_id = breached_task(tenant, agent_id)
    sign_in(page, "/login", email_of(agent_id), PASSWORD)
    menu = page.locator("#nav-notifications")
    expect(menu).to_contain_text("4")  # three warnings and the breach, unread
    menu.click()
    rows = page.locator("table.notifications tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text(f"task #{task_id} resolution breached")
    expect(page.locator("tr.unread")).to_have_count(4)
    page.screenshot(path=str(artifacts / "notifications.png"), full_page=True)

    rows.nth(1).get_by_role("button", name="Mark read").click()
    expect(page.locator(".flash-success")).to_contain_text("Marked 1 notification as read")
    expect(page.locator("tr.unread")).to_have_count(3)
    page.get_by_role("button", name=re.compile("Mark all 3 as read")).click()
    expect(page.locator("tr.unread")).to_have_count(0)
    expect(page.locator("#nav-notifications .count")).to_have_count(0)
    page.get_by_role("link", name="Open task").first.click()
    expect(page).to_have_url(re.compile(f"/agent/t/{tenant}/tasks/{task_id}$"))
