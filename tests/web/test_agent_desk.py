"""The agent's desk through its pages: queue, presence, Next task, and working each type.

Every test runs on a freshly provisioned tenant with agents of its own, so no
other test's agents or tasks get in the way. Jobs are not run by a worker here:
the tests call the review (and routing) as the jobs would.
"""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bpo.core.actors import SYSTEM, Actor
from bpo.core.uow import unit_of_work
from bpo.identity import services as identity
from bpo.identity.models import ClientRole, StaffUser
from bpo.routing import router
from bpo.routing.review import review
from bpo.routing.rules import Presence
from bpo.work import index
from bpo.work.models import Task, WorkItem, WorkSession
from bpo.work.services import add_client_message, create_task
from bpo.work.states import Status
from bpo.workforce.models import AgentProfile
from queues.connection import get_queue
from queues.jobs.review import review_task
from tenants.db import utcnow
from tests.support.agents import make_agent, new_tenant
from tests.support.factories import (
    ensure_form,
    invoice_task,
    journal_task,
    reconciliation_task,
    record_task,
    ticket_task,
)
from tests.support.helpers import PASSWORD, csrf_token, login

# -- helpers (the isolation tests use them too) -------------------------------------


def email_of(agent_id: int) -> str:
    with unit_of_work() as uow:
        return uow.session.get(StaffUser, agent_id).email


def sign_in(client, agent_id: int) -> None:
    assert login(client, "/login", email_of(agent_id)).status_code == 302


def new_task(tenant: str, data: dict, *, route: bool = True) -> int:
    with unit_of_work(tenant) as uow:
        task_id = create_task(uow, data, SYSTEM).task.id
    if route:
        router.route(tenant, [task_id])
    return task_id


def url(tenant: str, task_id: int, action: str = "") -> str:
    return f"/agent/t/{tenant}/tasks/{task_id}" + (f"/{action}" if action else "")


def post(client, tenant: str, task_id: int, action: str, data: dict | None = None):
    token = csrf_token(client, "/agent/queue")
    return client.post(url(tenant, task_id, action), data={"csrf_token": token, **(data or {})})


def task_of(tenant: str, task_id: int) -> Task:
    with unit_of_work(tenant) as uow:
        task = uow.session.get(Task, task_id)
        uow.session.expunge(task)
        return task


def item_of(tenant: str, task_id: int) -> WorkItem | None:
    with unit_of_work(tenant) as uow:
        item = uow.session.scalar(
            select(WorkItem).where(
                WorkItem.tenant_id == index.tenant_id(uow), WorkItem.task_id == task_id
            )
        )
        if item is not None:
            uow.session.expunge(item)
        return item


def sessions_of(tenant: str, task_id: int) -> list[WorkSession]:
    with unit_of_work(tenant) as uow:
        rows = list(
            uow.session.scalars(
                select(WorkSession)
                .where(
                    WorkSession.tenant_id == index.tenant_id(uow), WorkSession.task_id == task_id
                )
                .order_by(WorkSession.id)
            )
        )
        uow.session.expunge_all()
        return rows


def started(client, tenant: str, task_id: int) -> None:
    assert post(client, tenant, task_id, "start").status_code == 302
    assert task_of(tenant, task_id).status is Status.IN_PROGRESS


@pytest.fixture
def desk(client):
    """A fresh tenant (with the W-9 form), one agent serving it, signed in."""
    tenant = new_tenant("desk")
    ensure_form(tenant)
    agent_id = make_agent([tenant])
    sign_in(client, agent_id)
    return tenant, agent_id


# -- queue, presence, Next task -------------------------------------------------------


def test_queue_lists_held_tasks_most_urgent_first_with_titles(client, desk):
    tenant, _ = desk
    low = new_task(tenant, ticket_task(title="Low one", priority="low"))
    urgent = new_task(tenant, ticket_task(title="Urgent one", priority="urgent"))
    page = client.get("/agent/queue")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.index("Urgent one") < html.index("Low one")
    assert f'data-task="{tenant}-{urgent}"' in html and f'data-task="{tenant}-{low}"' in html
    assert "setInterval(tick, 1000)" in html  # the SLA countdown script
    assert "Support ticket" in html and "assigned" in html


