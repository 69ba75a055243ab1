"""SLA calendars, policies, clocks and events (tenant schema: they describe client work)."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bpo.work.models import Task
from tenants.db import SharedModel, TenantModel, bigint_pk, utcnow


class SlaCalendar(TenantModel):
    """Working hours and holidays in one time zone (``bpo.sla.engine.Calendar`` format)."""

    __tablename__ = "sla_calendars"

    id: Mapped[int] = bigint_pk()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SlaPolicy(TenantModel):
    """Targets for the tasks it matches; the first active policy by ``position`` wins.

    ``conditions``: ``{"kinds": [...], "types": [...], "priorities": [...]}`` (an
    empty or absent list matches everything). ``targets``: target name → business
    seconds. ``thresholds``: warning percentages. ``pauses``: target name → the
    statuses in which its clock stands still.
    """

    __tablename__ = "sla_policies"
    __table_args__ = (Index("ix_sla_policies_position", "position"),)

    id: Mapped[int] = bigint_pk()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    position: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)
    conditions: Mapped[dict[str, list[str]]] = mapped_column(JSONB, default=dict)
    targets: Mapped[dict[str, int]] = mapped_column(JSONB)
    thresholds: Mapped[list[int]] = mapped_column(JSONB, default=lambda: [50, 75, 90])
    pauses: Mapped[dict[str, list[str]]] = mapped_column(JSONB, default=dict)
    calendar_id: Mapped[int] = mapped_column(ForeignKey(SlaCalendar.id, ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    calendar: Mapped[SlaCalendar] = relationship(lazy="joined")


class SlaClock(TenantModel):
    """One target of one task, on the calendar and policy it started with.

    The calendar and target are copied at start, so editing a policy or calendar
    never rewrites a clock; an explicit, audited recalculation job may. ``round``
    numbers the next-response clocks of a ticket (one per unanswered client turn).
    ``next_check_at`` is its next checkpoint (warning or breach) while running.

    No index covers a column a checkpoint, a pause or a stop changes: the due clocks
    are found from the work index (``work_items.next_check_at``, the earliest of the
    task's clocks), so those updates are HOT (no index entries written), and every
    page keeps a fifth free for them (fillfactor 80). The unique constraint, which
    leads with ``task_id``, serves the lookups by task.
    """

    __tablename__ = "sla_clocks"
    __table_args__ = (
        UniqueConstraint("task_id", "target", "round"),
        {"postgresql_with": {"fillfactor": 80}},
    )

    id: Mapped[int] = bigint_pk()
    task_id: Mapped[int] = mapped_column(ForeignKey(Task.id, ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(32))
    round: Mapped[int] = mapped_column(Integer, default=0)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey(SlaPolicy.id, ondelete="SET NULL"))
    calendar: Mapped[dict[str, Any]] = mapped_column(JSONB)
    target_seconds: Mapped[int] = mapped_column(Integer)
    thresholds: Mapped[list[int]] = mapped_column(JSONB)
    pause_statuses: Mapped[list[str]] = mapped_column(JSONB, default=list)
    state: Mapped[str] = mapped_column(String(20), default="running")
    started_at: Mapped[datetime]
    paused_since: Mapped[datetime | None]
    paused_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    stopped_at: Mapped[datetime | None]
    fired: Mapped[list[int]] = mapped_column(JSONB, default=list)
    warned: Mapped[int] = mapped_column(Integer, default=0)  # highest warning fired, %
    breached: Mapped[bool] = mapped_column(default=False)
    due_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    # Every checkpoint while running, fired or not (``clock.plan``): percentages and
    # their instants, so firing compares instants in SQL (``bpo.sla.checks``).
    checkpoint_pcts: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), default=list, server_default="{}"
    )
    checkpoint_ats: Mapped[list[datetime]] = mapped_column(
        ARRAY(DateTime(timezone=True)), default=list, server_default="{}"
    )


class SlaEvent(TenantModel):
    """Started, paused, resumed, warning, breached, met, retargeted, recalculated.

    A warning or breach is unique per clock and threshold: two workers on the same
    instant insert it once (``ON CONFLICT DO NOTHING``), and only the one that did
    notifies anybody.
    """

    __tablename__ = "sla_events"
    __table_args__ = (
        Index(
            "uq_sla_events_once",
            "clock_id",
            "kind",
            "threshold",
            unique=True,
            postgresql_where=text("kind IN ('warning', 'breached')"),
        ),
        Index("ix_sla_events_at", "at"),
        Index("ix_sla_events_task", "task_id"),
    )

    id: Mapped[int] = bigint_pk()
    task_id: Mapped[int] = mapped_column(BigInteger)
    clock_id: Mapped[int] = mapped_column(ForeignKey(SlaClock.id, ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    threshold: Mapped[int] = mapped_column(Integer, default=0)  # warning %, 100: breach
    at: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class SlaRollup(SharedModel):
    """Per tenant, UTC day, kind of work and target: clocks closed in time or late, and
    breaches fired. Cross-tenant SLA figures come from here and the work index, never
    from the tenant schemas (one query for any number of tenants)."""

    __tablename__ = "sla_rollups"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "day", "kind", "target"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("bpo.tenants.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(32))
    met: Mapped[int] = mapped_column(Integer, default=0)  # stopped in time
    missed: Mapped[int] = mapped_column(Integer, default=0)  # stopped after a breach
    breaches: Mapped[int] = mapped_column(Integer, default=0)  # breaches fired that day


class Notification(SharedModel):
    """An in-app message to a staff member (assignee or supervisor); no client content
    beyond the task's number and the client's name."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_staff_created", "staff_id", "created_at"),
        Index("ix_notifications_unread", "staff_id", postgresql_where=text("read_at IS NULL")),
    )

    id: Mapped[int] = bigint_pk()
    staff_id: Mapped[int] = mapped_column(ForeignKey("bpo.staff_users.id", ondelete="CASCADE"))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("bpo.tenants.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))  # sla_warning | sla_breach
    message: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    emailed_at: Mapped[datetime | None]
