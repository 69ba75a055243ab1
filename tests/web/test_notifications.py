"""The notifications page: SLA warnings and breaches reach the assignee and the
tenant's supervisors, are shown in the viewer's zone, can be marked read (one or
all), and never show, nor let anyone mark, another person's or another client's."""

import re
from datetime import timedelta

from sqlalchemy import delete, select

from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.identity.models import StaffMembership, StaffUser
from bpo.routing import router
from bpo.sla.models import Notification
from bpo.sla.sweep import run_due
from bpo.work import services
from tests.support.agents import make_agent, new_tenant
from tests.support.factories import invoice_task
from tests.support.helpers import csrf_token, login
from tests.support.sla import setup_sla
from tests.web.test_supervisor_routing import supervisor_of

CLIENT = Actor("client:1", "Client")


def breached_task(tenant: str, agent_id: int) -> int:
    """An invoice held by ``agent_id`` whose resolution warned three times and breached."""
    setup_sla(tenant)
    with unit_of_work(tenant) as uow:
        task = services.create_task(uow, invoice_task(), CLIENT).task
    assert router.route(tenant, [task.id]).assigned == {task.id: agent_id}
    fired = run_due(tenant, task.created_at + timedelta(hours=2))
    assert [f.percent for f in fired] == [50, 75, 90, 100]
    return task.id


def email_of(staff_id: int) -> str:
    with unit_of_work() as uow:
        return uow.session.get(StaffUser, staff_id).email


def rows(page: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-note="(\d+)">', page)


def test_the_assignee_and_the_supervisor_see_their_notifications_and_mark_them_read(app):
    tenant = new_tenant("note")
    agent_id = make_agent([tenant], name="Nadia Note")
    overseer = supervisor_of(tenant)
    task_id = breached_task(tenant, agent_id)
    agent = app.test_client()
    assert login(agent, "/login", email_of(agent_id)).status_code == 302

    page = agent.get("/agent/notifications").get_data(as_text=True)
    assert len(rows(page)) == 4
    # Newest first, and what fired together in the order it fell due: the breach on top.
    order = [
        page.index(f"task #{task_id} resolution {what}")
        for what in ("breached", "reached 90 %", "reached 75 %", "reached 50 % of its target")
    ]
    assert order == sorted(order)
    assert f"/agent/t/{tenant}/tasks/{task_id}" in page  # the assignee opens the task
    assert (
        'id="nav-notifications"' in page and '<span class="count" title="unread">4</span>' in page
    )

    one = rows(page)[0]
    token = csrf_token(agent, "/agent/notifications")
    done = agent.post("/agent/notifications/read", data={"id": one, "csrf_token": token})
    assert done.status_code == 302
    unread = agent.get("/agent/notifications?show=unread").get_data(as_text=True)
    assert one not in rows(unread) and len(rows(unread)) == 3

    done = agent.post("/agent/notifications/read", data={"all": "1", "csrf_token": token})
    assert done.status_code == 302
    page = agent.get("/agent/notifications").get_data(as_text=True)
    assert len(rows(page)) == 4 and 'class="count"' not in page and "Nothing unread" not in page
    assert "Nothing unread." in agent.get("/agent/notifications?show=unread").get_data(as_text=True)

    supervisor = app.test_client()
    assert login(supervisor, "/login", overseer).status_code == 302
    page = supervisor.get("/agent/notifications").get_data(as_text=True)
    assert len(rows(page)) == 4  # their own copies: the agent's reading them marks none
    assert f"/supervisor/tenants/{tenant}/pool" in page and "/agent/t/" not in page
    # A supervisor granted after the sweep was not told (notifications go to who
    # oversaw the client when it fired), and sees an empty page rather than others'.
    late = app.test_client()
    assert login(late, "/login", supervisor_of(tenant)).status_code == 302
    assert rows(late.get("/agent/notifications").get_data(as_text=True)) == []


def test_bad_input_names_the_field_and_changes_nothing(app):
    tenant = new_tenant("note")
    agent_id = make_agent([tenant])
    breached_task(tenant, agent_id)
    agent = app.test_client()
    assert login(agent, "/login", email_of(agent_id)).status_code == 302
    token = csrf_token(agent, "/agent/notifications")
    bad = agent.post("/agent/notifications/read", data={"id": "seven", "csrf_token": token})
    assert bad.status_code == 400 and "id" in bad.get_data(as_text=True)
    with unit_of_work() as uow:
        unread = uow.session.scalars(
            select(Notification.id).where(
                Notification.staff_id == agent_id, Notification.read_at.is_(None)
            )
        ).all()
    assert len(unread) == 4


def test_nobody_sees_or_marks_another_persons_or_another_clients_notifications(app):
    a, b = new_tenant("note"), new_tenant("note")
    agent_a, agent_b = make_agent([a]), make_agent([b])
    breached_task(a, agent_a)
    breached_task(b, agent_b)
    with unit_of_work() as uow:
        theirs = uow.session.scalars(
            select(Notification.id).where(Notification.staff_id == agent_a)
        ).all()
    assert len(theirs) == 4

    other = app.test_client()
    assert login(other, "/login", email_of(agent_b)).status_code == 302
    page = other.get("/agent/notifications").get_data(as_text=True)
    assert set(rows(page)).isdisjoint(str(i) for i in theirs) and len(rows(page)) == 4
    token = csrf_token(other, "/agent/notifications")
    for note_id in theirs:  # marking someone else's changes nothing
        other.post("/agent/notifications/read", data={"id": note_id, "csrf_token": token})
    with unit_of_work() as uow:
        still = uow.session.scalars(
            select(Notification.id).where(
                Notification.id.in_(theirs), Notification.read_at.is_(None)
            )
        ).all()
    assert sorted(still) == sorted(theirs)

    # Taken off client A, agent A no longer sees what they were told about it.
    with unit_of_work() as uow:
        uow.session.execute(delete(StaffMembership).where(StaffMembership.staff_id == agent_a))
    former = app.test_client()
    assert login(former, "/login", email_of(agent_a)).status_code == 302
    assert rows(former.get("/agent/notifications").get_data(as_text=True)) == []