def test_page_views_touch_the_agent_at_most_once_a_minute(client, desk):
    _, agent_id = desk
    with unit_of_work() as uow:
        uow.session.get(AgentProfile, agent_id).last_seen_at = utcnow() - timedelta(minutes=20)
    support = get_queue("support")
    support.empty()
    client.get("/agent/queue")
    with unit_of_work() as uow:
        first = uow.session.get(AgentProfile, agent_id).last_seen_at
    assert utcnow() - first < timedelta(seconds=30)
    # back from idling (they counted as away): filled up as on going online
    assert f"fill-{agent_id}-support" in support.job_ids
    support.empty()
    client.get("/agent/queue")
    assert support.job_ids == []  # no longer idle: no fill
    with unit_of_work() as uow:
        assert uow.session.get(AgentProfile, agent_id).last_seen_at == first


def test_going_offline_returns_not_started_tasks(client, desk):
    tenant, _ = desk
    waiting = new_task(tenant, ticket_task())
    working = new_task(tenant, ticket_task())
    started(client, tenant, working)
    token = csrf_token(client, "/agent/queue")
    answer = client.post("/agent/presence", data={"csrf_token": token, "presence": "offline"})
    assert answer.status_code == 302
    assert "1 task you had not started went back" in client.get("/agent/queue").get_data(
        as_text=True
    )
    assert item_of(tenant, waiting).state is Status.QUEUED
    assert item_of(tenant, working).state is Status.IN_PROGRESS  # started work stays
    assert all(s.ended_at is not None for s in sessions_of(tenant, working))


def test_going_away_stops_handle_time_and_viewing_the_task_resumes_it(client, desk):
    tenant, _ = desk
    working = new_task(tenant, ticket_task())
    started(client, tenant, working)
    token = csrf_token(client, "/agent/queue")
    client.post("/agent/presence", data={"csrf_token": token, "presence": "away"})
    [stopped] = sessions_of(tenant, working)
    assert stopped.ended_at is not None and stopped.ended_by == "away"
    assert item_of(tenant, working).state is Status.IN_PROGRESS  # away keeps the task

    client.post("/agent/presence", data={"csrf_token": token, "presence": "online"})
    assert client.get(url(tenant, working)).status_code == 200
    first, again = sessions_of(tenant, working)
    assert first.id == stopped.id and again.ended_at is None and again.started_at >= first.ended_at
    assert client.get(url(tenant, working)).status_code == 200  # one open session, not two
    assert len(sessions_of(tenant, working)) == 2


def test_the_reconciler_ends_an_idle_agents_session_at_their_last_activity(client, desk):
    from bpo.routing.reconciler import reconcile
    from bpo.workforce.services import IDLE_AFTER

    tenant, agent_id = desk
    working = new_task(tenant, ticket_task())
    started(client, tenant, working)
    with unit_of_work() as uow:
        last_seen = uow.session.get(AgentProfile, agent_id).last_seen_at
    reconcile(last_seen + IDLE_AFTER - timedelta(seconds=5))
    assert sessions_of(tenant, working)[0].ended_at is None  # not idle yet
    assert reconcile(last_seen + IDLE_AFTER + timedelta(seconds=5)).sessions_ended >= 1  # ours
    [idle] = sessions_of(tenant, working)
    assert idle.ended_by == "idle" and idle.ended_at == max(idle.started_at, last_seen)


def test_bad_presence_is_400(client, desk):
    token = csrf_token(client, "/agent/queue")
    answer = client.post("/agent/presence", data={"csrf_token": token, "presence": "asleep"})
    assert answer.status_code == 400
    assert "Choose online, away or offline" in answer.get_data(as_text=True)


def test_next_task_claims_from_the_pool_and_starts_it(client, desk):
    tenant, agent_id = desk
    token = csrf_token(client, "/agent/queue")
    client.post("/agent/presence", data={"csrf_token": token, "presence": "offline"})
    task_id = new_task(tenant, ticket_task())  # nobody online: it waits in the pool
    assert item_of(tenant, task_id).state is Status.QUEUED
    client.post("/agent/presence", data={"csrf_token": token, "presence": "online"})
    answer = client.post("/agent/next", data={"csrf_token": token})
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(url(tenant, task_id))
    assert task_of(tenant, task_id).status is Status.IN_PROGRESS
    assert task_of(tenant, task_id).assignee_id == agent_id
    [work] = sessions_of(tenant, task_id)
    assert work.agent_id == agent_id and work.ended_at is None
    page = client.get(url(tenant, task_id)).get_data(as_text=True)
    assert 'id="handle-time"' in page and "Your work" in page
    # The request shows the customer's message (stored as the thread's first message).
    request_card = page[page.index("<h2>Request</h2>") : page.index("<h3>Files</h3>")]
    assert "Order 5512 was returned two weeks ago." in request_card


