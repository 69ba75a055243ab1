"""The demo's SLAs: each demo tenant's calendar and policies, and a story told by its
work (fine, warned, breached and paused open tasks; 30 days of closed history), so the
supervisor dashboard and the client's SLA report have something to say at once.

Called by :func:`bpo.demo_work.seed_work`; everything goes through the SLA services,
and only the clocks' start instants are moved back in time (``demo_rewind_clocks``).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bpo.audit.models import AuditEvent
from bpo.audit.services import record
from bpo.core.actors import Actor
from bpo.core.uow import UnitOfWork, unit_of_work
from bpo.demo_work import PRIORITIES, DemoBook, demo_tasks
from bpo.sla.engine import Calendar, business_seconds_between, due_at
from bpo.work import index
from bpo.work.models import Task, TaskMessage, WorkItem
from bpo.work.states import Status
from tenants.db import utcnow

# -- SLAs: each demo tenant's calendar and policies, and a story told by its work ------


@dataclass(frozen=True)
class DemoSla:
    """One demo tenant's business hours (``bpo.sla.engine.Calendar`` format) and policies
    (first match wins, in this order)."""

    calendar_name: str
    calendar: dict[str, Any]
    policies: tuple[dict[str, Any], ...]


HOUR = 3600
WAITING = ["waiting_on_client"]
# Resolution and next response stand still while a task waits on the client.
PAUSE_ON_CLIENT = {"resolution": WAITING, "next_response": WAITING, "start_by": WAITING}


def _hours(days: tuple[str, ...], *intervals: tuple[str, str]) -> dict[str, list[list[str]]]:
    return {d: [list(i) for i in intervals] for d in days}


SLAS: dict[str, DemoSla] = {
    "acme": DemoSla(
        calendar_name="New York office (lunch 12-1)",
        calendar={
            "timezone": "America/New_York",
            "week": _hours(
                ("mon", "tue", "wed", "thu", "fri"), ("09:00", "12:00"), ("13:00", "17:00")
            ),
            "holidays": [
                "2026-01-01",
                "2026-01-19",
                "2026-05-25",
                "2026-07-03",
                "2026-09-07",
                "2026-11-26",
                "2026-11-27",
                "2026-12-24",
                "2026-12-25",
                "2027-01-01",
                "2027-01-18",
                "2027-05-31",
                "2027-07-05",
            ],
        },
        policies=(
            {
                "name": "Urgent: anything",
                "priorities": ["urgent"],
                "targets": {
                    "first_response": HOUR // 2,
                    "next_response": HOUR,
                    "resolution": 4 * HOUR,
                    "start_by": HOUR,
                },
                "thresholds": [50, 75, 90],
            },
            {
                "name": "Support",
                "kinds": ["support"],
                "targets": {
                    "first_response": 2 * HOUR,
                    "next_response": 4 * HOUR,
                    "resolution": 16 * HOUR,
                },
            },
            {
                "name": "Accounting",
                "kinds": ["accounting"],
                "targets": {"start_by": 4 * HOUR, "resolution": 21 * HOUR},
            },
            {"name": "Data entry", "kinds": ["data_entry"], "targets": {"resolution": 7 * HOUR}},
        ),
    ),
    "globex": DemoSla(
        calendar_name="UK depot hours",
        calendar={
            "timezone": "Europe/London",
            "week": {
                **_hours(("mon", "tue", "wed", "thu", "fri"), ("08:00", "18:00")),
                "sat": [["09:00", "13:00"]],
            },
            "holidays": [
                "2026-01-01",
                "2026-04-03",
                "2026-04-06",
                "2026-05-04",
                "2026-05-25",
                "2026-08-31",
                "2026-12-25",
                "2026-12-28",
                "2027-01-01",
                "2027-03-26",
                "2027-03-29",
                "2027-05-03",
            ],
        },
        policies=(
            {
                "name": "Urgent and high",
                "priorities": ["urgent", "high"],
                "targets": {
                    "first_response": HOUR,
                    "next_response": 2 * HOUR,
                    "resolution": 6 * HOUR,
                    "start_by": 2 * HOUR,
                },
                "thresholds": [50, 80],
            },
            {
                "name": "Support",
                "kinds": ["support"],
                "targets": {
                    "first_response": 3 * HOUR,
                    "next_response": 5 * HOUR,
                    "resolution": 20 * HOUR,
                },
            },
            {
                "name": "Accounting",
                "kinds": ["accounting"],
                "targets": {"start_by": 5 * HOUR, "resolution": 30 * HOUR},
            },
            {"name": "Data entry", "kinds": ["data_entry"], "targets": {"resolution": 10 * HOUR}},
        ),
    ),
    "initech": DemoSla(
        calendar_name="Sydney office (lunch 12:30-1:30)",
        calendar={
            "timezone": "Australia/Sydney",
            "week": _hours(
                ("mon", "tue", "wed", "thu", "fri"), ("08:30", "12:30"), ("13:30", "17:30")
            ),
            "holidays": [
                "2026-01-01",
                "2026-01-26",
                "2026-04-03",
                "2026-04-06",
                "2026-04-27",
                "2026-06-08",
                "2026-10-05",
                "2026-12-25",
                "2026-12-28",
                "2027-01-01",
                "2027-01-26",
                "2027-03-26",
            ],
        },
        policies=(
            {
                "name": "Urgent: anything",
                "priorities": ["urgent"],
                "targets": {
                    "first_response": HOUR // 2,
                    "next_response": HOUR,
                    "resolution": 3 * HOUR,
                    "start_by": HOUR,
                },
                "thresholds": [50, 75, 90],
            },
            {
                "name": "Support",
                "kinds": ["support"],
                "targets": {
                    "first_response": HOUR,
                    "next_response": 3 * HOUR,
                    "resolution": 12 * HOUR,
                },
                "thresholds": [50, 75, 90],
            },
            {
                "name": "Accounting",
                "kinds": ["accounting"],
                "targets": {"start_by": 3 * HOUR, "resolution": 24 * HOUR},
            },
            {"name": "Data entry", "kinds": ["data_entry"], "targets": {"resolution": 8 * HOUR}},
        ),
    ),
}


def seed_sla(slug: str, sla: DemoSla) -> bool:
    """The tenant's calendar and policies through the policy services, once (a tenant
    that has a calendar of that name is left alone); returns whether they were made."""
    from bpo.sla.models import SlaCalendar
    from bpo.sla.policies import save_calendar, save_policy

    with unit_of_work(slug) as uow:
        if uow.session.scalar(select(SlaCalendar.id).where(SlaCalendar.name == sla.calendar_name)):
            return False
        calendar = save_calendar(uow, sla.calendar_name, sla.calendar)
        for position, policy in enumerate(sla.policies, 1):
            save_policy(
                uow,
                {
                    "pauses": PAUSE_ON_CLIENT,
                    **policy,
                    "position": 10 * position,
                    "calendar_id": calendar.id,
                },
            )
    return True


# What each open demo task is made to look like, in the order the tasks are created
# (every demo book has at least ten tasks, so every state appears in every tenant).
STORY = (
    "fine",
    "warned",
    "breached",
    "paused",
    "fine",
    "warned",
    "fine",
    "breached",
    "paused",
    "fine",
    "warned",
    "fine",
    "breached",
    "fine",
)
# The share of its tightest target an open task has used when the demo starts.
SHARES = {"fine": (0.1, 0.3), "warned": (0.8, 0.93), "breached": (1.3, 2.0), "paused": (0.35, 0.45)}
HISTORY = 40  # closed tasks per tenant over the last 30 days
HISTORY_TYPES = ("support.ticket", "data_entry.record", "accounting.journal_entry")
DEMO_ACTOR = Actor("system:demo", "Demo seed")


def history_tasks(slug: str, book: DemoBook, today: date) -> list[dict[str, Any]]:
    """Inputs of the closed tasks of the last 30 days (no invoices: they would be flagged
    as duplicates of one another)."""
    samples = [t for t in demo_tasks(slug, book, today) if t["type"] in HISTORY_TYPES]
    rows = []
    for i in range(HISTORY):
        sample = samples[i % len(samples)]
        rows.append(
            {
                **sample,
                "external_ref": f"{slug.upper()}-H-{i:04d}",
                "priority": PRIORITIES[i % len(PRIORITIES)],
            }
        )
    return rows


def tell_sla_story(
    slug: str, open_ids: list[int], history_ids: list[int], now: datetime | None = None
) -> None:
    """Demo only: make freshly created demo work look lived-in, through the SLA services.

    Closed history: each task is moved back to a start in the last 30 days and then, in
    time order across the tenant, checked (``check_due`` at that instant, so warnings
    and breaches are real events on their own days) and replied to / closed with
    ``on_status(DONE, at=...)``, about one in four late: the rollups get met and missed
    clocks for attainment figures and trends. Open work: each task's clocks are moved
    back so that a chosen share of its tightest target is used by now (fine, warned,
    breached), a few are started by an agent and wait on the client (paused), and
    ``run_due`` at ``now`` fires what is due and notifies, as the sweep would.
    """
    from bpo.sla.sweep import run_due

    now = now or utcnow()
    with unit_of_work(slug) as uow:
        _history(uow, history_ids, now)
    stories = dict(zip(open_ids, STORY * (1 + len(open_ids) // len(STORY)), strict=False))
    with unit_of_work(slug) as uow:
        for i, task_id in enumerate(open_ids):
            low, high = SHARES[stories[task_id]]
            share = low + (high - low) * ((i * 7) % 10) / 9
            demo_rewind_clocks(uow, task_id, share, now)
    paused = [task_id for task_id in open_ids if stories[task_id] == "paused"]
    _wait_on_client(slug, paused)
    run_due(slug, now)


def demo_rewind_clocks(uow: UnitOfWork, task_id: int, share: float, now: datetime) -> None:
    """Demo only: move a new task's start (task, index row, clocks, their ``started``
    event) back so that ``share`` of its tightest target is used at ``now``, and let
    :func:`bpo.sla.services.store` recompute due instants and checkpoints."""
    from bpo.sla import services as sla
    from bpo.sla.models import SlaClock

    session = uow.session
    rows = list(
        session.scalars(
            select(SlaClock).where(SlaClock.task_id == task_id, SlaClock.state == "running")
        )
    )
    if not rows:
        return
    tightest = min(rows, key=lambda r: r.target_seconds)
    start = _start_for(sla.calendar_of(tightest.calendar), now, share * tightest.target_seconds)
    _move_start(uow, task_id, start, rows)


def _start_for(calendar: Calendar, now: datetime, business_seconds: float) -> datetime:
    """The latest instant from which ``business_seconds`` of business time have passed by
    ``now`` (bisection: business time elapsed only grows as the start moves back)."""
    low, high = now - timedelta(days=120), now
    for _ in range(36):
        middle = low + (high - low) / 2
        if business_seconds_between(calendar, middle, now) >= business_seconds:
            low = middle
        else:
            high = middle
    return low.replace(microsecond=0)


def _move_start(uow: UnitOfWork, task_id: int, start: datetime, rows: list[Any]) -> None:
    from bpo.sla import services as sla
    from bpo.sla.models import SlaEvent

    session = uow.session
    tenant_id = index.tenant_id(uow)
    session.execute(
        update(Task).where(Task.id == task_id).values(created_at=start, updated_at=start),
        execution_options={"synchronize_session": False},
    )
    session.execute(
        update(AuditEvent)
        .where(AuditEvent.subject_id == task_id, AuditEvent.action == "created")
        .values(at=start)
    )
    session.execute(
        update(WorkItem)
        .where(WorkItem.tenant_id == tenant_id, WorkItem.task_id == task_id)
        .values(created_at=start),
        execution_options={"synchronize_session": False},
    )
    session.execute(
        update(SlaEvent)
        .where(SlaEvent.task_id == task_id, SlaEvent.kind == "started")
        .values(at=start)
    )
    for row in rows:
        row.started_at = start
        sla.store(row, sla.pure(row))
    sla.mirror_many(uow, [task_id])


def _history(uow: UnitOfWork, task_ids: list[int], now: datetime) -> None:
    """Start each history task in the last 30 days, then replay replies and closes in
    time order, checking the tenant's clocks at each instant first."""
    from bpo.sla import services as sla
    from bpo.sla.checks import check_due
    from bpo.sla.models import SlaClock

    if not task_ids:
        return
    session = uow.session
    steps: list[tuple[datetime, int, str]] = []
    first = now - timedelta(days=30)
    span = timedelta(days=27) / len(task_ids)
    for i, task_id in enumerate(task_ids):
        rows = list(session.scalars(select(SlaClock).where(SlaClock.task_id == task_id)))
        start = (first + span * i + timedelta(hours=(i * 7) % 11)).replace(microsecond=0)
        _move_start(uow, task_id, start, rows)
        # Misses get rarer towards today: the trend improves.
        late = i % 4 == 1 if i < len(task_ids) // 2 else i % 7 == 3
        by_target = {r.target: r for r in rows}
        first_response = by_target.get("first_response")
        resolution = by_target.get("resolution") or min(rows, key=lambda r: r.target_seconds)
        if first_response is not None:
            share = 1.4 if late and i % 2 else 0.4 + 0.1 * (i % 4)
            steps.append((_at_share(first_response, share, now), task_id, "reply"))
        share = 1.2 + 0.2 * (i % 3) if late else 0.3 + 0.1 * (i % 6)
        steps.append((_at_share(resolution, share, now), task_id, "close"))
    tenant_id = index.tenant_id(uow)
    for at, task_id, step in sorted(steps):
        check_due(uow, at)
        task = session.get_one(Task, task_id)
        if step == "reply":
            message = TaskMessage(
                task=task,
                visibility="public_reply",
                author=DEMO_ACTOR.ref,
                author_name="Demo agent",
                body="Thanks, we are on it.",
                created_at=at,
            )
            session.add(message)
            session.flush()
            sla.on_message(uow, task, "public_reply", at)
            continue
        sla.on_status(uow, [task_id], Status.DONE, at)
        record(
            session,
            actor=DEMO_ACTOR.ref,
            action="transition",
            subject_type="task",
            subject_id=task_id,
            from_state=task.status.value,
            to_state=Status.DONE.value,
            reason="demo history",
        )
        task.status, task.closed_at, task.updated_at = Status.DONE, at, at
        task.result = demo_result(task, at)  # what the client sees as the work done
        index.update_state(session, tenant_id, task)  # a closed task leaves the index
        session.flush()


