"""The agent's desk: what an agent does with work, as services the pages call.

Task actions run in the unit of work of the task's tenant (the agent pages bind
it from the URL) and check that the task is held by this agent. Each records
handle time by itself: a *work session* opens when the agent starts or resumes a
task and closes when they pause, hand in, decline or lose it; starting one task
closes any other session the agent had open (one task in hand at a time).

Freed capacity is refilled after commit (a fill job per kind), and a handed-in
task is checked by the review job on its kind's queue.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bpo.core.actors import Actor
from bpo.core.errors import Conflict, NotFound, ValidationFailed
from bpo.core.uow import UnitOfWork, unit_of, unit_of_work
from bpo.identity.models import StaffUser
from bpo.routing import router
from bpo.routing.rules import Presence
from bpo.routing.services import Claimed, agent, claim_next, end_work_sessions, give_back
from bpo.sla import services as sla
from bpo.work import index
from bpo.work.models import Task, TaskMessage, WorkItem, WorkSession
from bpo.work.services import transition
from bpo.work.states import Kind, Status
from bpo.workforce.models import AgentProfile
from bpo.workforce.services import HOLDING, effective_presence, set_presence
from tenants.db import utcnow

REVIEW_JOB = "queues.jobs.review.review_task"
NOT_STARTED = (Status.ASSIGNED, Status.REJECTED)


def actor_of(staff: StaffUser) -> Actor:
    return Actor(f"staff:{staff.id}", staff.name)


# -- the queue -----------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    tenant_id: int
    tenant_slug: str
    tenant_name: str
    task_id: int
    kind: str
    type: str
    state: Status
    priority_rank: int
    sla_due_at: datetime | None
    lease_until: datetime | None
    created_at: datetime
    over_capacity: bool
    sla_paused: bool = False  # every SLA clock of it stands still (waiting on the client)


def my_queue(session: Session, agent_id: int) -> list[QueueItem]:
    """The agent's held work, most urgent first (the same order as the pool)."""
    rows = session.execute(
        text(
            "SELECT w.tenant_id, t.slug, t.name, w.task_id, w.kind, w.type, w.state,"
            " w.priority_rank, w.sla_due_at, w.lease_until, w.created_at, w.over_capacity,"
            " w.sla_paused FROM bpo.work_items w JOIN bpo.tenants t ON t.id = w.tenant_id"
            " JOIN bpo.staff_memberships m ON m.tenant_id = w.tenant_id"
            "  AND m.staff_id = w.assignee_id AND m.role = 'agent'"
            " WHERE w.assignee_id = :a AND w.state = ANY(:states)"
            " ORDER BY w.sla_due_at NULLS LAST, w.priority_rank DESC, w.created_at, w.task_id"
        ),
        {"a": agent_id, "states": [s.value for s in (*HOLDING, Status.IN_REVIEW)]},
    )
    return [
        QueueItem(
            tenant_id=row.tenant_id,
            tenant_slug=row.slug,
            tenant_name=row.name,
            task_id=row.task_id,
            kind=row.kind,
            type=row.type,
            state=Status(row.state),
            priority_rank=row.priority_rank,
            sla_due_at=row.sla_due_at,
            lease_until=row.lease_until,
            created_at=row.created_at,
            over_capacity=row.over_capacity,
            sla_paused=row.sla_paused,
        )
        for row in rows
    ]


def at_work(session: Session, staff: StaffUser, now: datetime) -> bool:
    """Whether the agent is online now (not away, offline or idle): only then do they
    start work, and only then does handle time run."""
    profile = session.get(AgentProfile, staff.id)
    return profile is not None and effective_presence(profile, now) is Presence.ONLINE


def next_task(session: Session, staff: StaffUser, now: datetime) -> QueueItem | Claimed | None:
    """What "Next task" opens: the most urgent task the agent holds but has not
    started, else a fresh claim from the pool (in the caller's transaction). Nothing
    for an agent who is not online (:func:`why_nothing` says so)."""
    if not at_work(session, staff, now):
        return None
    for item in my_queue(session, staff.id):
        if item.state in NOT_STARTED:
            return item
    return claim_next(session, staff.id, now, actor_of(staff))


# -- presence ------------------------------------------------------------------------