def test_next_task_opens_a_held_task_before_claiming(client, desk):
    tenant, _ = desk
    held = new_task(tenant, ticket_task())
    token = csrf_token(client, "/agent/queue")
    answer = client.post("/agent/next", data={"csrf_token": token})
    assert answer.headers["Location"].endswith(url(tenant, held))


def _next_notice(client) -> str:
    token = csrf_token(client, "/agent/queue")
    answer = client.post("/agent/next", data={"csrf_token": token})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/agent/queue")
    page = client.get("/agent/queue").get_data(as_text=True)
    found = re.search(r'class="flash flash-notice" role="status">(.*?)</div>', page, re.S)
    assert found
    return found.group(1)


def test_away_or_offline_nothing_starts_and_handle_time_stands_still(client, desk):
    tenant, _ = desk
    held = new_task(tenant, ticket_task())  # routed to the signed-in agent
    token = csrf_token(client, "/agent/queue")
    client.post("/agent/presence", data={"csrf_token": token, "presence": "away"})
    assert "You are away" in _next_notice(client)
    refused = post(client, tenant, held, "start")
    assert refused.status_code == 409 and "go online" in refused.get_data(as_text=True)
    assert task_of(tenant, held).status is Status.ASSIGNED and sessions_of(tenant, held) == []

    client.post("/agent/presence", data={"csrf_token": token, "presence": "online"})
    assert post(client, tenant, held, "start").status_code == 302
    client.post("/agent/presence", data={"csrf_token": token, "presence": "away"})
    assert client.get(url(tenant, held)).status_code == 200  # looking is not working
    [work] = sessions_of(tenant, held)
    assert work.ended_at is not None and work.ended_by == "away"


def test_next_task_says_why_there_is_nothing(client):
    tenant = new_tenant("why")
    offline = make_agent([tenant], presence=Presence.OFFLINE)
    sign_in(client, offline)
    assert "You are offline" in _next_notice(client)

    other_day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(utcnow().weekday() + 3) % 7]
    off_shift = make_agent([tenant], shifts=[{"day": other_day, "start": "09:00", "end": "10:00"}])
    sign_in(client, off_shift)
    assert "off shift" in _next_notice(client)

    full = make_agent([tenant], capacity={"data_entry": 0, "accounting": 0, "support": 0})
    sign_in(client, full)
    assert "at capacity" in _next_notice(client)

    idle = make_agent([tenant])
    sign_in(client, idle)
    assert "pool is empty" in _next_notice(client)


# -- working each type ----------------------------------------------------------------


def test_keying_a_record_checks_values_against_the_form(client, desk):
    tenant, agent_id = desk
    task_id = new_task(tenant, record_task())
    started(client, tenant, task_id)
    page = client.get(url(tenant, task_id)).get_data(as_text=True)
    assert 'name="values.tin"' in page and "critical" in page
    assert "<dt>Form</dt><dd>W-9</dd>" in page  # the form as the client named it

    bad = post(client, tenant, task_id, "hand-in", {"values.tin": "12-34", "values.amount": "x"})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert 'id="values-tin-error">does not match' in html
    assert 'id="values-amount-error">not a number' in html
    assert 'value="12-34"' in html  # kept
    assert task_of(tenant, task_id).status is Status.IN_PROGRESS
    assert task_of(tenant, task_id).result is None

    good = post(
        client, tenant, task_id, "hand-in", {"values.tin": "123456789", "values.amount": "5"}
    )
    assert good.status_code == 302
    task = task_of(tenant, task_id)
    assert task.status is Status.IN_REVIEW
    assert task.result["values"] == {"tin": "123456789", "amount": "5"}
    [work] = sessions_of(tenant, task_id)  # recorded without the agent doing anything
    assert work.agent_id == agent_id and work.ended_by == "hand_in"
    assert work.ended_at >= work.started_at

    assert review_task(tenant, task_id) == "done"
    assert task_of(tenant, task_id).status is Status.DONE
    assert review(tenant, task_id) is None  # idempotent: not in review any more