def demo_result(task: Any, at: datetime) -> dict[str, Any]:
    """A plausible handed-in result for a closed demo task, in the shapes
    :mod:`bpo.routing.review` checks (a record keeps the values the client gave)."""
    p = task.payload
    done: dict[str, Any]
    if task.type == "data_entry.record":
        done = {"values": dict(p.get("values") or {})}
    elif task.type == "accounting.invoice":
        done = {"invoice": p, "gl_account": "6100", "duplicate_checked": True}
    elif task.type == "accounting.bank_reconciliation":
        done = {"lines": [{"matched": True, "note": ""} for _ in p.get("lines") or []]}
    elif task.type == "accounting.journal_entry":
        done = {"balanced_confirmed": True, "posting_reference": f"JE-{task.id:05d}"}
    else:
        done = {"resolution": "Answered the customer and confirmed the next step by e-mail."}
    return {**done, "handed_in_at": at.isoformat(), "by": DEMO_ACTOR.ref}


def _at_share(row: Any, share: float, now: datetime) -> datetime:
    """When ``share`` of the clock's target is used (at the latest a minute ago)."""
    from bpo.sla import services as sla

    at = due_at(sla.calendar_of(row.calendar), row.started_at, share * row.target_seconds)
    return min(at, now - timedelta(minutes=1)).replace(microsecond=0)


