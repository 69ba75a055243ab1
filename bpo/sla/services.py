"""SLA clocks in the task's life: started at intake, paused, resumed, met, checked.

Callers own the unit of work (one tenant); nothing here commits. Every change to
a clock recomputes its next checkpoint and mirrors the task's earliest due instant
and next check into the task and its work-index row, so the sweep and the routing
order read them from the index alone. Timers: after commit, one RQ job per tenant
and instant (``enqueue_at``) checks everything of that tenant due by then; the
sweep every minute is the backstop when Redis lost them.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import (
    BigInteger,
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session

from bpo.core.uow import UnitOfWork
from bpo.sla import clock as clocks
from bpo.sla.engine import Calendar
from bpo.sla.models import SlaClock, SlaEvent, SlaPolicy, SlaRollup
from bpo.work.models import Task, WorkItem
from bpo.work.states import Kind, Status
from tenants.binding import copy_rows, next_ids
from tenants.db import utcnow

CHECK_JOB = "queues.jobs.sla.check_due"
SUPPORT_TARGETS = ("first_response", "next_response", "resolution")
WORK_TARGETS = ("resolution", "start_by")
TARGETS = ("first_response", "next_response", "resolution", "start_by")
# The only statuses a policy may pause a clock in: none of them is touched by routing,
# so claims and returns never need to look at clocks.
PAUSABLE = (Status.WAITING_ON_CLIENT, Status.IN_REVIEW, Status.EXCEPTION)
DEFAULT_THRESHOLDS = (50, 75, 90)
OPEN = SlaClock.state.in_(("running", "paused"))
CLOCK_COLUMNS = (
    "id",
    "task_id",
    "target",
    "round",
    "policy_id",
    "calendar",
    "target_seconds",
    "thresholds",
    "pause_statuses",
    "state",
    "started_at",
    "paused_seconds",
    "fired",
    "warned",
    "breached",
    "due_at",
    "next_check_at",
    "checkpoint_pcts",
    "checkpoint_ats",
)


def targets_for(kind: Kind) -> tuple[str, ...]:
    return SUPPORT_TARGETS if kind is Kind.SUPPORT else WORK_TARGETS


# -- policies ---------------------------------------------------------------------


def policies(session: Session) -> list[SlaPolicy]:
    """The tenant's active policies in order (cached for the unit of work)."""
    cached = session.info.get("sla_policies")
    if cached is None:
        cached = list(
            session.scalars(select(SlaPolicy).where(SlaPolicy.active).order_by(SlaPolicy.position))
        )
        session.info["sla_policies"] = cached
    return list(cached)


def matches(policy: SlaPolicy, kind: str, type_name: str, priority: str) -> bool:
    conditions = policy.conditions or {}
    for key, value in (("kinds", kind), ("types", type_name), ("priorities", priority)):
        allowed = conditions.get(key) or []
        if allowed and value not in allowed:
            return False
    return True


def policy_for(
    candidates: Iterable[SlaPolicy], kind: str, type_name: str, priority: str
) -> SlaPolicy | None:
    """The first policy (by position) whose conditions match; None: no SLA."""
    return next((p for p in candidates if matches(p, kind, type_name, priority)), None)


@lru_cache(maxsize=1024)
def calendar_from_json(frozen: str) -> Calendar:
    """A stored calendar from its JSON text, read once per distinct text (cached)."""
    return Calendar.from_dict(json.loads(frozen))


def calendar_of(definition: dict[str, Any]) -> Calendar:
    """A clock's or policy's stored calendar (see :func:`calendar_from_json`)."""
    return calendar_from_json(json.dumps(definition, sort_keys=True))


# -- a clock row and its pure twin ---------------------------------------------------


def pure(row: SlaClock) -> clocks.Clock:
    return clocks.Clock(
        target=row.target,
        target_seconds=row.target_seconds,
        thresholds=tuple(row.thresholds),
        started_at=row.started_at,
        state=row.state,  # type: ignore[arg-type]
        paused_since=row.paused_since,
        paused_seconds=row.paused_seconds,
        stopped_at=row.stopped_at,
        fired=tuple(row.fired),
    )


