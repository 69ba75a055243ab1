"""A staff member's notifications: read, count and mark as read.

A notification belongs to one staff member and one tenant. It is shown only to its
owner and only while they still serve or oversee that tenant (admins oversee every
tenant): taking someone off a client hides what they were told about it. Marking
as read names notifications by id and touches only the caller's own.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, select, update
from sqlalchemy.orm import Session

from bpo.identity.models import StaffMembership, StaffRole, StaffUser
from bpo.sla.models import Notification
from bpo.work.models import WorkItem
from tenants.models import Tenant

SHOWN = 200  # the newest notifications on the page; older ones stay counted


@dataclass(frozen=True)
class Note:
    id: int
    tenant_slug: str
    tenant: str
    task_id: int | None
    kind: str
    message: str
    created_at: datetime
    read: bool
    held: bool  # the task is in the reader's hands now (their task page opens it)


def _visible(staff: StaffUser) -> ColumnElement[bool]:
    own = Notification.staff_id == staff.id
    if staff.role == StaffRole.ADMIN:
        return own
    serving = exists().where(
        StaffMembership.staff_id == staff.id,
        StaffMembership.tenant_id == Notification.tenant_id,
    )
    return and_(own, serving)


def inbox(session: Session, staff: StaffUser, *, unread_only: bool = False) -> list[Note]:
    """The newest :data:`SHOWN` notifications ``staff`` may see, newest first."""
    query = (
        select(
            Notification.id,
            Tenant.slug,
            Tenant.name,
            Notification.task_id,
            Notification.kind,
            Notification.message,
            Notification.created_at,
            Notification.read_at,
            WorkItem.assignee_id,
        )
        .join(Tenant, Tenant.id == Notification.tenant_id)
        .outerjoin(
            WorkItem,
            and_(
                WorkItem.tenant_id == Notification.tenant_id,
                WorkItem.task_id == Notification.task_id,
            ),
        )
        .where(_visible(staff))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(SHOWN)
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return [
        Note(
            id=r.id,
            tenant_slug=r.slug,
            tenant=r.name,
            task_id=r.task_id,
            kind=r.kind,
            message=r.message,
            created_at=r.created_at,
            read=r.read_at is not None,
            held=r.assignee_id == staff.id,
        )
        for r in session.execute(query)
    ]


def unread_count(session: Session, staff: StaffUser) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(_visible(staff), Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(
    session: Session, staff: StaffUser, now: datetime, ids: Iterable[int] | None = None
) -> int:
    """Mark ``staff``'s notifications ``ids`` (all unread ones if None) as read at
    ``now``; ids of anyone else's are ignored. Returns how many changed."""
    statement = (
        update(Notification)
        .where(_visible(staff), Notification.read_at.is_(None))
        .values(read_at=now)
    )
    if ids is not None:
        chosen = sorted(set(ids))
        if not chosen:
            return 0
        statement = statement.where(Notification.id.in_(chosen))
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