def change_presence(uow: UnitOfWork, staff: StaffUser, presence: Presence) -> int:
    """Set the agent's presence. Online: they are filled up after commit. Away or
    offline: their open work session ends (handle time stops until they pick the
    task up again). Offline also gives the tasks they have not started back to the
    pool (no attempt counted). Returns how many tasks went back."""
    now = utcnow()
    set_presence(uow.session, staff, presence)
    if presence is Presence.ONLINE:
        router.defer_fill(uow, staff.id)
        return 0
    uow.session.execute(
        text(
            "UPDATE bpo.work_sessions SET ended_at = :now, ended_by = :how"
            " WHERE agent_id = :a AND ended_at IS NULL"
        ),
        {"now": now, "a": staff.id, "how": presence.value},
    )
    if presence is not Presence.OFFLINE:
        return 0
    returned = 0
    held = uow.session.execute(
        text(
            "SELECT w.tenant_id, t.slug, array_agg(w.task_id) FROM bpo.work_items w"
            " JOIN bpo.tenants t ON t.id = w.tenant_id"
            " WHERE w.assignee_id = :a AND w.state = 'assigned' GROUP BY w.tenant_id, t.slug"
        ),
        {"a": staff.id},
    ).all()
    for tenant_id, slug, task_ids in held:
        back = give_back(
            uow.session,
            tenant_id,
            slug,
            task_ids,
            actor_of(staff),
            "the agent went offline",
            now,
            agent_id=staff.id,
            count_attempt=False,
        )
        router.defer_route(uow, slug, back.queued)
        returned += len(task_ids)
    return returned


TOUCH_EVERY = timedelta(minutes=1)  # page views write last_seen_at at most this often


def touch(session: Session, staff: StaffUser, now: datetime) -> bool:
    """The agent is active (a page view): keeps an online agent from counting as away.

    Writes ``last_seen_at`` at most once a minute (page views are frequent, the
    idle limit is 15 minutes). Only the timestamp moves: an agent who chose
    "away" or "offline" stays so until they change it. An online agent back from
    idling (they counted as away) is filled up after commit, as on going online.
    Staff without an agent profile (a supervisor looking around) are left alone.
    Returns whether it wrote.
    """
    profile = session.get(AgentProfile, staff.id)
    if profile is None:
        return False
    if profile.last_seen_at is not None and now - profile.last_seen_at < TOUCH_EVERY:
        return False
    was_idle = effective_presence(profile, now) is Presence.AWAY
    profile.last_seen_at = now
    if was_idle and profile.presence is Presence.ONLINE:
        router.defer_fill(unit_of(session), staff.id)
    return True


def why_nothing(session: Session, staff: StaffUser, now: datetime) -> str:
    """Why "Next task" found nothing, in words: offline, off shift, full, or no work."""
    a = agent(session, staff.id, now)
    if a is None:
        return "You have no agent profile yet; ask a supervisor to set one up."
    if a.presence is not Presence.ONLINE:
        return f"You are {a.presence.value}: go online to take work."
    if not a.on_shift:
        return "You are off shift now: work is handed out during your shifts only."
    if not a.tenants:
        return "You serve no client yet; ask a supervisor to add you to one."
    if all(a.spare(kind.value) <= 0 for kind in Kind):
        return "You are at capacity: hand in or finish what you hold first."
    return "The pool is empty: no waiting task matches your clients, skills and spare capacity."


def handle_time(session: Session, tenant_id: int, task_id: int, now: datetime) -> timedelta:
    """Handle time so far: the sum of the task's work sessions (an open one up to now)."""
    seconds = session.scalar(
        select(
            func.coalesce(
                func.sum(
                    func.extract(
                        "epoch", func.coalesce(WorkSession.ended_at, now) - WorkSession.started_at
                    )
                ),
                0,
            )
        ).where(WorkSession.tenant_id == tenant_id, WorkSession.task_id == task_id)
    )
    return timedelta(seconds=float(seconds or 0))


