"""A supervisor edits an agent's skills and assigns a task by hand, in a real browser."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.routing import router
from bpo.routing.rules import Presence
from bpo.work import index, services
from bpo.work.models import WorkItem
from bpo.workforce.models import AgentProfile
from tests.browser.test_login_pages import sign_in
from tests.support.agents import ALWAYS, make_agent, new_tenant
from tests.support.factories import ticket_task
from tests.web.test_supervisor_routing import supervisor_of

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-9"


def test_supervisor_edits_skills_and_assigns_a_task_by_hand(page: Page, app, artifacts: Path):
    tenant = new_tenant()
    with unit_of_work(tenant) as uow:
        task_id = services.create_task(
            uow, ticket_task(payload={"subject": "Refund for order 7781"}), Actor("client:1", "C")
        ).task.id
    router.route(tenant, [task_id])  # nobody serves the tenant yet: it waits in the pool
    agent = make_agent(
        [tenant],
        name="Priya Patel",
        skills={"data_entry.record": 2},
        capacity={"support": 0},
        presence=Presence.OFFLINE,
        # weekdays: the Saturday night shift added below is new time
        shifts=[s for s in ALWAYS if s["day"] not in ("sat", "sun")],
    )
    sign_in(page, "/login", supervisor_of(tenant), PASSWORD)

    page.goto("/supervisor/agents")
    row = page.locator(f'tr[data-agent="{agent}"]')
    expect(row).to_contain_text("Priya Patel")
    row.get_by_role("link", name="Edit").click()
    page.get_by_label("Support ticket").select_option("4")
    page.get_by_label("Support (units)").fill("3")
    page.get_by_role("button", name="Add shift").click()
    last = page.locator("tr[data-shift]").last
    last.get_by_label("Day").select_option("sat")
    last.get_by_label("Start").fill("22:00")
    last.get_by_label("End").fill("06:00")
    page.screenshot(path=str(artifacts / "supervisor-agent-edit.png"), full_page=True)
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator(".flash-success")).to_contain_text("Saved Priya Patel")
    with unit_of_work() as uow:
        profile = uow.session.get(AgentProfile, agent)
        assert profile.skills["support.ticket"] == 4 and profile.capacity["support"] == 3
        assert {"day": "sat", "start": "22:00", "end": "06:00"} in profile.shifts

    page.goto(f"/supervisor/tenants/{tenant}/pool")
    waiting = page.locator(f'#waiting tr[data-task="{task_id}"]')
    expect(waiting).to_contain_text("Refund for order 7781")
    waiting.get_by_label(f"Agent for task {task_id}").select_option(str(agent))
    page.screenshot(path=str(artifacts / "supervisor-pool-waiting.png"), full_page=True)
    waiting.get_by_role("button", name="Assign").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Task {task_id} assigned")
    assigned = page.locator(f'#assigned tr[data-task="{task_id}"]')
    expect(assigned).to_contain_text("Priya Patel")
    expect(page).to_have_url(re.compile(rf"/supervisor/tenants/{tenant}/pool$"))
    page.screenshot(path=str(artifacts / "supervisor-pool.png"), full_page=True)
    with unit_of_work(tenant) as uow:
        item = uow.session.scalar(
            select(WorkItem).where(
                WorkItem.tenant_id == index.tenant_id(uow), WorkItem.task_id == task_id
            )
        )
        assert item.assignee_id == agent and not item.over_capacity
