"""The SLA dashboard in headless Chromium: figures, self-refresh, one-click reassign."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bpo.core.uow import unit_of_work
from bpo.identity import services as identity
from bpo.sla.models import SlaRollup
from bpo.work.models import WorkSession
from tenants.db import utcnow
from tests.browser.test_login_pages import sign_in
from tests.support.agents import make_agent, new_tenant
from tests.web.test_supervisor_routing import supervisor_of
from tests.web.test_supervisor_sla import at_risk_task, index_row

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-9"


def _history(slug: str, agent: int, task_id: int) -> None:
    """Thirty days of closed SLA targets, a breach today, and 30 minutes of handle time."""
    now = utcnow()
    with unit_of_work() as uow:
        tenant = identity.tenant_by_slug(uow.session, slug)
        for back in range(30):
            if back % 4 == 3:
                continue  # some days nothing closed: gaps in the trend
            uow.session.add(
                SlaRollup(
                    tenant_id=tenant.id,
                    day=now.date() - timedelta(days=back),
                    kind="support",
                    target="resolution",
                    met=8 + back % 3,
                    missed=back % 5 // 2,
                    breaches=1 if back == 0 else 0,
                )
            )
        uow.session.add(
            WorkSession(
                tenant_id=tenant.id,
                task_id=task_id,
                agent_id=agent,
                started_at=now - timedelta(minutes=40),
                ended_at=now - timedelta(minutes=10),
            )
        )


def test_dashboard_shows_figures_refreshes_itself_and_reassigns(page: Page, app, artifacts: Path):
    tenant = new_tenant("dash")
    first = at_risk_task(tenant, "Refund for order 7781", due_in=timedelta(minutes=25))
    at_risk_task(tenant, "Wrong VAT on invoice 311", due_in=timedelta(minutes=70), warned=50)
    agent = make_agent([tenant], name="Priya Patel", capacity={"support": 4})
    _history(tenant, agent, first)
    sign_in(page, "/login", supervisor_of(tenant), PASSWORD)

    page.goto("/supervisor/sla")
    expect(page.get_by_role("heading", name="SLA dashboard")).to_be_visible()
    risk = page.locator(f'#sla-at-risk tr[data-risk="{tenant}-{first}"]')
    expect(risk).to_contain_text("Refund for order 7781")
    expect(page.locator(f'#sla-agents tr[data-agent="{agent}"]')).to_contain_text("Priya Patel")
    expect(
        page.locator(f'#sla-agents tr[data-agent="{agent}"] [data-col="occupancy"]')
    ).to_have_text("50%")
    expect(page.locator('[data-figure="breaches-today"]')).to_have_text("1")
    expect(page.locator("#chart-backlog .bar")).to_have_count(5)
    expect(page.locator("#chart-trend circle.point").first).to_be_visible()
    expect(page.locator("#sla-body")).to_contain_text("UTC day")
    page.screenshot(path=str(artifacts / "supervisor-sla-dashboard.png"), full_page=True)

    # It refreshes by itself: the stamp changes and new work appears, with no reload.
    page.evaluate("window.__not_reloaded = true")
    stamp = page.locator("#sla-updated").inner_text()
    later = at_risk_task(tenant, "Chargeback on card 4421", due_in=timedelta(minutes=5), warned=90)
    expect(page.locator(f'tr[data-risk="{tenant}-{later}"]')).to_contain_text(
        "Chargeback on card 4421", timeout=15_000
    )
    expect(page.locator("#sla-updated")).not_to_have_text(stamp, timeout=15_000)
    assert page.evaluate("window.__not_reloaded") is True
    rows = page.locator("#sla-at-risk tbody tr")
    expect(rows.first).to_contain_text("Chargeback on card 4421")  # least time left first

    # One click: the task goes to the chosen agent, and the page says so. Nothing is
    # chosen at first (Move alone changes nothing), and a choice survives a refresh.
    row = page.locator(f'tr[data-risk="{tenant}-{first}"]')
    choice = row.get_by_label(f"Reassign task {first} to")
    expect(choice).to_have_value("")
    row.get_by_role("button", name="Move").click()  # the browser asks for a choice
    assert index_row(tenant, first).assignee_id is None
    choice.select_option(str(agent))
    page.get_by_role("heading", name="SLA dashboard").click()  # the list loses focus
    stamp = page.locator("#sla-updated").inner_text()
    expect(page.locator("#sla-updated")).not_to_have_text(stamp, timeout=15_000)
    expect(choice).to_have_value(str(agent))
    row.get_by_role("button", name="Move").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Task {first}")
    expect(page).to_have_url(re.compile(r"/supervisor/sla$"))
    expect(page.locator(f'tr[data-risk="{tenant}-{first}"]')).to_contain_text("Priya Patel")
    assert index_row(tenant, first).assignee_id == agent
    page.screenshot(path=str(artifacts / "supervisor-sla-reassigned.png"), full_page=True)
