"""What the routing jobs do: queue new work, push it to agents, fill agents up.

Each step opens its own units of work (this module is the edge for jobs), and each
assignment is its own short transaction through :mod:`bpo.routing.services`, so an
agent's profile lock is held for one claim only. Everything here is idempotent:
running a job twice changes nothing the first run did not already decide.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update

from bpo.core.actors import SYSTEM
from bpo.core.uow import UnitOfWork, unit_of_work
from bpo.routing import rules
from bpo.routing.services import Claimed, agents_serving, claim_next, claim_task
from bpo.work import index
from bpo.work.models import Task, WorkItem
from bpo.work.services import transition_many
from bpo.work.states import Kind, Status
from tenants.db import utcnow

log = logging.getLogger(__name__)

ROUTE_JOB = "queues.jobs.routing.route_tasks"
FILL_JOB = "queues.jobs.routing.fill_agent"
MAX_CANDIDATES = 3  # agents tried for one task before it waits in the pool
MAX_FILL = 200  # claims in one fill job at most (capacity is far below)


@dataclass
class Routed:
    queued: list[int] = field(default_factory=list)
    assigned: dict[int, int] = field(default_factory=dict)  # task id -> agent id
    deferred: list[int] = field(default_factory=list)  # defer_until not reached


def route(tenant: str, task_ids: list[int], now: datetime | None = None) -> Routed:
    """Route tasks of ``tenant``: new ones join the pool, then each pool task goes to
    the best agent who may take it (most spare capacity, then longest idle), most
    urgent first. Tasks nobody may take wait in the pool for an agent to free up."""
    now = now or utcnow()
    result = Routed()
    with unit_of_work(tenant) as uow:
        result.queued, result.deferred = _queue_new(uow, task_ids, now)
        tenant_id = index.tenant_id(uow)
        pool = _pool(uow, tenant_id, task_ids)
        agents = agents_serving(uow.session, tenant_id, now) if pool else []
    for work in sorted(pool, key=rules.urgency):
        agent_id = _push(tenant, tenant_id, work, agents, now)
        if agent_id is not None:
            result.assigned[work.task_id] = agent_id
            agents = [a.taking(work, now) if a.id == agent_id else a for a in agents]
    return result


def _queue_new(uow: UnitOfWork, task_ids: list[int], now: datetime) -> tuple[list[int], list[int]]:
    """``new`` → ``queued`` for the tasks whose ``defer_until`` has come; the others
    stay new with their dispatch due when it comes (the reconciler picks them up)."""
    session, tenant_id = uow.session, index.tenant_id(uow)
    deferred: dict[int, datetime | None] = {
        task_id: until
        for task_id, until in session.execute(
            select(Task.id, Task.defer_until).where(
                Task.id.in_(task_ids), Task.status == Status.NEW, Task.defer_until > now
            )
        )
    }
    for task_id, until in deferred.items():
        session.execute(
            update(WorkItem)
            .where(WorkItem.tenant_id == tenant_id, WorkItem.task_id == task_id)
            .values(dispatch_due_at=until)
        )
    ready = [i for i in task_ids if i not in deferred]
    queued = session.scalars(
        update(WorkItem)
        .where(
            WorkItem.tenant_id == tenant_id,
            WorkItem.task_id.in_(ready),
            WorkItem.state == Status.NEW,
        )
        .values(state=Status.QUEUED, queued_at=now, dispatch_due_at=None, updated_at=now)
        .returning(WorkItem.task_id)
    ).all()
    moved = transition_many(
        session,
        _slug(uow),
        list(queued),
        [Status.NEW],
        Status.QUEUED,
        SYSTEM,
        "waiting for an agent",
    )
    if len(moved) != len(queued):
        raise RuntimeError(f"work index and tasks disagree in {uow.tenant}")
    return sorted(moved), sorted(deferred)


def _slug(uow: UnitOfWork) -> str:
    if uow.tenant is None:
        raise ValueError("routing runs in a tenant's unit of work")
    return uow.tenant


def work_of(row: WorkItem) -> rules.Work:
    """A work-index row as the routing rules see it."""
    required = dict(token.rsplit("@", 1) for token in row.required_skills)
    return rules.Work(
        tenant_id=row.tenant_id,
        task_id=row.task_id,
        kind=row.kind.value,
        weight=row.weight,
        required={skill: int(level) for skill, level in required.items()},
        priority_rank=row.priority_rank,
        created_at=row.created_at,
        sla_due_at=row.sla_due_at,
        overflow=row.overflow,
        declined_by=frozenset(row.declined_by),
    )


def _pool(uow: UnitOfWork, tenant_id: int, task_ids: list[int]) -> list[rules.Work]:
    """Those of ``task_ids`` waiting in the pool; marks them dispatched (routing ran)."""
    rows = uow.session.scalars(
        select(WorkItem).where(
            WorkItem.tenant_id == tenant_id,
            WorkItem.task_id.in_(task_ids),
            WorkItem.state == Status.QUEUED,
        )
    ).all()
    if rows:
        uow.session.execute(
            update(WorkItem)
            .where(WorkItem.tenant_id == tenant_id, WorkItem.task_id.in_(task_ids))
            .where(WorkItem.state == Status.QUEUED)
            .values(dispatch_due_at=None)
        )
    return [work_of(row) for row in rows]


def _push(
    tenant: str, tenant_id: int, work: rules.Work, agents: list[rules.Agent], now: datetime
) -> int | None:
    """Offer ``work`` to the best candidates in turn; the claim re-checks each under
    their lock. Returns who took it, or None (it stays in the pool)."""
    for candidate in rules.candidates(agents, work)[:MAX_CANDIDATES]:
        with unit_of_work(tenant) as uow:
            claimed = claim_task(uow.session, candidate.id, tenant_id, work.task_id, now)
            if claimed is not None:
                notify_assigned(uow, claimed, candidate.id)
                return candidate.id
            still_waiting = uow.session.scalar(
                select(WorkItem.state).where(
                    WorkItem.tenant_id == tenant_id, WorkItem.task_id == work.task_id
                )
            )
        if still_waiting != Status.QUEUED:
            return None  # someone pulled it meanwhile, or it was cancelled
    return None


def fill(agent_id: int, kind: str | None = None, now: datetime | None = None) -> list[Claimed]:
    """Give an agent who has room pool work, most urgent first, up to capacity (in
    ``kind`` only, if given). Each claim is its own transaction."""
    given: list[Claimed] = []
    for _ in range(MAX_FILL):
        with unit_of_work() as uow:
            claimed = claim_next(uow.session, agent_id, now or utcnow(), kinds=_kinds(kind))
        if claimed is None:
            break
        given.append(claimed)
    return given


def _kinds(kind: str | None) -> list[str] | None:
    return None if kind is None else [Kind(kind).value]


def notify_assigned(uow: UnitOfWork, claimed: Claimed, agent_id: int) -> None:
    """Hook for telling the agent (in-app notifications come with the SLA work)."""
    log.info("assigned %s/%s to staff:%s", claimed.tenant_slug, claimed.task_id, agent_id)


def defer_fill(uow: UnitOfWork, agent_id: int, kinds: list[str] | None = None) -> None:
    """After commit, fill ``agent_id`` in each kind (one job per kind queue)."""
    for kind in kinds or [k.value for k in Kind]:
        uow.defer(
            FILL_JOB, queue=kind, job_id=f"fill-{agent_id}-{kind}", agent_id=agent_id, kind=kind
        )


def defer_route(uow: UnitOfWork, tenant: str, by_kind: dict[str, list[int]]) -> None:
    """After commit, route these tasks of ``tenant`` (one job per kind queue)."""
    for kind, ids in by_kind.items():
        if ids:
            span = f"{ids[0]}" if len(ids) == 1 else f"{ids[0]}-{ids[-1]}"
            uow.defer(
                ROUTE_JOB, queue=kind, job_id=f"route-{tenant}-{span}", tenant=tenant, task_ids=ids
            )


def mark_failed(tenant: str, task_ids: list[int], error: str) -> list[int]:
    """A routing job failed for good: its open tasks go to ``exception`` with the error."""
    sources = [s for s in Status if s.is_open and s is not Status.EXCEPTION]
    with unit_of_work(tenant) as uow:
        tenant_id = index.tenant_id(uow)
        ids = uow.session.scalars(
            update(WorkItem)
            .where(
                WorkItem.tenant_id == tenant_id,
                WorkItem.task_id.in_(task_ids),
                WorkItem.state.in_([Status.NEW, Status.QUEUED]),
            )
            .values(
                state=Status.EXCEPTION,
                last_error=error[:500],
                dispatch_due_at=None,
                updated_at=utcnow(),
            )
            .returning(WorkItem.task_id)
        ).all()
        moved = transition_many(
            uow.session,
            tenant,
            list(ids),
            sources,
            Status.EXCEPTION,
            SYSTEM,
            f"routing failed: {error}"[:2000],
        )
    return sorted(moved)