def store(row: SlaClock, value: clocks.Clock) -> None:
    calendar = calendar_of(row.calendar)
    row.state = value.state
    row.paused_since, row.paused_seconds = value.paused_since, value.paused_seconds
    row.stopped_at = value.stopped_at
    row.fired = list(value.fired)
    row.warned = max([p for p in value.fired if p < clocks.BREACH], default=0)
    row.breached = row.breached or value.breached
    row.target_seconds, row.thresholds = value.target_seconds, list(value.thresholds)
    points = clocks.plan(calendar, value)
    row.due_at = points[-1][1] if points else row.due_at  # the breach's instant
    row.next_check_at = clocks.first_pending(points, value.fired)
    row.checkpoint_pcts = [p for p, _ in points]
    row.checkpoint_ats = [at for _, at in points]


# -- starting clocks at intake -------------------------------------------------------


@dataclass
class Started:
    """What intake writes for a batch: clock and event rows, each task's instants."""

    clocks: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    due: dict[int, datetime] = field(default_factory=dict)
    next_check: dict[int, datetime] = field(default_factory=dict)


def plan_start(
    session: Session, tasks: Iterable[Any], *, targets: Iterable[str] | None = None
) -> Started:
    """Clocks for newly created tasks (``NewTask`` or ``Task``), started at their
    ``created_at``; next-response clocks start later, on a client's message.

    The instants are computed once per (policy, target, start) in a batch: tasks
    created together under one policy share them.
    """
    plan = Started()
    active = policies(session)
    if not active:
        return plan
    memo: dict[tuple[int, str, datetime], list[tuple[int, datetime]]] = {}
    for task in tasks:
        policy = policy_for(active, task.kind.value, task.type, task.priority.value)
        if policy is None:
            continue
        wanted = targets or targets_for(task.kind)
        for target in wanted:
            seconds = (policy.targets or {}).get(target)
            if seconds is None or target == "next_response":
                continue
            key = (policy.id, target, task.created_at)
            if key not in memo:
                value = clocks.start(target, seconds, _thresholds(policy), task.created_at)
                memo[key] = clocks.plan(calendar_of(policy.calendar.definition), value)
            points = memo[key]
            due, next_check = points[-1][1], points[0][1]  # the breach; the first one
            plan.clocks.append(
                (
                    task.id,
                    target,
                    0,
                    policy.id,
                    Jsonb(policy.calendar.definition),
                    int(seconds),
                    Jsonb(list(_thresholds(policy))),
                    Jsonb(_pauses(policy, target)),
                    "running",
                    task.created_at,
                    0.0,
                    "[]",
                    0,
                    False,
                    due,
                    next_check,
                    [p for p, _ in points],
                    [at for _, at in points],
                )
            )
            _earliest(plan.due, task.id, due)
            _earliest(plan.next_check, task.id, next_check)
    return plan


def write_start(session: Session, tenant: str, plan: Started) -> None:
    """COPY the planned clocks and their ``started`` events (ids drawn first)."""
    if not plan.clocks:
        return
    ids = next_ids(session, SlaClock.__table__, tenant, len(plan.clocks))
    copy_rows(
        session,
        SlaClock.__table__,
        tenant,
        CLOCK_COLUMNS,
        ((clock_id, *row) for clock_id, row in zip(ids, plan.clocks, strict=True)),
    )
    copy_rows(
        session,
        SlaEvent.__table__,
        tenant,
        ("task_id", "clock_id", "kind", "threshold", "at", "data"),
        (
            (row[0], clock_id, "started", 0, row[9], _target_json(row[1]))
            for clock_id, row in zip(ids, plan.clocks, strict=True)
        ),
    )


@lru_cache(maxsize=8)
def _target_json(target: str) -> str:

    return json.dumps({"target": target})


def _thresholds(policy: SlaPolicy) -> tuple[int, ...]:
    return tuple(policy.thresholds or DEFAULT_THRESHOLDS)


def _pauses(policy: SlaPolicy, target: str) -> list[str]:
    return list((policy.pauses or {}).get(target, []))


