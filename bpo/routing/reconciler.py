"""The reconciler: PostgreSQL is the record, Redis only carries dispatch.

Every 30 seconds (``queues/schedules.py``) it

1. re-dispatches routing that is overdue: work-index rows whose ``dispatch_due_at``
   has passed (the process died between commit and enqueue, a worker was killed
   in the middle of a job, a deferred task's time has come). When Redis has lost
   its data (flushed or restarted: our marker key is gone) every row waiting for
   dispatch counts as overdue at once;
2. returns assigned tasks whose lease expired (an attempt each);
3. lets the tenant's overflow group take work nobody qualified took within the
   skills timeout;
4. fills every online agent who has room (this is also how a shift that starts,
   or capacity freed elsewhere, gets work);
5. ends the open work sessions of agents who idled into away, at their last
   activity, so handle time never counts idle time.

Nothing depends on Redis remembering: each step reads the work index and defers
its jobs after its own commit.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import text

from bpo.core.actors import SYSTEM
from bpo.core.uow import unit_of_work
from bpo.routing import router
from bpo.routing.services import give_back, settings
from bpo.work.index import DISPATCH_GRACE
from bpo.workforce.services import IDLE_AFTER
from tenants.db import utcnow

log = logging.getLogger(__name__)

EPOCH_KEY = "bpo:dispatch:epoch"  # absent: Redis lost its data since we last ran
BATCH = 5000  # rows re-dispatched per run at most (the rest next run)
CHUNK = 500  # task ids per routing job


@dataclass
class Report:
    redis_was_reset: bool = False
    redispatched: int = 0
    leases_expired: int = 0
    overflowed: int = 0
    agents_filled: int = 0
    sessions_ended: int = 0
    jobs: list[str] = field(default_factory=list)


_OVERDUE = text(
    """
WITH due AS (
    SELECT tenant_id, task_id FROM bpo.work_items
    WHERE state IN ('new', 'queued')
      -- Redis lost its data: every open task waiting for an agent is dispatched
      -- again, queued ones whose routing already ran included (their jobs, and
      -- any fill jobs that would have taken them, are gone).
      AND (dispatch_due_at <= :now OR :reset)
    ORDER BY dispatch_due_at NULLS FIRST
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
)
UPDATE bpo.work_items w SET dispatch_due_at = :next
FROM due WHERE w.tenant_id = due.tenant_id AND w.task_id = due.task_id
RETURNING (SELECT slug FROM bpo.tenants t WHERE t.id = w.tenant_id), w.kind, w.task_id
"""
)


def reconcile(now: datetime | None = None) -> Report:
    """One pass of all five steps; safe to run concurrently (rows are skip-locked)."""
    now = now or utcnow()
    redis = current_app.extensions["bpo"].redis
    report = Report(redis_was_reset=not redis.exists(EPOCH_KEY))
    _redispatch(report, now)
    _expire_leases(report, now)
    _overflow(report, now)
    _fill_online(report, now)
    _end_idle_sessions(report, now)
    if report.redis_was_reset:
        redis.set(EPOCH_KEY, now.isoformat())
        log.warning(
            "Redis held no dispatch marker (first start, or it lost its data):"
            " re-dispatched %d tasks",
            report.redispatched,
        )
    return report


def _redispatch(report: Report, now: datetime) -> None:
    with unit_of_work() as uow:
        rows = uow.session.execute(
            _OVERDUE,
            {
                "now": now,
                "reset": report.redis_was_reset,
                "batch": BATCH,
                "next": now + DISPATCH_GRACE,
            },
        ).all()
        groups: dict[tuple[str, str], list[int]] = {}
        for slug, kind, task_id in rows:
            groups.setdefault((slug, kind), []).append(int(task_id))
        slot = int(now.timestamp())
        for (slug, kind), ids in groups.items():
            ids.sort()
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                job_id = f"reroute-{slug}-{chunk[0]}-{len(chunk)}-{slot}"
                uow.defer(router.ROUTE_JOB, queue=kind, job_id=job_id, tenant=slug, task_ids=chunk)
                report.jobs.append(job_id)
        report.redispatched = len(rows)


def _expire_leases(report: Report, now: datetime) -> None:
    with unit_of_work() as uow:
        expired = uow.session.execute(
            text(
                "SELECT w.tenant_id, t.slug, array_agg(w.task_id ORDER BY w.task_id)"
                " FROM bpo.work_items w JOIN bpo.tenants t ON t.id = w.tenant_id"
                " WHERE w.state = 'assigned' AND w.lease_until < :now"
                " GROUP BY w.tenant_id, t.slug"
            ),
            {"now": now},
        ).all()
    for tenant_id, slug, task_ids in expired:
        with unit_of_work(slug) as uow:
            back = give_back(
                uow.session,
                tenant_id,
                slug,
                task_ids,
                SYSTEM,
                "not started within its lease",
                now,
            )
            router.defer_route(uow, slug, back.queued)
        report.leases_expired += sum(len(ids) for ids in back.queued.values())
        report.leases_expired += len(back.exception)


def _overflow(report: Report, now: datetime) -> None:
    timeout = settings()["skills_timeout"]
    with unit_of_work() as uow:
        rows = uow.session.execute(
            text(
                "UPDATE bpo.work_items w SET overflow = true, updated_at = :now"
                " WHERE w.state = 'queued' AND NOT w.overflow AND w.queued_at < :cutoff"
                " AND EXISTS (SELECT 1 FROM bpo.staff_memberships m"
                "             WHERE m.tenant_id = w.tenant_id AND m.overflow)"
                " RETURNING (SELECT slug FROM bpo.tenants t WHERE t.id = w.tenant_id),"
                " w.kind, w.task_id"
            ),
            {"now": now, "cutoff": now - timeout},
        ).all()
        groups: dict[str, dict[str, list[int]]] = {}
        for slug, kind, task_id in rows:
            groups.setdefault(slug, {}).setdefault(kind, []).append(int(task_id))
        for slug, by_kind in groups.items():
            router.defer_route(uow, slug, by_kind)
        report.overflowed = len(rows)


def _fill_online(report: Report, now: datetime) -> None:
    with unit_of_work() as uow:
        online = uow.session.scalars(
            text(
                "SELECT p.staff_id FROM bpo.agent_profiles p"
                " WHERE p.presence = 'online' AND EXISTS ("
                "   SELECT 1 FROM bpo.work_items w JOIN bpo.staff_memberships m"
                "     ON m.tenant_id = w.tenant_id AND m.staff_id = p.staff_id"
                "   WHERE w.state = 'queued' AND m.role = 'agent')"
            )
        ).all()
        for agent_id in online:
            router.defer_fill(uow, int(agent_id))
        report.agents_filled = len(online)


_END_IDLE = text(
    """
UPDATE bpo.work_sessions ws
SET ended_at = greatest(ws.started_at, coalesce(p.last_seen_at, p.presence_at)),
    ended_by = 'idle'
FROM bpo.agent_profiles p
WHERE p.staff_id = ws.agent_id AND ws.ended_at IS NULL
  AND coalesce(p.last_seen_at, p.presence_at) < :idle_since
"""
)


def _end_idle_sessions(report: Report, now: datetime) -> None:
    """Handle time stops at an agent's last activity once they have idled into away
    (IDLE_AFTER without a page view): an open session would otherwise count the
    idle time. Viewing the task again opens a new session (``desk.resume``)."""
    with unit_of_work() as uow:
        result = uow.session.execute(_END_IDLE, {"idle_since": now - IDLE_AFTER})
        report.sessions_ended = int(result.rowcount or 0)  # type: ignore[attr-defined]
