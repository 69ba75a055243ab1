"""Supervisor pages: agent profiles, the pool and exceptions, and their scope.

Each test makes its own tenants (new_tenant) and agents (make_agent), so it never
depends on another test's rows. Jobs deferred after commit land in the real Redis
(no worker runs here), where the tests look for them.
"""

from sqlalchemy import select, text, update

from bpo.audit.models import AuditEvent
from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.identity import services as identity
from bpo.identity.models import MembershipRole, StaffMembership, StaffRole
from bpo.routing import router
from bpo.routing.rules import Presence
from bpo.work import index, services
from bpo.work.models import Task, WorkItem
from bpo.work.states import Status
from bpo.workforce.models import AgentProfile
from queues.connection import get_queue
from tests.support.agents import ALWAYS, make_agent, new_tenant
from tests.support.factories import ticket_task
from tests.support.helpers import PASSWORD, csrf_token, ids_out_of_reach, login, unique

CLIENT = Actor("client:1", "Client")
MINUTE = {"day": "mon", "start": "00:00", "end": "00:01"}


def supervisor_of(*slugs: str) -> str:
    """A new supervisor overseeing ``slugs``; returns their e-mail."""
    email = f"{unique('sup')}@staff.test"
    with unit_of_work() as uow:
        staff = identity.create_staff(
            uow.session, email=email, name="Sup", role=StaffRole.SUPERVISOR, password=PASSWORD
        )
        for slug in slugs:
            tenant = identity.tenant_by_slug(uow.session, slug)
            identity.grant(uow.session, staff, tenant, MembershipRole.SUPERVISOR)
    return email


def signed_in(client, *slugs: str):
    assert login(client, "/login", supervisor_of(*slugs)).status_code == 302
    return client


def pooled(tenant: str, n: int = 1) -> list[int]:
    """``n`` support tickets waiting in ``tenant``'s pool."""
    ids = []
    for _ in range(n):
        with unit_of_work(tenant) as uow:
            ids.append(services.create_task(uow, ticket_task(), CLIENT).task.id)
    router.route(tenant, ids)
    return ids


def item(tenant: str, task_id: int) -> WorkItem:
    with unit_of_work(tenant) as uow:
        row = uow.session.scalar(
            select(WorkItem).where(
                WorkItem.task_id == task_id, WorkItem.tenant_id == index.tenant_id(uow)
            )
        )
        assert row is not None
        uow.session.expunge(row)
        return row


def post(client, url: str, page: str, data: dict):
    return client.post(url, data={**data, "csrf_token": csrf_token(client, page)})


def job_ids(queue: str) -> list[str]:
    return get_queue(queue).job_ids