def titles(items: list[QueueItem]) -> dict[tuple[str, int], str]:
    """Titles of queue items, read from each tenant's own schema.

    One unit of work and one query per tenant: a statement never spans two
    tenants' schemas (the work index holds no client content).
    """
    by_tenant: dict[str, list[int]] = {}
    for item in items:
        by_tenant.setdefault(item.tenant_slug, []).append(item.task_id)
    found: dict[tuple[str, int], str] = {}
    for slug, ids in by_tenant.items():
        with unit_of_work(slug) as uow:
            for task_id, title in uow.session.execute(
                select(Task.id, Task.title).where(Task.id.in_(ids))
            ):
                found[(slug, task_id)] = title
    return found


# -- working a task ------------------------------------------------------------------


# One answer for every task an agent may not touch (another's, another client's, none
# at all): it tells nothing, and says where to look.
NOT_HELD = (
    "This task is not in your hands: it never was, or a supervisor moved it, or its lease"
    " ran out. Your queue shows what you hold."
)


def held_task(uow: UnitOfWork, staff: StaffUser, task_id: int) -> tuple[Task, WorkItem]:
    """The task ``task_id`` of the unit's tenant if this agent holds it, locked.

    Another agent's task, or one of a tenant they do not serve, is NotFound: an
    agent learns nothing of work that is not theirs.
    """
    tenant_id = index.tenant_id(uow)
    item = uow.session.scalar(
        select(WorkItem)
        .where(
            WorkItem.tenant_id == tenant_id,
            WorkItem.task_id == task_id,
            WorkItem.assignee_id == staff.id,
        )
        .with_for_update()
    )
    served = any(m.tenant_id == tenant_id and m.role.value == "agent" for m in staff.memberships)
    task = uow.session.get(Task, task_id, with_for_update=True) if item and served else None
    if task is None or item is None:
        raise NotFound(NOT_HELD)
    return task, item


def _open_session(uow: UnitOfWork, staff: StaffUser, task: Task, now: datetime) -> None:
    tenant_id = index.tenant_id(uow)
    uow.session.execute(
        text(
            "UPDATE bpo.work_sessions SET ended_at = :now, ended_by = 'switched'"
            " WHERE agent_id = :a AND ended_at IS NULL"
            " AND NOT (tenant_id = :t AND task_id = :id)"
        ),
        {"now": now, "a": staff.id, "t": tenant_id, "id": task.id},
    )
    already = uow.session.scalar(
        select(WorkSession.id).where(
            WorkSession.agent_id == staff.id,
            WorkSession.tenant_id == tenant_id,
            WorkSession.task_id == task.id,
            WorkSession.ended_at.is_(None),
        )
    )
    if already is None:
        uow.session.add(
            WorkSession(tenant_id=tenant_id, task_id=task.id, agent_id=staff.id, started_at=now)
        )


def _close_session(uow: UnitOfWork, task: Task, how: str, now: datetime) -> None:
    end_work_sessions(uow.session, index.tenant_id(uow), [task.id], how, now)


def start(uow: UnitOfWork, staff: StaffUser, task_id: int) -> Task:
    """Begin (or pick up again) a held task; its lease ends and handle time starts.

    A task already in progress just gets its work session back (the agent came
    back to it, e.g. after the client answered)."""
    task, _ = held_task(uow, staff, task_id)
    now = utcnow()
    touch(uow.session, staff, now)  # a click is activity: an idle agent is back
    if not at_work(uow.session, staff, now):
        profile = uow.session.get(AgentProfile, staff.id)
        state = effective_presence(profile, now).value if profile else "no agent"
        raise Conflict(f"you are {state}: go online to work on tasks", fields={"presence": [state]})
    if task.status in NOT_STARTED:
        transition(
            uow,
            task,
            Status.IN_PROGRESS,
            actor_of(staff),
            "started",
            index_values={"lease_until": None},
        )
        task.assignee_id = staff.id
    elif task.status is not Status.IN_PROGRESS:
        raise Conflict(
            f"a {task.status.label} task cannot be worked now",
            fields={"status": [task.status.value]},
        )
    _open_session(uow, staff, task, now)
    return task


def resume(uow: UnitOfWork, staff: StaffUser, task: Task) -> None:
    """The agent has a held task in progress open in front of them: its handle time
    runs again if it had stopped (they idled or opened another task), unless they are
    away or offline (looking is not working)."""
    now = utcnow()
    if (
        task.status is Status.IN_PROGRESS
        and task.assignee_id == staff.id
        and at_work(uow.session, staff, now)
    ):
        _open_session(uow, staff, task, now)


