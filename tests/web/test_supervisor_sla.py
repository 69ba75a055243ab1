"""The SLA dashboard pages: page, fragment, JSON, CSV, one-click reassign, and scope.

Tasks are real (titles live in the tenant's schema); their index rows get SLA flags
written directly, as the SLA engine would mirror them.
"""

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.identity import services as identity
from bpo.identity.models import StaffRole, StaffUser
from bpo.reporting.export import TABLES
from bpo.routing import router
from bpo.work import services
from bpo.work.models import WorkItem
from bpo.work.states import Status
from tenants.db import utcnow
from tests.support.agents import make_agent, new_tenant
from tests.support.factories import ticket_task
from tests.support.helpers import PASSWORD, csrf_token, login, unique
from tests.web.test_supervisor_routing import supervisor_of

CLIENT = Actor("client:1", "Client")


def at_risk_task(slug: str, subject: str, *, due_in: timedelta, warned: int = 75) -> int:
    """A ticket waiting in ``slug``'s pool, past a warning of ``warned`` %."""
    with unit_of_work(slug) as uow:
        task_id = services.create_task(
            uow, ticket_task(payload={"subject": subject}), CLIENT
        ).task.id
    router.route(slug, [task_id])  # waits in the pool unless an agent of ``slug`` can take it
    with unit_of_work() as uow:
        tenant = identity.tenant_by_slug(uow.session, slug)
        uow.session.execute(
            update(WorkItem)
            .where(WorkItem.tenant_id == tenant.id, WorkItem.task_id == task_id)
            .values(sla_warned=warned, sla_breached=False, sla_due_at=utcnow() + due_in)
        )
    return task_id


def index_row(slug: str, task_id: int) -> WorkItem:
    with unit_of_work() as uow:
        tenant = identity.tenant_by_slug(uow.session, slug)
        row = uow.session.scalar(
            select(WorkItem).where(WorkItem.tenant_id == tenant.id, WorkItem.task_id == task_id)
        )
        assert row is not None
        uow.session.expunge(row)
        return row


@pytest.fixture
def two(app):
    """Tenants A and B, each with one at-risk task with a recognisable title."""
    a, b = new_tenant("slaw"), new_tenant("slaw")
    ta = at_risk_task(a, f"Alpha refund {unique('')}", due_in=timedelta(minutes=20))
    tb = at_risk_task(b, f"Beta invoice {unique('')}", due_in=timedelta(minutes=8))
    return a, b, ta, tb


def title_of(slug: str, task_id: int) -> str:
    from bpo.work.models import Task

    with unit_of_work(slug) as uow:
        task = uow.session.get(Task, task_id)
        assert task is not None
        return task.title


def signed_in(client, *slugs: str):
    assert login(client, "/login", supervisor_of(*slugs)).status_code == 302
    return client


def test_page_fragment_and_json_show_the_figures_of_overseen_tenants(client, two):
    a, b, ta, tb = two
    signed_in(client, a, b)
    page = client.get("/supervisor/sla")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in ("Queue depth", "At risk", "Breaches today", "UTC day", "Agents online",
                 "Occupancy", "Utilization", "SLA attainment", "Backlog by age",
                 "Attainment trend", 'id="sla-updated"', "<svg", title_of(a, ta),
                 title_of(b, tb)):  # fmt: skip
        assert text in html, text
    assert "<script" in html and "/supervisor/sla/fragment" in html
    # B's task has less time left: it comes first.
    assert html.index(f'data-risk="{b}-{tb}"') < html.index(f'data-risk="{a}-{ta}"')

    fragment = client.get("/supervisor/sla/fragment").get_data(as_text=True)
    assert "<html" not in fragment and f'data-risk="{a}-{ta}"' in fragment

    data = client.get("/supervisor/sla.json").get_json()
    assert [(r["slug"], r["task_id"]) for r in data["at_risk"]] == [(b, tb), (a, ta)]
    assert data["at_risk"][1]["title"] == title_of(a, ta)
    assert {r["tenant"] for r in data["queues"]} == {a.title(), b.title()}
    assert data["buckets"] == ["<1h", "1-4h", "4-24h", "1-3d", ">3d"]


def test_every_table_exports_as_csv(client, two):
    a, b, ta, tb = two
    email = supervisor_of(a, b)
    with unit_of_work() as uow:  # instants in the viewer's zone, with its offset
        uow.session.execute(
            update(StaffUser).where(StaffUser.email == email).values(timezone="Asia/Kolkata")
        )
    assert login(client, "/login", email).status_code == 302
    for name, (header, _) in TABLES.items():
        response = client.get(f"/supervisor/sla/{name}.csv")
        assert response.status_code == 200, name
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
        assert tuple(rows[0]) == tuple(header)
    at_risk = client.get("/supervisor/sla/at_risk.csv").get_data(as_text=True)
    assert title_of(a, ta) in at_risk and title_of(b, tb) in at_risk
    due = [r["due_at"] for r in csv.DictReader(io.StringIO(at_risk))]
    assert due and all(d.endswith("+05:30") for d in due), due
    assert client.get("/supervisor/sla/nope.csv").status_code == 404