def _earliest(into: dict[int, datetime], key: int, value: datetime) -> None:
    if key not in into or value < into[key]:
        into[key] = value


# -- following the task --------------------------------------------------------------


def _open_clocks(session: Session, task_ids: list[int]) -> list[SlaClock]:
    """The tasks' open clocks, locked. Every change to a task's clocks takes all of
    them first, so a firing (which locks the clocks it fires, skipping those held)
    and a change never mirror one task from a view the other is changing."""
    return list(
        session.scalars(
            select(SlaClock)
            .where(SlaClock.task_id.in_(task_ids), SlaClock.state.in_(("running", "paused")))
            .order_by(SlaClock.id)
            .with_for_update()
        )
    )


def add_event(session: Session, row: SlaClock, kind: str, at: datetime, **data: Any) -> None:
    session.add(
        SlaEvent(
            task_id=row.task_id,
            clock_id=row.id,
            kind=kind,
            at=at,
            data={"target": row.target, **data},
        )
    )


def matters(source: Status, target: Status) -> bool:
    """Whether a move from ``source`` to ``target`` can touch a clock at all (routing's
    moves between new, queued and assigned never do, so claims skip the SLA)."""
    return (
        source in PAUSABLE
        or target in PAUSABLE
        or target in (Status.IN_PROGRESS, Status.DONE, Status.CANCELLED)
    )


def on_status(
    uow: UnitOfWork, task_ids: list[int], target: Status, at: datetime
) -> dict[int, datetime | None]:
    """Follow tasks into ``target``: pause or resume by each clock's pause statuses,
    meet start-by when work starts, meet everything on done, cancel on cancelled.

    Returns each task's due instant afterwards (for callers holding ORM tasks).
    """
    session = uow.session
    changed = False
    tally = Tally()
    for row in _open_clocks(session, task_ids):
        value = pure(row)
        calendar = calendar_of(row.calendar)
        if target is Status.DONE or (target is Status.IN_PROGRESS and row.target == "start_by"):
            value = meet(session, row, at, tally)
        elif target is Status.CANCELLED:
            value = clocks.stop(calendar, value, at, "cancelled")
            add_event(session, row, "cancelled", at)
        elif target.value in row.pause_statuses and value.state == "running":
            value = clocks.pause(value, at)
            add_event(session, row, "paused", at, status=target.value)
        elif target.value not in row.pause_statuses and value.state == "paused":
            value = clocks.resume(calendar, value, at)
            add_event(session, row, "resumed", at, status=target.value)
        else:
            continue
        store(row, value)
        changed = True
    tally.write(uow)
    return mirror_many(uow, task_ids) if changed else {}


def meet(session: Session, row: SlaClock, at: datetime, tally: "Tally") -> clocks.Clock:
    """Stop ``row`` as met at ``at`` and record it. Met after its due instant before
    any sweep fired the breach, the breach is recorded now, at the instant it fell
    due (once, as the sweep would: the same unique event)."""
    calendar, before = calendar_of(row.calendar), pure(row)
    value = clocks.stop(calendar, before, at)
    if value.breached and not before.breached:
        when = clocks.due(calendar, clocks.resume(calendar, before, at))
        if fire_once(session, row, clocks.BREACH, when):
            tally.breach(row, when)
    add_event(session, row, "met", at, breached=value.breached)
    tally.stopped(row, at, late=value.breached)
    return value


def fire_once(session: Session, row: SlaClock, percent: int, when: datetime) -> bool:
    """Record a warning (or, at 100, the breach) of ``row`` unless it already is;
    whether this call recorded it."""
    kind = "breached" if percent == clocks.BREACH else "warning"
    inserted = session.execute(
        insert(SlaEvent)
        .values(
            task_id=row.task_id,
            clock_id=row.id,
            kind=kind,
            threshold=percent,
            at=when,
            data={"target": row.target},
        )
        .on_conflict_do_nothing(
            index_elements=["clock_id", "kind", "threshold"],
            index_where=text("kind IN ('warning', 'breached')"),
        )
        .returning(SlaEvent.id)
    ).scalar()
    return inserted is not None