INVOICE_FORM = {
    "invoice.vendor": "Paper & Co",
    "invoice.invoice_number": "INV-77",
    "invoice.invoice_date": "2026-11-02",
    "invoice.due_date": "2026-12-02",
    "invoice.currency": "USD",
    "invoice.lines.0.description": "A4 paper",
    "invoice.lines.0.quantity": "3",
    "invoice.lines.0.unit_price": "4.99",
    "invoice.lines.0.tax_rate": "10",
    "invoice.totals.subtotal": "14.97",
    "invoice.totals.tax": "1.50",
    "invoice.totals.total": "16.47",
    "gl_account": "6100",
}


def test_capturing_an_invoice_needs_totals_to_the_cent_and_gl_accounts(client, desk):
    tenant, _ = desk
    task_id = new_task(tenant, invoice_task())
    started(client, tenant, task_id)
    page = client.get(url(tenant, task_id)).get_data(as_text=True)
    assert 'name="invoice.totals.total" value="16.47"' in page  # pre-filled from the payload

    wrong = post(
        client, tenant, task_id, "hand-in", {**INVOICE_FORM, "invoice.totals.total": "16.48"}
    )
    assert wrong.status_code == 400
    assert 'id="invoice-totals-total-error">subtotal plus tax is 16.47' in wrong.get_data(
        as_text=True
    )
    no_gl = post(client, tenant, task_id, "hand-in", {**INVOICE_FORM, "gl_account": ""})
    assert no_gl.status_code == 400
    assert 'id="invoice-lines-0-gl_account-error"' in no_gl.get_data(as_text=True)
    assert task_of(tenant, task_id).status is Status.IN_PROGRESS

    per_line = {**INVOICE_FORM, "gl_account": "", "invoice.lines.0.gl_account": "6100"}
    assert post(client, tenant, task_id, "hand-in", per_line).status_code == 302
    result = task_of(tenant, task_id).result
    assert result["invoice"]["totals"]["total"] == "16.47"
    assert result["invoice"]["lines"][0]["gl_account"] == "6100"
    assert review(tenant, task_id) is Status.DONE


def test_a_possible_duplicate_must_be_confirmed(client, desk):
    tenant, _ = desk
    first = invoice_task()
    new_task(tenant, first)
    again = invoice_task(payload={"invoice_number": first["payload"]["invoice_number"]})
    task_id = new_task(tenant, again)
    if not task_of(tenant, task_id).flags:
        pytest.skip("intake did not flag the duplicate")
    started(client, tenant, task_id)
    form = {**INVOICE_FORM, "invoice.invoice_number": first["payload"]["invoice_number"]}
    unticked = post(client, tenant, task_id, "hand-in", form)
    assert unticked.status_code == 400
    assert 'id="duplicate_checked-error"' in unticked.get_data(as_text=True)
    ticked = post(client, tenant, task_id, "hand-in", {**form, "duplicate_checked": "true"})
    assert ticked.status_code == 302


def test_reconciliation_marks_every_line_and_explains_unmatched_ones(client, desk):
    tenant, _ = desk
    task_id = new_task(tenant, reconciliation_task())
    started(client, tenant, task_id)
    bad = post(
        client,
        tenant,
        task_id,
        "hand-in",
        {"lines.0.matched": "matched", "lines.1.matched": "unmatched"},
    )
    assert bad.status_code == 400
    assert 'id="lines-1-note-error">say why' in bad.get_data(as_text=True)
    unset = post(client, tenant, task_id, "hand-in", {"lines.0.matched": "matched"})
    assert unset.status_code == 400
    assert 'id="lines-1-matched-error"' in unset.get_data(as_text=True)
    good = {
        "lines.0.matched": "matched",
        "lines.1.matched": "unmatched",
        "lines.1.note": "rent later",
    }
    assert post(client, tenant, task_id, "hand-in", good).status_code == 302
    assert task_of(tenant, task_id).result["lines"][1] == {"matched": False, "note": "rent later"}
    assert review(tenant, task_id) is Status.DONE