def test_a_supervisor_sees_only_overseen_tenants_and_an_admin_sees_all(client, app, two):
    a, b, ta, tb = two
    signed_in(client, a)
    hidden = (title_of(b, tb), b.title(), f"{b}-{tb}")
    html = client.get("/supervisor/sla").get_data(as_text=True)
    assert title_of(a, ta) in html
    bodies = [html, client.get("/supervisor/sla/fragment").get_data(as_text=True),
              client.get("/supervisor/sla.json").get_data(as_text=True)]  # fmt: skip
    bodies += [client.get(f"/supervisor/sla/{n}.csv").get_data(as_text=True) for n in TABLES]
    for body in bodies:
        for text in hidden:
            assert text not in body

    admin = app.test_client()
    email = f"{unique('adm')}@staff.test"
    with unit_of_work() as uow:
        identity.create_staff(
            uow.session, email=email, name="Adm", role=StaffRole.ADMIN, password=PASSWORD
        )
    assert login(admin, "/login", email).status_code == 302
    data = admin.get("/supervisor/sla.json").get_json()
    seen = {(r["slug"], r["task_id"]) for r in data["at_risk"]}
    assert {(a, ta), (b, tb)} <= seen


def test_one_click_reassign_to_an_agent_and_back_to_the_pool(client, two):
    a, b, ta, _ = two
    agent = make_agent([a], name="Rita Reassign")
    signed_in(client, a, b)
    html = client.get("/supervisor/sla").get_data(as_text=True)
    assert f'<option value="{agent}">Rita Reassign</option>' in html
    token = csrf_token(client, "/supervisor/sla")
    url = f"/supervisor/sla/tenants/{a}/reassign"

    moved = client.post(url, data={"task_id": ta, "to": agent, "csrf_token": token})
    assert moved.status_code == 303 and moved.headers["Location"].endswith("/supervisor/sla")
    row = index_row(a, ta)
    assert row.assignee_id == agent and row.state is Status.ASSIGNED
    assert "reassigned" in client.get("/supervisor/sla").get_data(as_text=True)

    back = client.post(url, data={"task_id": ta, "to": "pool", "csrf_token": token})
    assert back.status_code == 303
    row = index_row(a, ta)
    assert row.assignee_id is None and row.state is Status.QUEUED
    assert row.attempts == 0  # a supervisor's move counts no attempt


def test_reassign_refuses_other_tenants_bad_input_and_missing_csrf(client, two):
    a, b, ta, tb = two
    agent_b = make_agent([b])
    signed_in(client, a)
    token = csrf_token(client, "/supervisor/sla")
    # B is not overseen: 404, as for a tenant that does not exist.
    assert (
        client.post(
            f"/supervisor/sla/tenants/{b}/reassign",
            data={"task_id": tb, "to": "pool", "csrf_token": token},
        ).status_code
        == 404
    )
    # B's agent does not serve A; B's task id is not A's open work.
    url = f"/supervisor/sla/tenants/{a}/reassign"
    assert (
        client.post(url, data={"task_id": ta, "to": agent_b, "csrf_token": token}).status_code
        == 404
    )
    assert (
        client.post(
            url, data={"task_id": tb + 10_000, "to": "pool", "csrf_token": token}
        ).status_code
        == 404
    )
    assert (
        client.post(url, data={"task_id": "x", "to": "pool", "csrf_token": token}).status_code
        == 400
    )
    assert client.post(url, data={"task_id": ta, "to": "pool"}).status_code == 400  # no CSRF
    # No choice made: back to the dashboard, saying what to do; nothing moves.
    unchosen = client.post(url, data={"task_id": ta, "to": "", "csrf_token": token})
    assert unchosen.status_code == 303
    assert "choose an agent" in client.get("/supervisor/sla").get_data(as_text=True)
    assert index_row(a, ta).state is Status.QUEUED and index_row(b, tb).state is Status.QUEUED


@pytest.mark.parametrize(
    "path",
    ["/supervisor/sla", "/supervisor/sla/fragment", "/supervisor/sla.json",
     "/supervisor/sla/queues.csv"],
)  # fmt: skip
def test_agents_and_clients_are_refused(client, world, alpha_client, app, path):
    # A client admin of alpha: a portal session is no staff session (sent to sign in).
    as_client = alpha_client.get(path)
    assert as_client.status_code in (302, 403)
    assert as_client.status_code == 403 or "/login" in as_client.headers["Location"]
    agent = app.test_client()
    assert login(agent, "/login", world.agent_alpha_email).status_code == 302
    assert agent.get(path).status_code == 403
    anonymous = app.test_client().get(path)
    assert anonymous.status_code in (302, 401)