def on_message(uow: UnitOfWork, task: Task, visibility: str, at: datetime) -> None:
    """A public reply meets first and next response; a client's message after a reply
    starts the next-response clock. Internal notes never count."""
    if task.kind is not Kind.SUPPORT or visibility == "internal_note":
        return
    session = uow.session
    if visibility == "public_reply":
        tally = Tally()
        for row in _open_clocks(session, [task.id]):
            if row.target in ("first_response", "next_response"):
                store(row, meet(session, row, at, tally))
        tally.write(uow)
    elif visibility == "client_message":
        _start_next_response(uow, task, at)
    mirror(uow, task)


def _start_next_response(uow: UnitOfWork, task: Task, at: datetime) -> None:
    session = uow.session
    # Every clock of the task, locked as :func:`_open_clocks` locks the open ones (the
    # new clock joins them; closed ones tell whether a reply came before).
    rows = session.scalars(
        select(SlaClock).where(SlaClock.task_id == task.id).order_by(SlaClock.id).with_for_update()
    ).all()
    if any(r.target == "first_response" and r.state in ("running", "paused") for r in rows):
        return  # still waiting for the first response
    if any(r.target == "next_response" and r.state in ("running", "paused") for r in rows):
        return  # the oldest unanswered message already runs the clock
    if not any(r.target == "first_response" for r in rows) and not _replied(session, task):
        return
    policy = policy_for(policies(session), task.kind.value, task.type, task.priority.value)
    seconds = (policy.targets or {}).get("next_response") if policy else None
    if policy is None or seconds is None:
        return
    value = clocks.start("next_response", seconds, _thresholds(policy), at)
    row = SlaClock(
        task_id=task.id,
        target="next_response",
        round=1 + max((r.round for r in rows if r.target == "next_response"), default=0),
        policy_id=policy.id,
        calendar=policy.calendar.definition,
        target_seconds=int(seconds),
        thresholds=list(value.thresholds),
        pause_statuses=_pauses(policy, "next_response"),
        started_at=at,
        fired=[],
    )
    store(row, value)
    session.add(row)
    session.flush()
    add_event(session, row, "started", at)


def _replied(session: Session, task: Task) -> bool:
    return any(m.visibility == "public_reply" for m in task.messages)


def retarget(uow: UnitOfWork, task: Task, at: datetime) -> None:
    """The task's priority changed: open clocks take the new policy's targets, keeping
    their start and pause credit; fired warnings and a breach stay."""
    session = uow.session
    policy = policy_for(policies(session), task.kind.value, task.type, task.priority.value)
    for row in _open_clocks(session, [task.id]):
        seconds = (policy.targets or {}).get(row.target) if policy else None
        if policy is None or seconds is None:
            continue
        store(row, clocks.retarget(pure(row), seconds, _thresholds(policy)))
        row.policy_id = policy.id
        add_event(session, row, "retargeted", at, seconds=int(seconds), policy=policy.name)
    mirror(uow, task)


def mirror(uow: UnitOfWork, task: Task) -> None:
    """Copy the task's earliest running due instant and next check into the task and
    its index row, and schedule the timer for the next check after commit."""
    task.sla_due_at = mirror_many(uow, [task.id]).get(task.id)


def schedule(uow: UnitOfWork, instants: Iterable[datetime]) -> None:
    """After commit, one timer job per distinct instant for this tenant."""
    for at in sorted(set(instants)):
        stamp = int(at.timestamp())
        uow.defer(
            CHECK_JOB,
            queue="sla",
            job_id=f"sla-{uow.tenant}-{stamp}",
            at=at,
            tenant=uow.tenant,
            until=at.isoformat(),
        )