def test_journal_entry_needs_confirmation_and_a_posting_reference(client, desk):
    tenant, _ = desk
    task_id = new_task(tenant, journal_task())
    started(client, tenant, task_id)
    bad = post(client, tenant, task_id, "hand-in", {})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert 'id="balanced_confirmed-error"' in html
    good = {"balanced_confirmed": "true", "posting_reference": "JE-2026-11-5"}
    assert post(client, tenant, task_id, "hand-in", good).status_code == 302
    assert review(tenant, task_id) is Status.DONE


def test_ticket_reply_note_and_resolve(client, desk):
    tenant, _ = desk
    task_id = new_task(tenant, ticket_task())
    started(client, tenant, task_id)
    assert post(client, tenant, task_id, "hand-in", {}).status_code == 400  # no reply yet
    empty = post(client, tenant, task_id, "reply", {"body": "  "})
    assert empty.status_code == 400 and 'id="body-error"' in empty.get_data(as_text=True)
    note = post(
        client,
        tenant,
        task_id,
        "reply",
        {"body": "Refund batch runs Friday", "visibility": "internal_note"},
    )
    assert note.status_code == 302
    reply = post(client, tenant, task_id, "reply", {"body": "Your refund is on its way."})
    assert reply.status_code == 302
    page = client.get(url(tenant, task_id)).get_data(as_text=True)
    assert "internal note" in page and "Your refund is on its way." in page
    visibilities = [m.visibility for m in task_of(tenant, task_id).messages]
    assert visibilities[-2:] == ["internal_note", "public_reply"]
    assert post(client, tenant, task_id, "hand-in", {"resolution": "refunded"}).status_code == 302
    assert review(tenant, task_id) is Status.DONE


def test_a_question_pauses_the_task_and_shows_in_the_portal(app, client, desk):
    tenant, _ = desk
    task_id = new_task(tenant, ticket_task())
    started(client, tenant, task_id)
    assert post(client, tenant, task_id, "ask", {"question": ""}).status_code == 400
    assert task_of(tenant, task_id).status is Status.IN_PROGRESS
    asked = post(client, tenant, task_id, "ask", {"question": "Which order number, please?"})
    assert asked.status_code == 302
    assert task_of(tenant, task_id).status is Status.WAITING_ON_CLIENT
    assert sessions_of(tenant, task_id)[-1].ended_by == "pause"

    with unit_of_work(tenant) as uow:
        identity.create_client(
            uow.session,
            email="boss@desk.test",
            name="Boss",
            role=ClientRole.CLIENT_ADMIN,
            password=PASSWORD,
        )
    portal = app.test_client()
    assert login(portal, f"/portal/{tenant}/login", "boss@desk.test").status_code == 302
    shown = portal.get(f"/portal/{tenant}/tasks/{task_id}").get_data(as_text=True)
    assert "The provider asked a question." in shown
    assert "Which order number, please?" in shown

    with unit_of_work(tenant) as uow:
        task = uow.session.get(Task, task_id)
        add_client_message(uow, task, Actor("client:1", "Boss"), "Order 5512")
    assert task_of(tenant, task_id).status is Status.IN_PROGRESS
    started(client, tenant, task_id)  # the agent picks it up again: a new work session
    assert [s.ended_at is None for s in sessions_of(tenant, task_id)] == [False, True]


def test_decline_needs_a_reason_and_returns_the_task(client, desk):
    tenant, agent_id = desk
    task_id = new_task(tenant, ticket_task())
    empty = post(client, tenant, task_id, "decline", {"reason": ""})
    assert empty.status_code == 400 and 'id="reason-error"' in empty.get_data(as_text=True)
    assert item_of(tenant, task_id).assignee_id == agent_id
    assert (
        post(client, tenant, task_id, "decline", {"reason": "Not my language"}).status_code == 302
    )
    item = item_of(tenant, task_id)
    assert item.state is Status.QUEUED and agent_id in item.declined_by and item.attempts == 1
    assert client.get(url(tenant, task_id)).status_code == 404  # no longer theirs