def require_in_progress(task: Task) -> None:
    if task.status is not Status.IN_PROGRESS:
        raise Conflict(
            f"start the task first: it is {task.status.label}",
            fields={"status": [task.status.value]},
        )


def _clean_text(value: Any, field: str, limit: int = 20_000) -> str:
    body = value.strip() if isinstance(value, str) else ""
    if not body:
        raise ValidationFailed(f"the {field} is empty", fields={field: ["write something"]})
    if len(body) > limit:
        raise ValidationFailed(
            f"the {field} is too long", fields={field: [f"at most {limit} characters"]}
        )
    if "\x00" in body:
        raise ValidationFailed(
            f"the {field} has a NUL character", fields={field: ["remove the NUL character"]}
        )
    return body


def reply(
    uow: UnitOfWork, staff: StaffUser, task_id: int, body: Any, *, internal: bool
) -> TaskMessage:
    """A public reply the client sees, or an internal note only staff see."""
    task, _ = held_task(uow, staff, task_id)
    require_in_progress(task)
    message = TaskMessage(
        task=task,
        visibility="internal_note" if internal else "public_reply",
        author=f"staff:{staff.id}",
        author_name=staff.name,
        body=_clean_text(body, "body"),
    )
    uow.session.add(message)
    uow.session.flush()
    sla.on_message(uow, task, message.visibility, message.created_at or utcnow())
    return message


def ask_client(uow: UnitOfWork, staff: StaffUser, task_id: int, question: Any) -> Task:
    """Pause as waiting on the client: the question appears in the portal, and the
    client's answer resumes the task (``add_client_message``)."""
    task, _ = held_task(uow, staff, task_id)
    require_in_progress(task)
    body = _clean_text(question, "question")
    uow.session.add(
        TaskMessage(
            task=task,
            visibility="public_reply",
            author=f"staff:{staff.id}",
            author_name=staff.name,
            body=body,
        )
    )
    sla.on_message(uow, task, "public_reply", utcnow())  # a question is a response too
    transition(uow, task, Status.WAITING_ON_CLIENT, actor_of(staff), "asked the client")
    _close_session(uow, task, "pause", utcnow())
    return task


def hand_in(uow: UnitOfWork, staff: StaffUser, task_id: int, result: dict[str, Any]) -> Task:
    """Hand in the work: ``result`` (already validated for the task's type) is kept
    on the task, which goes to review; the automated review follows after commit."""
    task, _ = held_task(uow, staff, task_id)
    require_in_progress(task)
    now = utcnow()
    task.result = {**result, "handed_in_at": now.isoformat(), "by": f"staff:{staff.id}"}
    transition(uow, task, Status.IN_REVIEW, actor_of(staff), "handed in")
    _close_session(uow, task, "hand_in", now)
    uow.defer(
        REVIEW_JOB,
        queue=task.kind.value,
        job_id=f"review-{uow.tenant}-{task.id}",
        tenant=uow.tenant,
        task_id=task.id,
    )
    router.defer_fill(uow, staff.id, [task.kind.value])
    return task


def decline(uow: UnitOfWork, staff: StaffUser, task_id: int, reason: Any) -> None:
    """Give a held task back with a reason: it returns to the pool keeping its age,
    counts an attempt, and is not offered to this agent again."""
    task, _ = held_task(uow, staff, task_id)  # first: another's task is 404, not 400
    why = _clean_text(reason, "reason", 500)
    if task.status not in (*NOT_STARTED, Status.IN_PROGRESS):
        raise Conflict(
            f"a {task.status.label} task cannot be declined", fields={"status": [task.status.value]}
        )
    slug = uow.tenant or ""
    back = give_back(
        uow.session,
        index.tenant_id(uow),
        slug,
        [task.id],
        actor_of(staff),
        f"declined: {why}",
        utcnow(),
        states=(*NOT_STARTED, Status.IN_PROGRESS),
        agent_id=staff.id,
        decline=True,
    )
    uow.session.expire(task)
    router.defer_route(uow, slug, back.queued)
    router.defer_fill(uow, staff.id, [task.kind.value])