def mirror_many(uow: UnitOfWork, task_ids: list[int]) -> dict[int, datetime | None]:
    """:func:`mirror` for many tasks in one statement; returns each one's due.

    The clocks are aggregated once per task (a CTE) and feed both copies: the task
    row, written only where its due instant changed (a warning moves none), and the
    work-index row (the next check moves with every checkpoint).
    """
    from bpo.work import index  # the index imports the routing rules; keep this light

    session = uow.session
    session.flush()
    ids = bindparam("mirror_ids", list(task_ids), type_=ARRAY(BigInteger))
    # Two tables updated in one statement: each ``updated_at`` its own named parameter.
    stamp = utcnow()
    instants = (
        select(
            SlaClock.task_id.label("task_id"),
            func.min(SlaClock.due_at).filter(SlaClock.state == "running").label("due"),
            func.min(SlaClock.next_check_at).label("next_check"),
            func.coalesce(func.max(SlaClock.warned).filter(OPEN), 0).label("warned"),
            func.coalesce(func.bool_or(SlaClock.breached).filter(OPEN), False).label("breached"),
            func.coalesce(func.bool_and(SlaClock.state == "paused").filter(OPEN), False).label(
                "paused"
            ),
        )
        .where(SlaClock.task_id == func.any(ids))
        .group_by(SlaClock.task_id)
        .cte("instants")
    )
    tasks_moved = (
        update(Task)
        .where(Task.id == instants.c.task_id, Task.sla_due_at.is_distinct_from(instants.c.due))
        .values(sla_due_at=instants.c.due, updated_at=bindparam("task_updated_at", stamp))
        .returning(Task.id)
        .cte("tasks_moved")
    )
    rows = session.execute(
        update(WorkItem)
        .add_cte(tasks_moved)
        .where(
            WorkItem.tenant_id == index.tenant_id(uow),
            WorkItem.task_id == instants.c.task_id,
        )
        .values(
            sla_due_at=instants.c.due,
            next_check_at=instants.c.next_check,
            sla_warned=instants.c.warned,
            sla_breached=instants.c.breached,
            sla_paused=instants.c.paused,
            updated_at=bindparam("item_updated_at", stamp),
        )
        .returning(WorkItem.task_id, WorkItem.sla_due_at, WorkItem.next_check_at),
        execution_options={"synchronize_session": False},
    ).all()
    schedule(uow, [row.next_check_at for row in rows if row.next_check_at is not None])
    due = {int(row.task_id): row.sla_due_at for row in rows}
    return {task_id: due.get(task_id) for task_id in task_ids}


# -- rollups -------------------------------------------------------------------------


class Tally:
    """Counts for ``bpo.sla_rollups`` gathered during one change, written in one upsert
    per (day, kind, target): concurrent writers add up, never overwrite."""

    def __init__(self) -> None:
        self.counts: dict[tuple[date, int, str], dict[str, int]] = {}

    def _add(self, row: SlaClock, at: datetime, column: str) -> None:
        key = (at.astimezone(UTC).date(), row.task_id, row.target)
        counts = self.counts.setdefault(key, {"met": 0, "missed": 0, "breaches": 0})
        counts[column] += 1

    def stopped(self, row: SlaClock, at: datetime, *, late: bool) -> None:
        self._add(row, at, "missed" if late else "met")

    def breach(self, row: SlaClock, at: datetime) -> None:
        self._add(row, at, "breaches")

    def write(self, uow: UnitOfWork) -> None:
        if not self.counts:
            return
        from bpo.work import index

        session = uow.session
        kinds = dict(
            session.execute(
                select(Task.id, Task.kind).where(Task.id.in_({k[1] for k in self.counts}))
            ).all()
        )
        merged: dict[tuple[date, str, str], dict[str, int]] = {}
        for (day, task_id, target), counts in self.counts.items():
            kind = kinds[task_id]
            into = merged.setdefault(
                (day, kind.value, target), {"met": 0, "missed": 0, "breaches": 0}
            )
            for column, value in counts.items():
                into[column] += value
        tenant_id = index.tenant_id(uow)
        for (day, kind_value, target), counts in sorted(merged.items()):
            statement = insert(SlaRollup).values(
                tenant_id=tenant_id, day=day, kind=kind_value, target=target, **counts
            )
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["tenant_id", "day", "kind", "target"],
                    set_={
                        column: getattr(SlaRollup, column) + statement.excluded[column]
                        for column in counts
                    },
                )
            )
        self.counts.clear()
