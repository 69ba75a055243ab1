"""Routing jobs, on the queue of their kind of work: thin, ids only.

Each restores the app and calls :mod:`bpo.routing.router`, which opens its own
units of work; running a job twice changes nothing. A job that fails for good
(retries spent) marks its tasks ``exception`` with the error, for a supervisor.
"""

from typing import Any

from bpo.routing import router
from queues.runtime import app_context


def route_tasks(tenant: str, task_ids: list[int]) -> dict[str, Any]:
    """Queue the new tasks among ``task_ids`` and assign them if someone may take them."""
    with app_context():
        routed = router.route(tenant, [int(i) for i in task_ids])
        return {"queued": len(routed.queued), "assigned": len(routed.assigned)}


def route_task(tenant: str, task_id: int) -> dict[str, Any]:
    return route_tasks(tenant, [task_id])


def fill_agent(agent_id: int, kind: str | None = None) -> int:
    """Give agent ``agent_id`` pool work up to capacity; returns how many tasks."""
    with app_context():
        return len(router.fill(int(agent_id), kind))


def on_failure(job: Any, connection: Any, exc_type: Any, exc: Any, tb: Any) -> None:
    """RQ failure callback: once retries are spent, the job's tasks go to ``exception``."""
    if job.retries_left:
        return  # RQ will run it again after its backoff
    kwargs = job.kwargs or {}
    tenant, task_ids = kwargs.get("tenant"), kwargs.get("task_ids") or [kwargs.get("task_id")]
    if not tenant or not any(task_ids):
        return
    with app_context():
        router.mark_failed(tenant, [int(i) for i in task_ids if i], f"{exc_type.__name__}: {exc}")


def reconcile() -> dict[str, Any]:
    """The periodic reconciler (every 30 s): see :mod:`bpo.routing.reconciler`."""
    from bpo.routing.reconciler import reconcile as run

    with app_context():
        report = run()
        return {
            "redis_was_reset": report.redis_was_reset,
            "redispatched": report.redispatched,
            "leases_expired": report.leases_expired,
            "overflowed": report.overflowed,
            "agents_filled": report.agents_filled,
            "sessions_ended": report.sessions_ended,
        }