def test_a_rejected_task_goes_back_to_the_same_agent_who_reopens_it(client, desk):
    tenant, agent_id = desk
    task_id = new_task(tenant, record_task())
    started(client, tenant, task_id)
    post(client, tenant, task_id, "hand-in", {"values.tin": "123456789"})
    with unit_of_work(tenant) as uow:  # the result went bad after hand-in (a form changed)
        task = uow.session.get(Task, task_id)
        task.result = {**task.result, "values": {"tin": "nope"}}
    assert review(tenant, task_id) is Status.REJECTED
    assert item_of(tenant, task_id).assignee_id == agent_id
    page = client.get(url(tenant, task_id)).get_data(as_text=True)
    assert "The review sent this back." in page and "values.tin" in page and "Reopen" in page
    assert post(client, tenant, task_id, "start").status_code == 302
    assert task_of(tenant, task_id).status is Status.IN_PROGRESS
    assert post(client, tenant, task_id, "hand-in", {"values.tin": "987654321"}).status_code == 302
    assert review(tenant, task_id) is Status.DONE


def test_actions_out_of_turn_are_conflicts_not_errors(client, desk):
    tenant, _ = desk
    task_id = new_task(tenant, ticket_task())  # assigned, not started
    answer = post(client, tenant, task_id, "reply", {"body": "hi"})
    assert answer.status_code == 409
    assert "Start the task first" in answer.get_data(as_text=True)
    assert post(client, tenant, task_id, "hand-in", {}).status_code == 409


@pytest.mark.parametrize(
    "factory", [record_task, invoice_task, reconciliation_task, journal_task, ticket_task]
)
def test_garbage_work_is_400_and_writes_nothing(client, desk, factory):
    tenant, _ = desk
    task_id = new_task(tenant, factory())
    started(client, tenant, task_id)
    garbage = {
        "values": "x",
        "invoice.lines.a.quantity": "1",
        "invoice.vendor": "Nul\x00Co",
        "lines.0.matched": "perhaps",
        "resolution": "a\x00b",
        "posting_reference": "\x00",
        "balanced_confirmed": "true",
    }
    answer = post(client, tenant, task_id, "hand-in", garbage)
    assert answer.status_code == 400, answer.status_code
    assert task_of(tenant, task_id).status is Status.IN_PROGRESS
    assert task_of(tenant, task_id).result is None


def test_times_show_in_the_viewers_time_zone(client, desk):
    tenant, agent_id = desk
    task_id = new_task(tenant, ticket_task(title="Zoned"))
    due = utcnow().replace(microsecond=0) + timedelta(hours=2)
    with unit_of_work(tenant) as uow:
        uow.session.get(Task, task_id).sla_due_at = due
        uow.session.execute(
            WorkItem.__table__.update()
            .where(WorkItem.tenant_id == index.tenant_id(uow), WorkItem.task_id == task_id)
            .values(sla_due_at=due)
        )
    with unit_of_work() as uow:
        uow.session.get(StaffUser, agent_id).timezone = "Asia/Tokyo"
    html = client.get("/agent/queue").get_data(as_text=True)
    tokyo = due.astimezone(ZoneInfo("Asia/Tokyo"))
    assert tokyo.strftime("%Y-%m-%d %H:%M JST") in html
    assert f'data-due="{due.isoformat()}"' in html  # the countdown counts from UTC


def test_history_names_the_staff_who_acted(app, client):
    from bpo.routing import desk

    tenant = new_tenant()
    agent_id = make_agent([tenant], name="Priya Keyer")
    with unit_of_work(tenant) as uow:
        task_id = create_task(uow, ticket_task(), Actor("client:1", "C")).task.id
    assert router.route(tenant, [task_id]).assigned == {task_id: agent_id}
    with unit_of_work(tenant) as uow:
        desk.start(uow, uow.session.get(StaffUser, agent_id), task_id)
    with unit_of_work() as uow:
        email = uow.session.scalar(select(StaffUser.email).where(StaffUser.id == agent_id))
    assert login(client, "/login", email).status_code == 302
    page = client.get(f"/agent/t/{tenant}/tasks/{task_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "by Priya Keyer" in html  # the start, named
    assert "routed to Priya Keyer" in html  # staff named in a reason too
    assert "by client" in html and f"staff:{agent_id}" not in html