def _has_room(agent_id: int, tenant_id: int, task_id: int) -> bool:
    """Whether the agent has spare capacity for the task's kind and weight now."""
    from bpo.routing.services import agent
    from bpo.work.models import WorkItem

    with unit_of_work() as uow:
        item = uow.session.get(WorkItem, (tenant_id, task_id))
        a = agent(uow.session, agent_id, utcnow())
        return item is not None and a is not None and a.spare(item.kind.value) >= item.weight


def _wait_on_client(slug: str, task_ids: list[int]) -> None:
    """Through the real desk: queue, assign by hand to an agent serving the tenant, start
    the work and ask the client a question, which pauses the clocks."""
    from bpo.identity.models import MembershipRole, StaffMembership, StaffUser
    from bpo.routing import desk
    from bpo.routing.services import NotAssignable, assign_by_hand
    from bpo.work.services import mark_queued
    from bpo.workforce.models import AgentProfile

    if not task_ids:
        return
    with unit_of_work(slug) as uow:
        tenant_id = index.tenant_id(uow)
        for task_id in task_ids:
            mark_queued(uow, task_id)
    with unit_of_work() as uow:
        agents = list(
            uow.session.scalars(
                select(StaffMembership.staff_id)
                .join(AgentProfile, AgentProfile.staff_id == StaffMembership.staff_id)
                .where(
                    StaffMembership.tenant_id == tenant_id,
                    StaffMembership.role == MembershipRole.AGENT,
                )
                .order_by(StaffMembership.staff_id)
            )
        )
    held: dict[int, int] = {}
    for task_id in task_ids:
        # Someone with room (the all-rounder was made last): the demo pushes nobody
        # beyond capacity; a task no agent has room for stays in the pool instead.
        for agent_id in [a for a in reversed(agents) if _has_room(a, tenant_id, task_id)]:
            try:
                with unit_of_work() as uow:
                    assign_by_hand(uow.session, agent_id, tenant_id, task_id, DEMO_ACTOR, utcnow())
            except NotAssignable:
                continue
            held[task_id] = agent_id
            break
    for task_id, agent_id in held.items():
        with unit_of_work(slug) as uow:
            staff = uow.session.get_one(StaffUser, agent_id)
            desk.start(uow, staff, task_id)
            desk.ask_client(uow, staff, task_id, "Could you send us the missing page, please?")