def profile_form(**overrides) -> dict:
    data = {
        "skills.support.ticket": "4",
        "skills.accounting.invoice": "",
        "capacity.support": "7",
        "capacity.accounting": "0",
        "capacity.data_entry": "2",
        "shifts.0.day": "mon",
        "shifts.0.start": "09:00",
        "shifts.0.end": "17:00",
        "shifts.1.day": "sat",
        "shifts.1.start": "22:00",
        "shifts.1.end": "06:00",
        "presence": "online",
        "action": "save",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# -- profiles ----------------------------------------------------------------------------


def test_agent_list_shows_presence_shift_and_load_for_overseen_agents_only(client, app):
    a, b = new_tenant(), new_tenant()
    mine = make_agent([a], capacity={"support": 5})
    # on shift one minute a week: off shift whenever the test runs, near enough
    away = make_agent([a], presence=Presence.AWAY, shifts=[MINUTE])
    theirs = make_agent([b])
    pooled(a)  # routed to `mine`: one unit of support load
    page = signed_in(client, a).get("/supervisor/agents").get_data(as_text=True)
    assert f'data-agent="{mine}"' in page and f'data-agent="{away}"' in page
    assert f'data-agent="{theirs}"' not in page
    row = page.split(f'data-agent="{mine}"')[1].split("</tr>")[0]
    assert 'data-presence="online"' in row and 'data-on-shift="yes"' in row
    assert ">1 / 5<" in row
    other = page.split(f'data-agent="{away}"')[1].split("</tr>")[0]
    assert 'data-presence="away"' in other and 'data-on-shift="no"' in other


def test_editing_a_profile_saves_everything_and_defers_a_fill(client, app):
    a, b = new_tenant(), new_tenant()
    agent = make_agent([a], presence=Presence.OFFLINE)
    url = f"/supervisor/agents/{agent}"
    signed_in(client, a, b)
    data = profile_form(**{f"serves.{a}": "1", f"serves.{b}": "1", f"overflow.{b}": "1"})
    response = post(client, url, url, data)
    assert response.status_code == 303, response.get_data(as_text=True)
    with unit_of_work() as uow:
        profile = uow.session.get(AgentProfile, agent)
        assert profile.skills == {"support.ticket": 4}
        assert profile.capacity == {"support": 7, "data_entry": 2}
        assert profile.shifts == [
            {"day": "mon", "start": "09:00", "end": "17:00"},
            {"day": "sat", "start": "22:00", "end": "06:00"},
        ]
        assert profile.presence is Presence.ONLINE
        overflow = {
            m.tenant.slug: m.overflow
            for m in uow.session.scalars(select(StaffMembership).filter_by(staff_id=agent))
        }
    assert overflow == {a: False, b: True}
    assert f"fill-{agent}-support" in job_ids("support")


def test_shift_rows_are_added_and_removed_without_saving(client, app):
    a = new_tenant()
    agent = make_agent([a], shifts=ALWAYS[:2])
    url = f"/supervisor/agents/{agent}"
    signed_in(client, a)
    added = post(client, url, url, profile_form(action="add-shift", **{f"serves.{a}": "1"}))
    assert added.status_code == 200 and 'data-shift="2"' in added.get_data(as_text=True)
    removed = post(client, url, url, profile_form(action="remove-shift:0", **{f"serves.{a}": "1"}))
    page = removed.get_data(as_text=True)
    assert 'data-shift="0"' in page and 'data-shift="1"' not in page
    assert 'value="22:00"' in page and 'value="09:00"' not in page  # the Saturday row stayed
    with unit_of_work() as uow:
        assert uow.session.get(AgentProfile, agent).shifts == ALWAYS[:2]


def test_validation_errors_name_each_field_answer_400_and_write_nothing(client, app):
    a = new_tenant()
    agent = make_agent([a], capacity={"support": 3})
    url = f"/supervisor/agents/{agent}"
    signed_in(client, a)
    bad = profile_form(
        **{
            "skills.support.ticket": "9",
            "capacity.support": "lots",
            "shifts.1.start": "25:00",
            "presence": "asleep",
            f"serves.{a}": "",
            f"overflow.{a}": "1",
        }
    )
    response = post(client, url, url, bad)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    for name in (
        "skills.support.ticket",
        "capacity.support",
        "shifts.1",
        "presence",
        f"overflow.{a}",
    ):
        assert f'id="{name}-error"' in page, name
    with unit_of_work() as uow:
        profile = uow.session.get(AgentProfile, agent)
        assert profile.capacity == {"support": 3} and profile.presence is Presence.ONLINE
        assert uow.session.scalar(select(StaffMembership.id).filter_by(staff_id=agent))
    assert f"fill-{agent}-support" not in job_ids("support")


def test_overlapping_shifts_are_refused_by_name(client, app):
    a = new_tenant()
    agent = make_agent([a])
    url = f"/supervisor/agents/{agent}"
    signed_in(client, a)
    twice = profile_form(
        **{"shifts.1.day": "mon", "shifts.1.start": "09:00", "shifts.1.end": "17:00"}
    )
    response = post(client, url, url, twice)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="shifts.1-error"' in page and "overlaps Mon 09:00\u201317:00" in page
    with unit_of_work() as uow:
        assert (
            uow.session.get(AgentProfile, agent).shifts
            != [{"day": "mon", "start": "09:00", "end": "17:00"}] * 2
        )


def test_a_supervisor_grants_and_revokes_only_tenants_they_oversee(client, app):
    a, b, c = new_tenant(), new_tenant(), new_tenant()
    agent = make_agent([a, b])
    task = pooled(a)[0]
    assert item(a, task).assignee_id == agent
    url = f"/supervisor/agents/{agent}"
    signed_in(client, a, c)
    assert "Also serves 1 client(s)" in client.get(url).get_data(as_text=True)
    # revoke a, grant c; b is not theirs: posting it changes nothing
    response = post(client, url, url, profile_form(**{f"serves.{c}": "1", f"serves.{b}": ""}))
    assert response.status_code == 303
    with unit_of_work() as uow:
        served = {
            m.tenant.slug
            for m in uow.session.scalars(select(StaffMembership).filter_by(staff_id=agent))
        }
    assert served == {b, c}
    back = item(a, task)  # the revoked tenant's held work went back to the pool
    assert back.state is Status.QUEUED and back.assignee_id is None and back.attempts == 0


def test_agents_outside_the_supervisors_tenants_answer_404(client, app):
    a, b = new_tenant(), new_tenant()
    theirs = make_agent([b], capacity={"support": 3})
    signed_in(client, a)
    assert client.get(f"/supervisor/agents/{theirs}").status_code == 404
    mine = f"/supervisor/agents/{make_agent([a])}"  # a page of theirs with a CSRF token
    response = post(client, f"/supervisor/agents/{theirs}", mine, profile_form())
    assert response.status_code == 404
    with unit_of_work() as uow:
        assert uow.session.get(AgentProfile, theirs).capacity == {"support": 3}


def test_agents_may_not_open_supervisor_pages(client, app):
    a = new_tenant()
    agent = make_agent([a])
    with unit_of_work() as uow:
        email = uow.session.scalar(
            text("SELECT email FROM bpo.staff_users WHERE id = :i"), {"i": agent}
        )
    assert login(client, "/login", email).status_code == 302
    assert client.get(f"/supervisor/agents/{agent}").status_code == 403
    assert client.get(f"/supervisor/tenants/{a}/pool").status_code == 403


# -- the pool ---------------------------------------------------------------------------


def test_pool_page_shows_waiting_exceptions_and_assigned_work_with_titles(client, app):
    a = new_tenant()
    waiting = pooled(a)[0]
    failed = pooled(a)[0]
    router.mark_failed(a, [failed], "checker crashed: KeyError 'vendor'")
    agent = make_agent([a], name="Held By")
    held = pooled(a)[0]
    assert item(a, held).assignee_id == agent
    page = signed_in(client, a).get(f"/supervisor/tenants/{a}/pool").get_data(as_text=True)
    sections = {
        s: page.split(f'id="{s}"')[1].split("</section>")[0]
        for s in ("waiting", "exceptions", "assigned")
    }
    assert f'data-task="{waiting}"' in sections["waiting"]
    assert (
        f'data-task="{failed}"' in sections["exceptions"] and "KeyError" in sections["exceptions"]
    )
    assert f'data-task="{held}"' in sections["assigned"] and "Held By" in sections["assigned"]
    # titles come from the tenant's own schema (the work index holds no client content)
    assert sections["waiting"].count("Where is my refund?") == 1


def _why(page: str, task: int) -> str:
    row = page[page.index(f'<tr data-task="{task}">') :]
    return row[: row.index("</tr>")].split('class="why"')[1].split("</div>")[0]


def test_pool_page_says_why_each_task_waits_in_the_rules_own_words(client, app):
    a, b = new_tenant(), new_tenant()
    task = pooled(a)[0]  # a support ticket: needs support.ticket at level 1
    make_agent([a], name="Olive Offline", presence=Presence.OFFLINE)
    make_agent([a], name="Otto Offline", presence=Presence.OFFLINE)
    make_agent([a], name="Nina Noskill", skills={"accounting.invoice": 3})
    make_agent([a], name="Fay Full", capacity={"support": 0})
    make_agent([b], name="Bea Elsewhere")  # serves another client: never named here
    pool_url = f"/supervisor/tenants/{a}/pool"
    why = _why(signed_in(client, a).get(pool_url).get_data(as_text=True), task)
    assert "Nobody may take it now" in why
    assert "<li>Olive Offline, Otto Offline: is offline</li>" in why  # the largest group first
    assert why.index("Olive Offline") < why.index("Fay Full")
    assert "<li>Nina Noskill: needs support.ticket at level 1</li>" in why
    assert "<li>Fay Full: has no spare capacity for it</li>" in why
    assert "Bea Elsewhere" not in why
    make_agent([a], name="Ola Online")  # not yet filled: the reconciler's next pass
    why = _why(client.get(pool_url).get_data(as_text=True), task)
    assert "Ola Online may take it" in why and "Nobody" not in why


def test_assign_by_hand_beyond_capacity_is_flagged_and_audited(client, app):
    a = new_tenant()
    task = pooled(a)[0]
    agent = make_agent([a], capacity={"support": 0}, presence=Presence.OFFLINE)
    pool_url = f"/supervisor/tenants/{a}/pool"
    signed_in(client, a)
    response = post(client, f"{pool_url}/assign", pool_url, {"task_id": task, "agent_id": agent})
    assert response.status_code == 303
    row = item(a, task)
    assert row.state is Status.ASSIGNED and row.assignee_id == agent and row.over_capacity
    page = client.get(pool_url).get_data(as_text=True)
    assert "beyond the agent&#39;s capacity" in page or "beyond the agent's capacity" in page
    assert 'data-flag="over-capacity"' in page.split(f'data-task="{task}"')[1].split("</tr>")[0]
    with unit_of_work(a) as uow:
        reasons = uow.session.scalars(
            select(AuditEvent.reason).where(
                AuditEvent.subject_id == task, AuditEvent.to_state == "assigned"
            )
        ).all()
    assert any("by hand beyond capacity" in r for r in reasons)


def test_assign_by_hand_refused_says_why_and_writes_nothing(client, app):
    a = new_tenant()
    task = pooled(a)[0]
    unskilled = make_agent([a], skills={"accounting.invoice": 3}, presence=Presence.OFFLINE)
    pool_url = f"/supervisor/tenants/{a}/pool"
    signed_in(client, a)
    page = client.get(pool_url).get_data(as_text=True)
    row = page[page.index(f'<tr data-task="{task}">') :]
    row = row[: row.index("</tr>")]
    assert f'value="{unskilled}"' not in row and "nobody has the skills" in row  # not offered
    no_task = post(client, f"{pool_url}/assign", pool_url, {"agent_id": unskilled})
    assert no_task.status_code == 400
    response = post(
        client, f"{pool_url}/assign", pool_url, {"task_id": task, "agent_id": unskilled}
    )
    assert response.status_code == 409
    assert "lacks Support ticket at level 1" in response.get_data(as_text=True)
    assert item(a, task).state is Status.QUEUED


def test_bulk_reassign_to_an_agent_then_back_to_the_pool(client, app):
    a = new_tenant()
    first = make_agent([a])
    tasks = pooled(a, 2)
    assert {item(a, t).assignee_id for t in tasks} == {first}
    second = make_agent([a], capacity={"support": 1}, presence=Presence.OFFLINE)
    pool_url = f"/supervisor/tenants/{a}/pool"
    signed_in(client, a)
    response = post(client, f"{pool_url}/reassign", pool_url, {"task_ids": tasks, "to": second})
    assert response.status_code == 303
    rows = [item(a, t) for t in tasks]
    assert [r.assignee_id for r in rows] == [second, second]
    assert [r.over_capacity for r in rows] == [False, True]  # the second one is beyond capacity
    assert all(r.attempts == 0 for r in rows)  # a supervisor's move is no failed attempt
    assert f"fill-{first}-support" in job_ids("support")  # the first agent has room again
    with unit_of_work(a) as uow:  # history, as every page orders it, says what happened
        task = uow.session.get(Task, tasks[0])
        steps = [(e.from_state, e.to_state) for e in services.history(uow, task)]
    assert steps[-2:] == [("assigned", "queued"), ("queued", "assigned")]

    response = post(client, f"{pool_url}/reassign", pool_url, {"task_ids": tasks, "to": "pool"})
    assert response.status_code == 303
    rows = [item(a, t) for t in tasks]
    assert all(r.state is Status.QUEUED and r.assignee_id is None for r in rows)
    with unit_of_work(a) as uow:  # the task rows agree: nobody holds them
        assert [uow.session.get(Task, t).assignee_id for t in tasks] == [None, None]
    assert any(j.startswith(f"route-{a}-") for j in job_ids("support"))
    with unit_of_work(a) as uow:
        moves = uow.session.scalars(
            select(AuditEvent.reason)
            .where(AuditEvent.subject_id == tasks[0])
            .order_by(AuditEvent.id)
        ).all()
    assert moves.count("reassigned by a supervisor") == 2


def test_back_to_the_pool_is_not_routed_straight_back_to_its_holder(client, app):
    """The agent a supervisor took the task from has the most room afterwards; routing
    passes over them (as after a decline), and the supervisor may still assign by hand."""
    a = new_tenant()
    holder = make_agent([a])  # roomy
    (task,) = pooled(a)
    assert item(a, task).assignee_id == holder
    other = make_agent([a], capacity={"support": 1})  # less room than the holder
    pool_url = f"/supervisor/tenants/{a}/pool"
    signed_in(client, a)
    response = post(client, f"{pool_url}/reassign", pool_url, {"task_ids": [task], "to": "pool"})
    assert response.status_code == 303
    assert item(a, task).declined_by == [holder]
    assert "passed over \u00d71" in client.get(pool_url).get_data(as_text=True)
    router.route(a, [task])  # the job the reassignment queued
    assert item(a, task).assignee_id == other

    post(client, f"{pool_url}/reassign", pool_url, {"task_ids": [task], "to": "pool"})
    router.route(a, [task])  # nobody else may take it: it waits
    assert item(a, task).state is Status.QUEUED
    response = post(client, f"{pool_url}/assign", pool_url, {"task_id": task, "agent_id": holder})
    assert response.status_code == 303
    assert item(a, task).assignee_id == holder


def test_bulk_actions_with_nothing_ticked_say_so_on_the_pool_page(client, app):
    a = new_tenant()
    task = pooled(a)[0]
    pool_url = f"/supervisor/tenants/{a}/pool"
    signed_in(client, a)
    for action in ("reassign", "requeue"):
        response = post(client, f"{pool_url}/{action}", pool_url, {"to": "pool"})
        assert response.status_code == 303 and response.headers["Location"].endswith(pool_url)
        assert "Tick the tasks first" in client.get(pool_url).get_data(as_text=True)
    assert item(a, task).state is Status.QUEUED


def test_an_error_page_links_back_to_the_page_the_user_came_from(client, app):
    a = new_tenant()
    pool_url = f"/supervisor/tenants/{a}/pool"
    signed_in(client, a)
    missing = client.get(
        "/supervisor/tenants/nobody-here/pool", headers={"Referer": f"http://localhost{pool_url}"}
    )
    assert missing.status_code == 404
    assert f'<a href="{pool_url}">Back to the page you came from</a>' in missing.get_data(
        as_text=True
    )
    elsewhere = client.get(
        "/supervisor/tenants/nobody-here/pool", headers={"Referer": "https://evil.example/x"}
    )
    assert "Back to the page you came from" not in elsewhere.get_data(as_text=True)


def test_requeue_an_exception_resets_attempts_and_routes_it(client, app):
    a = new_tenant()
    task = pooled(a)[0]
    router.mark_failed(a, [task], "routing job failed 3 times")
    with unit_of_work() as uow:
        uow.session.execute(update(WorkItem).where(WorkItem.task_id == task).values(attempts=3))
    pool_url = f"/supervisor/tenants/{a}/pool"
    signed_in(client, a)
    page = client.get(pool_url).get_data(as_text=True)
    exceptions = page.split('id="exceptions"')[1].split("</section>")[0]
    assert "routing job failed 3 times" in exceptions and '<td class="num">3</td>' in exceptions
    response = post(client, f"{pool_url}/requeue", pool_url, {"task_ids": task})
    assert response.status_code == 303
    row = item(a, task)
    assert row.state is Status.QUEUED and row.attempts == 0 and row.last_error is None
    assert any(j.startswith(f"route-{a}-{task}") for j in job_ids("support"))
    with unit_of_work(a) as uow:
        assert uow.session.scalar(select(Task.status).where(Task.id == task)) is Status.QUEUED


# -- isolation ----------------------------------------------------------------------------


def test_a_supervisor_of_a_sees_and_changes_only_a(client, app):
    a, b = new_tenant(), new_tenant()
    task_b = pooled(b)[0]
    ids_out_of_reach(a, b)  # B's task id must not name a task of A by coincidence
    agent_a = make_agent([a], presence=Presence.OFFLINE)
    agent_b = make_agent([b], presence=Presence.OFFLINE)
    task_a = pooled(a)[0]
    signed_in(client, a)
    pool_a = f"/supervisor/tenants/{a}/pool"
    assert client.get(f"/supervisor/tenants/{b}/pool").status_code == 404
    assert client.get("/supervisor/tenants/nosuch_tenant/pool").status_code == 404
    home = client.get("/supervisor/").get_data(as_text=True)
    assert f"/supervisor/tenants/{b}/pool" not in home and f"/supervisor/tenants/{a}/pool" in home
    cases = [
        (f"/supervisor/tenants/{b}/pool/assign", {"task_id": task_b, "agent_id": agent_b}),
        (f"{pool_a}/assign", {"task_id": task_b, "agent_id": agent_a}),  # B's id on A's page
        (f"{pool_a}/assign", {"task_id": task_a, "agent_id": agent_b}),  # B's agent
        (f"{pool_a}/reassign", {"task_ids": [task_a, task_b], "to": agent_a}),
        (f"{pool_a}/reassign", {"task_ids": task_a, "to": agent_b}),
        (f"{pool_a}/requeue", {"task_ids": task_b}),
    ]
    for url, data in cases:
        assert post(client, url, pool_a, data).status_code == 404, url
    assert item(b, task_b).state is Status.QUEUED
    assert item(a, task_a).state is Status.QUEUED


def test_an_admin_oversees_every_tenant(client, world):
    a = new_tenant()
    agent = make_agent([a], presence=Presence.OFFLINE)
    task = pooled(a)[0]
    assert login(client, "/login", world.admin_email).status_code == 302
    admin_home = client.get("/admin/").get_data(as_text=True)
    assert f"/supervisor/tenants/{a}/pool" in admin_home
    assert f"/supervisor/agents/{agent}" in admin_home
    assert client.get(f"/supervisor/agents/{agent}").status_code == 200
    pool_url = f"/supervisor/tenants/{a}/pool"
    response = post(client, f"{pool_url}/assign", pool_url, {"task_id": task, "agent_id": agent})
    assert response.status_code == 303 and item(a, task).assignee_id == agent
