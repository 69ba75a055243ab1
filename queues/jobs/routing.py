"""Routing jobs, one queue per kind of work.

Until assignment exists, routing puts a new task into the pool (``queued``). The
job re-reads the task under a row lock, so running it twice changes nothing.
"""

from bpo.core.uow import unit_of_work
from bpo.work.services import mark_queued
from queues.runtime import app_context


def route_task(tenant: str, task_id: int) -> bool:
    """Route task ``task_id`` of ``tenant``; returns whether anything changed."""
    with app_context(), unit_of_work(tenant) as uow:
        return mark_queued(uow, task_id)


def route_tasks(tenant: str, task_ids: list[int]) -> int:
    """Route newly created tasks of ``tenant`` (one job per kind per intake); returns how
    many changed. Idempotent like :func:`route_task`."""
    with app_context(), unit_of_work(tenant) as uow:
        return sum(mark_queued(uow, task_id) for task_id in task_ids)
