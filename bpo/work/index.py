"""The work index: one ``bpo.work_items`` row per open task, kept in step with it.

Every function here runs inside the caller's unit of work, so the index changes
in the same transaction as the task it describes.
"""

from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bpo.core.uow import UnitOfWork
from bpo.routing import rules
from bpo.work.models import Task, WorkItem
from bpo.work.states import Status
from bpo.work.types import TYPES
from tenants.binding import copy_rows

if TYPE_CHECKING:
    from bpo.work.services import NewTask
from tenants.db import utcnow
from tenants.models import Tenant

# A task not dispatched within this long after commit is dispatched again by the
# reconciler (every 30 s): a routing job lost with a killed worker is run again within
# 90 s. Routing twice is harmless, so a job that merely waited long costs one more run.
DISPATCH_GRACE = timedelta(seconds=60)


def tenant_id(uow: UnitOfWork) -> int:
    """The id of the unit of work's tenant (looked up once per unit)."""
    cached = uow.session.info.get("tenant_id")
    if cached is None:
        cached = uow.session.scalar(select(Tenant.id).where(Tenant.slug == uow.tenant))
        if cached is None:
            raise LookupError(f"no tenant {uow.tenant!r}")
        uow.session.info["tenant_id"] = cached
    return int(cached)


ADD_COLUMNS = (
    "tenant_id",
    "task_id",
    "kind",
    "type",
    "required_skills",
    "weight",
    "priority_rank",
    "state",
    "sla_due_at",
    "next_check_at",
    "dispatch_due_at",
    "attempts",
    "created_at",
    "updated_at",
)


def add(
    session: Session,
    tenant: int,
    tasks: "list[NewTask]",
    next_checks: "dict[int, datetime] | None" = None,
) -> None:
    """Index newly created tasks, due for dispatch, with their SLA clocks' next check
    (COPY: intake writes many at once)."""
    checks = next_checks or {}
    if not tasks:
        return
    now = utcnow()
    due = now + DISPATCH_GRACE
    copy_rows(
        session,
        WorkItem.__table__,
        None,
        ADD_COLUMNS,
        (
            (
                tenant,
                task.id,
                task.kind.value,
                task.type,
                _skills_literal(task.type, task.priority.rank),
                TYPES[task.type].weight,
                task.priority.rank,
                task.status.value,
                task.sla_due_at,
                checks.get(task.id),
                due,
                0,
                task.created_at,
                now,
            )
            for task in tasks
        ),
    )


@cache
def required_tokens(type_name: str, priority_rank: int) -> list[str]:
    """The skill tokens a task of this type and priority needs (see the routing rules)."""
    level = TYPES[type_name].skill_level
    return rules.required_tokens(rules.required_skills(type_name, level, priority_rank))


@cache
def _skills_literal(type_name: str, priority_rank: int) -> str:
    """:func:`required_tokens` as COPY's text for a varchar[] (letters, digits, . _ @)."""
    return "{" + ",".join(required_tokens(type_name, priority_rank)) + "}"


def update_state(
    session: Session,
    tenant: int,
    task: Task,
    *,
    dispatched: bool = False,
    extra: dict[str, Any] | None = None,
) -> None:
    """Mirror the task's status (plus any ``extra`` index columns); closed tasks leave
    the index."""
    key = (WorkItem.tenant_id == tenant, WorkItem.task_id == task.id)
    if not task.status.is_open:
        session.execute(delete(WorkItem).where(*key))
        return
    values: dict[str, Any] = {
        "state": task.status,
        "priority_rank": task.priority.rank,
        "required_skills": required_tokens(task.type, task.priority.rank),
        "sla_due_at": task.sla_due_at,
        "updated_at": utcnow(),
        **(extra or {}),
    }
    if dispatched:
        values["dispatch_due_at"] = None
    session.execute(update(WorkItem).where(*key).values(**values))


def open_states() -> list[Status]:
    return [s for s in Status if s.is_open]


def open_counts(
    session: Session, tenant_ids: list[int], states: list[Status] | None = None
) -> dict[tuple[int, str], int]:
    """Open work per (tenant id, kind) among ``tenant_ids``, optionally in ``states`` only.

    Counts from the index alone: no client content, no tenant schema touched.
    """
    query = (
        select(WorkItem.tenant_id, WorkItem.kind, func.count())
        .where(WorkItem.tenant_id.in_(tenant_ids))
        .group_by(WorkItem.tenant_id, WorkItem.kind)
    )
    if states is not None:
        query = query.where(WorkItem.state.in_(states))
    return {(tenant_id, kind.value): count for tenant_id, kind, count in session.execute(query)}
