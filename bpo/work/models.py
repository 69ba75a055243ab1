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
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bpo.work.states import Kind, Priority, Status
from tenants.db import SharedModel, TenantModel, bigint_pk, portable_enum, utcnow


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
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("bpo.tenants.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[Kind] = mapped_column(portable_enum(Kind, "work_kind"))
    type: Mapped[str] = mapped_column(String(64))
    required_skills: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    priority_rank: Mapped[int] = mapped_column(Integer)
    state: Mapped[Status] = mapped_column(portable_enum(Status, "work_state"))
    assignee_id: Mapped[int | None] = mapped_column(BigInteger)
    lease_until: Mapped[datetime | None]
    sla_due_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    dispatch_due_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
