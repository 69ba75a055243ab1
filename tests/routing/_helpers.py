"""Shared helpers for the routing tests: tasks in bulk, index rows, audit counts."""

import random
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, text

from bpo.audit.models import AuditEvent
from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.routing import router, rules
from bpo.work import services
from bpo.work.models import Task, WorkItem
from tenants.models import Tenant
from tests.support.factories import ticket_task

CLIENT = Actor("client:1", "Client")


def create(
    tenant: str, n: int = 1, factory: Callable[..., dict[str, Any]] = ticket_task, **overrides: Any
) -> list[int]:
    """``n`` new tasks of ``tenant`` (state new; their routing jobs go to Redis)."""
    with unit_of_work(tenant) as uow:
        result = services.create_batch(uow, [factory(**overrides) for _ in range(n)], CLIENT)
    return [t.id for t in result.created]


def queued(
    tenant: str, n: int = 1, factory: Callable[..., dict[str, Any]] = ticket_task, **kw: Any
) -> list[int]:
    """``n`` tasks waiting in the pool (routed while nobody serves the tenant)."""
    ids = create(tenant, n, factory, **kw)
    routed = router.route(tenant, ids)
    assert sorted(routed.queued) == sorted(ids) and not routed.assigned
    return ids


def item(tenant: str, task_id: int) -> WorkItem:
    with unit_of_work(tenant) as uow:
        row = uow.session.scalar(
            select(WorkItem).where(
                WorkItem.task_id == task_id,
                WorkItem.tenant_id
                == select(Tenant.id).where(Tenant.slug == tenant).scalar_subquery(),
            )
        )
        assert row is not None
        uow.session.expunge(row)
        return row


def task(tenant: str, task_id: int) -> Task:
    with unit_of_work(tenant) as uow:
        row = uow.session.get_one(Task, task_id)
        uow.session.expunge(row)
        return row


def sql(statement: str, **params: Any) -> Any:
    """Run one statement in the shared schema's unit of work; returns all rows."""
    with unit_of_work() as uow:
        result = uow.session.execute(text(statement), params)
        return result.all() if result.returns_rows else None


def transitions_to(tenant: str, state: str) -> dict[int, int]:
    """{task id: number of audit transitions to ``state``} in ``tenant``."""
    with unit_of_work(tenant) as uow:
        rows = uow.session.execute(
            select(AuditEvent.subject_id, func.count())
            .where(AuditEvent.action == "transition", AuditEvent.to_state == state)
            .group_by(AuditEvent.subject_id)
        ).all()
    return {int(subject): int(n) for subject, n in rows}


def scatter_flags(rnd: random.Random, pool: list[rules.Work], agents: list[int]) -> None:
    """Random flags on pool tasks: declined before by one of ``agents`` (one in five),
    past the skills timeout (one in three)."""
    for work in pool:
        if rnd.random() < 0.2:
            sql(
                "UPDATE bpo.work_items SET declined_by = ARRAY[CAST(:a AS bigint)]"
                " WHERE tenant_id = :t AND task_id = :id",
                a=rnd.choice(agents),
                t=work.tenant_id,
                id=work.task_id,
            )
        if rnd.random() < 0.3:
            sql(
                "UPDATE bpo.work_items SET overflow = true WHERE tenant_id = :t AND task_id = :id",
                t=work.tenant_id,
                id=work.task_id,
            )
