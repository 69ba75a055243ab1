"""What the routing jobs do: queue new work, push it to agents, fill agents up.

Each step opens its own units of work (this module is the edge for jobs), and each
assignment is a short transaction through :mod:`bpo.routing.services`, so an
agent's profile lock is held for one claim only: the most urgent task of a job is
offered to its best candidate in the job's first transaction (so a one-task job
commits once), every further offer in a transaction of its own. The first step is
one call of the tenant schema's ``queue_for_routing`` (see :func:`_queue_statement`):
seven ORM statements cost more to build than to run, and the function keeps its plan.
Everything here is idempotent: running a job twice changes nothing the first run did
not already decide.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update

from bpo.core import prepared
from bpo.core.actors import SYSTEM
from bpo.core.uow import UnitOfWork, unit_of_work
from bpo.routing import rules
from bpo.routing.services import Claimed, Pushed, claim_next, push
from bpo.work import index
from bpo.work.models import WorkItem
from bpo.work.services import transition_many
from bpo.work.states import Kind, Status
from tenants.db import utcnow
from tenants.naming import schema_name

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
        uow.redoable()
        tenant_id, result.queued, result.deferred, pool = _queue_new(uow, task_ids, now)
        pool.sort(key=rules.urgency)
        # The most urgent task is pushed in this transaction (a one-task job, the
        # usual one, then commits once); one agent lock at most is taken here, and
        # last, so two routing jobs never wait for each other. Every further push
        # (and a retry with the next best agent) is a transaction of its own.
        pushed = push(uow.session, tenant_id, pool[0].task_id, now) if pool else None
    for n, work in enumerate(pool):
        if n > 0:
            pushed = _push(tenant, tenant_id, work.task_id, now)
        elif pushed is not None and pushed.claimed is None:
            pushed = _push(tenant, tenant_id, work.task_id, now, tried=[pushed.agent_id])
        if pushed is not None and pushed.claimed is not None:
            result.assigned[work.task_id] = pushed.agent_id
            log.debug("assigned %s/%s to staff:%s", tenant, work.task_id, pushed.agent_id)
    return result


def _queue_statement(slug: str) -> str:
    """The routing step before the pushes: the tenant schema's ``queue_for_routing``
    (:data:`bpo.work.models.QUEUE_FOR_ROUTING`), one statement prepared on the server
    (:mod:`bpo.core.prepared`) whose own statements are planned once per connection.
    The schema is named from the validated slug and quoted (``schema_name``)."""
    return (
        f'SELECT * FROM "{schema_name(slug)}".queue_for_routing(%(slug)s,'  # noqa: S608
        " CAST(%(ids)s AS bigint[]), %(now)s, %(actor)s, %(reason)s)"
    )


def _queue_new(
    uow: UnitOfWork, task_ids: list[int], now: datetime
) -> tuple[int, list[int], list[int], list[rules.Work]]:
    """Run :func:`_queue_statement`: (tenant id, queued ids, deferred ids, pool)."""
    slug = _slug(uow)
    rows = prepared.rows(
        uow.session,
        _queue_statement(slug),
        {
            "slug": slug,
            "ids": list(task_ids),
            "now": now,
            "actor": SYSTEM.ref,
            "reason": "waiting for an agent",
        },
    )
    tenant_ids = [int(r.task_id) for r in rows if r.what == "tenant"]
    if not tenant_ids:
        raise LookupError(f"no tenant {slug!r}")
    tenant_id = tenant_ids[0]
    uow.session.info["tenant_id"] = tenant_id
    queued = sorted(int(r.task_id) for r in rows if r.what == "queued")
    moved = sorted(int(r.task_id) for r in rows if r.what == "moved")
    if moved != queued:
        raise RuntimeError(f"work index and tasks disagree in {slug}")
    deferred = sorted(int(r.task_id) for r in rows if r.what == "deferred")
    pool = [
        rules.Work(
            tenant_id=tenant_id,
            task_id=int(r.task_id),
            kind=r.kind,
            weight=int(r.weight),
            required=_required(r.required_skills),
            priority_rank=int(r.priority_rank),
            created_at=r.created_at,
            sla_due_at=r.sla_due_at,
            overflow=bool(r.overflow),
            declined_by=frozenset(r.declined_by or ()),
        )
        for r in rows
        if r.what in ("queued", "pool")
    ]
    return tenant_id, queued, deferred, pool


def _required(tokens: list[str]) -> dict[str, int]:
    required = dict(token.rsplit("@", 1) for token in tokens)
    return {skill: int(level) for skill, level in required.items()}


def _slug(uow: UnitOfWork) -> str:
    if uow.tenant is None:
        raise ValueError("routing runs in a tenant's unit of work")
    return uow.tenant


def work_of(row: WorkItem) -> rules.Work:
    """A work-index row as the routing rules see it."""
    return rules.Work(
        tenant_id=row.tenant_id,
        task_id=row.task_id,
        kind=row.kind.value,
        weight=row.weight,
        required=_required(row.required_skills),
        priority_rank=row.priority_rank,
        created_at=row.created_at,
        sla_due_at=row.sla_due_at,
        overflow=row.overflow,
        declined_by=frozenset(row.declined_by),
    )


def _push(
    tenant: str, tenant_id: int, task_id: int, now: datetime, tried: list[int] | None = None
) -> Pushed | None:
    """Push pool task ``task_id``, each try its own transaction, to at most
    :data:`MAX_CANDIDATES` agents in all (``tried`` already): when the best agent's
    claim refuses (another job took their room meanwhile), the next best is asked.
    Returns the push that claimed, or None (it stays in the pool)."""
    tried = list(tried or [])
    while len(tried) < MAX_CANDIDATES:
        with unit_of_work(tenant) as uow:
            uow.redoable()
            pushed = push(uow.session, tenant_id, task_id, now, exclude=tried)
        if pushed is None or pushed.claimed is not None:
            return pushed  # nobody may take it, it left the pool, or it is taken
        tried.append(pushed.agent_id)
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
                ROUTE_JOB,
                queue=kind,
                job_id=f"route-{tenant}-{span}",
                once=False,  # routing twice is harmless: the second finds nothing to do
                tenant=tenant,
                task_ids=ids,
            )


def mark_failed(tenant: str, task_ids: list[int], error: str) -> list[int]:
    """A job about these tasks failed for good (routing, or the review of handed-in
    work): those the machine holds (new, queued, in review) go to ``exception`` with
    the error, for a supervisor; work in an agent's hands is left to them."""
    sources = [s for s in Status if s.is_open and s is not Status.EXCEPTION]
    with unit_of_work(tenant) as uow:
        tenant_id = index.tenant_id(uow)
        ids = uow.session.scalars(
            update(WorkItem)
            .where(
                WorkItem.tenant_id == tenant_id,
                WorkItem.task_id.in_(task_ids),
                WorkItem.state.in_([Status.NEW, Status.QUEUED, Status.IN_REVIEW]),
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
            f"a job failed: {error}"[:2000],
        )
    return sorted(moved)
