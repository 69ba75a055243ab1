"""Tasks and what hangs off them (tenant schema), and the work index (shared schema)."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bpo.work.states import Kind, Priority, Status
from tenants.db import TENANT_FUNCTIONS, SharedModel, TenantModel, bigint_pk, portable_enum, utcnow


class Task(TenantModel):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_status_created", "status", "created_at"),
        Index("ix_tasks_kind_created", "kind", "created_at"),
    )

    id: Mapped[int] = bigint_pk()
    kind: Mapped[Kind] = mapped_column(portable_enum(Kind, "task_kind"))
    type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    priority: Mapped[Priority] = mapped_column(
        portable_enum(Priority, "task_priority"), default=Priority.NORMAL
    )
    status: Mapped[Status] = mapped_column(portable_enum(Status, "task_status"), default=Status.NEW)
    # The client's own reference: unique per tenant, makes intake idempotent.
    external_ref: Mapped[str | None] = mapped_column(String(120), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Automated checks' findings, e.g. {"code": "possible_duplicate", "task_id": 12}.
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # Types that detect likely duplicates (invoices: vendor + number) key them here.
    dedupe_key: Mapped[str | None] = mapped_column(String(300), index=True)
    requester: Mapped[str] = mapped_column(String(64))  # "client:<id>", "token:<id>", "staff:<id>"
    defer_until: Mapped[datetime | None]
    sla_due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None]
    # The agent working it or who last did (a staff id; no foreign key across schemas).
    assignee_id: Mapped[int | None] = mapped_column(BigInteger)
    # What the agent handed in: keyed values, the checked invoice, notes (per type).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    messages: Mapped[list["TaskMessage"]] = relationship(
        back_populates="task", order_by="TaskMessage.id", lazy="selectin"
    )
    attachments: Mapped[list["Attachment"]] = relationship(back_populates="task", lazy="selectin")


class TaskMessage(TenantModel):
    """A message on a task: from the client, a public reply, or an internal note."""

    __tablename__ = "task_messages"

    id: Mapped[int] = bigint_pk()
    task_id: Mapped[int] = mapped_column(ForeignKey(Task.id, ondelete="CASCADE"), index=True)
    visibility: Mapped[str] = mapped_column(
        String(20)
    )  # client_message | public_reply | internal_note
    author: Mapped[str] = mapped_column(String(64))
    author_name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    task: Mapped[Task] = relationship(back_populates="messages")


class Attachment(TenantModel):
    """A file stored under the tenant's own directory, addressed by its SHA-256."""

    __tablename__ = "attachments"

    id: Mapped[int] = bigint_pk()
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey(Task.id, ondelete="SET NULL"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    task: Mapped[Task | None] = relationship(back_populates="attachments")


class DataEntryForm(TenantModel):
    """A tenant-defined form that data-entry records are keyed against."""

    __tablename__ = "data_entry_forms"

    id: Mapped[int] = bigint_pk()
    key: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkItem(SharedModel):
    """One row per open task across all tenants; no client content.

    Written in the same transaction as the task, so it is also the outbox: a row
    whose ``dispatch_due_at`` has passed was never routed and is dispatched again.
    """

    __tablename__ = "work_items"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "task_id"),
        Index(
            "ix_work_items_dispatch_due",
            "dispatch_due_at",
            postgresql_where="dispatch_due_at IS NOT NULL",
        ),
        Index("ix_work_items_claim", "state", "kind", "sla_due_at", "priority_rank", "created_at"),
        # The pool in claim order (most urgent first): a claim reads it from the front.
        Index(
            "ix_work_items_pool",
            "sla_due_at",
            text("priority_rank DESC"),
            "created_at",
            "task_id",
            postgresql_where=text("state = 'queued'"),
        ),
        Index("ix_work_items_assignee", "assignee_id", postgresql_where="assignee_id IS NOT NULL"),
        Index("ix_work_items_lease", "lease_until", postgresql_where="lease_until IS NOT NULL"),
        Index(
            "ix_work_items_next_check",
            "next_check_at",
            postgresql_where="next_check_at IS NOT NULL",
        ),
        # The dashboard's tasks at risk: past a warning, not breached, soonest due first.
        Index(
            "ix_work_items_at_risk",
            "sla_due_at",
            postgresql_where=text("sla_warned > 0 AND NOT sla_breached"),
        ),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("bpo.tenants.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[Kind] = mapped_column(portable_enum(Kind, "work_kind"))
    type: Mapped[str] = mapped_column(String(64))
    # Skill tokens "<skill>@<level>" (see bpo.routing.rules.required_tokens): an agent
    # qualifies when these are contained in the tokens of their own skills.
    required_skills: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    weight: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    priority_rank: Mapped[int] = mapped_column(Integer)
    state: Mapped[Status] = mapped_column(portable_enum(Status, "work_state"))
    assignee_id: Mapped[int | None] = mapped_column(BigInteger)
    lease_until: Mapped[datetime | None]
    sla_due_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    # The task's SLA state, mirrored from its clocks for cross-tenant views: the highest
    # warning fired (%), whether any target is breached, whether every clock is paused.
    sla_warned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sla_breached: Mapped[bool] = mapped_column(default=False, server_default=false())
    sla_paused: Mapped[bool] = mapped_column(default=False, server_default=false())
    dispatch_due_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    queued_at: Mapped[datetime | None]  # entered the pool (for the skills timeout)
    assigned_at: Mapped[datetime | None]
    # Assigned by a supervisor beyond the agent's capacity.
    over_capacity: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Past the skills timeout: the tenant's overflow group may take it whatever its skills.
    overflow: Mapped[bool] = mapped_column(default=False, server_default=false())
    declined_by: Mapped[list[int]] = mapped_column(
        ARRAY(BigInteger), default=list, server_default="{}"
    )
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WorkSession(SharedModel):
    """A stretch of time an agent spent on a task: handle time, recorded by itself.

    Opened when the agent starts or resumes a task, closed when they pause, hand
    in, decline or lose it. No client content: supervisors read occupancy from it.
    """

    __tablename__ = "work_sessions"
    __table_args__ = (
        Index("ix_work_sessions_agent_started", "agent_id", "started_at"),
        Index("ix_work_sessions_task", "tenant_id", "task_id"),
        Index("ix_work_sessions_open", "agent_id", postgresql_where="ended_at IS NULL"),
    )

    id: Mapped[int] = bigint_pk()
    tenant_id: Mapped[int] = mapped_column(ForeignKey("bpo.tenants.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(BigInteger)
    agent_id: Mapped[int] = mapped_column(ForeignKey("bpo.staff_users.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(20))  # pause | hand_in | decline | ...


# A claim's move in the tenant's schema (``bpo.claim_work`` calls it once it holds
# the index row): the pool task becomes the agent's, with its audit event. Returns
# how many tasks moved (1, or 0 if the task was not in the pool). A function of the
# schema's own, so its statement is planned once per connection; ``claim_work``'s
# alternative, dynamic SQL naming the schema, was parsed and planned on every claim
# (a third of its time). Created with the tenant's tables (migration t0006).
ASSIGN_FROM_POOL = """
CREATE OR REPLACE FUNCTION {schema}.assign_from_pool(
    p_agent bigint, p_now timestamptz, p_task bigint, p_actor text, p_reason text
) RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
    moved integer;
BEGIN
    WITH task AS (
        UPDATE {schema}.tasks SET status = 'assigned', assignee_id = p_agent, updated_at = p_now
         WHERE id = p_task AND status = 'queued'
        RETURNING id
    )
    INSERT INTO {schema}.audit_events
        (at, actor, action, subject_type, subject_id, from_state, to_state, reason, data)
    SELECT p_now, p_actor, 'transition', 'task', id, 'queued', 'assigned', p_reason,
           '{}'::jsonb
      FROM task;
    GET DIAGNOSTICS moved = ROW_COUNT;
    RETURN moved;
END
$fn$
"""
TENANT_FUNCTIONS.append(ASSIGN_FROM_POOL)

# A routing job's first step (``bpo.routing.router``), in the tenant's schema: of the
# tasks ``p_ids``, the new ones whose ``defer_until`` has come join the pool (index
# row, task row and audit event); the deferred ones get their dispatch due when it
# comes (the reconciler picks them up then); every pool task among them is marked
# dispatched. Returns one row naming the tenant, one per task deferred, one per task
# moved, and every pool task among the ids as the routing rules see it ('queued' if
# it joined the pool just now, 'pool' if it was there already). Rows are found by the
# primary keys, never by scanning the pool.
#
# A function so that its plan is made once per connection and kept (generic): sent
# from Python as a prepared statement, PostgreSQL judged a generic plan no better
# than a fresh one and planned this statement on every job, which was half of a
# routing step's time in PostgreSQL (migration t0007).
QUEUE_FOR_ROUTING = """
CREATE OR REPLACE FUNCTION {schema}.queue_for_routing(
    p_slug text, p_ids bigint[], p_now timestamptz, p_actor text, p_reason text
) RETURNS TABLE (
    what text, task_id bigint, kind text, weight integer, required_skills text[],
    priority_rank integer, created_at timestamptz, sla_due_at timestamptz,
    overflow boolean, declined_by bigint[]
) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
#variable_conflict use_column
DECLARE
    tenant bigint;
BEGIN
    SELECT t.id INTO tenant FROM bpo.tenants t WHERE t.slug = p_slug;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    what := 'tenant';
    task_id := tenant;
    RETURN NEXT;
    RETURN QUERY
    WITH deferred AS (
        SELECT t.id, t.defer_until FROM {schema}.tasks t
         WHERE t.id = ANY(p_ids) AND t.status = 'new' AND t.defer_until > p_now
    ), later AS (
        UPDATE bpo.work_items w SET dispatch_due_at = d.defer_until
          FROM deferred d
         WHERE w.tenant_id = tenant AND w.task_id = ANY(p_ids) AND w.task_id = d.id
        RETURNING w.task_id
    ), queued AS (
        UPDATE bpo.work_items w
           SET state = 'queued', queued_at = p_now, dispatch_due_at = NULL, updated_at = p_now
         WHERE w.tenant_id = tenant AND w.task_id = ANY(p_ids) AND w.state = 'new'
           AND w.task_id NOT IN (SELECT d.id FROM deferred d)
        RETURNING w.*
    ), waiting AS (
        UPDATE bpo.work_items w SET dispatch_due_at = NULL
         WHERE w.tenant_id = tenant AND w.task_id = ANY(p_ids) AND w.state = 'queued'
        RETURNING w.*
    ), moved AS (
        UPDATE {schema}.tasks t SET status = 'queued', updated_at = p_now
         WHERE t.id = ANY(p_ids) AND t.id IN (SELECT q.task_id FROM queued q)
           AND t.status = 'new'
        RETURNING t.id
    ), audit AS (
        INSERT INTO {schema}.audit_events
            (at, actor, action, subject_type, subject_id, from_state, to_state, reason, data)
        SELECT p_now, p_actor, 'transition', 'task', m.id, 'new', 'queued', p_reason,
               '{}'::jsonb
          FROM moved m
        RETURNING subject_id
    ), pool AS (
        SELECT 'queued' AS what, q.* FROM queued q
        UNION ALL SELECT 'pool', p.* FROM waiting p
    )
    SELECT p.what, p.task_id, p.kind::text, p.weight, p.required_skills::text[],
           p.priority_rank, p.created_at, p.sla_due_at, p.overflow, p.declined_by
      FROM pool p
    UNION ALL
    SELECT 'deferred', l.task_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM later l
    UNION ALL
    SELECT 'moved', a.subject_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM audit a;
END
$fn$
"""
TENANT_FUNCTIONS.append(QUEUE_FOR_ROUTING)
