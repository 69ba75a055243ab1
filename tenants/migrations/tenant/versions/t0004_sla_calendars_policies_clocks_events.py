"""SLA calendars, policies, clocks and events

Revision ID: t0004
Revises: t0003
Create Date: 2026-12-01 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "t0004"
down_revision: str | None = "t0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _jsonb(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, postgresql.JSONB(astext_type=sa.Text()), nullable=nullable)


def _id() -> sa.Column:
    return sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False)


def upgrade() -> None:
    op.create_table(
        "sla_calendars",
        _id(),
        sa.Column("name", sa.String(length=100), nullable=False),
        _jsonb("definition"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_calendars")),
        sa.UniqueConstraint("name", name=op.f("uq_sla_calendars_name")),
    )
    op.create_table(
        "sla_policies",
        _id(),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _jsonb("conditions"),
        _jsonb("targets"),
        _jsonb("thresholds"),
        _jsonb("pauses"),
        sa.Column("calendar_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["sla_calendars.id"],
            name=op.f("fk_sla_policies_calendar_id_sla_calendars"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_sla_policies_name")),
    )
    op.create_index("ix_sla_policies_position", "sla_policies", ["position"], unique=False)
    op.create_table(
        "sla_clocks",
        _id(),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.BigInteger(), nullable=True),
        _jsonb("calendar"),
        sa.Column("target_seconds", sa.Integer(), nullable=False),
        _jsonb("thresholds"),
        _jsonb("pause_statuses"),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_seconds", sa.Float(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        _jsonb("fired"),
        sa.Column("warned", sa.Integer(), nullable=False),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["sla_policies.id"],
            name=op.f("fk_sla_clocks_policy_id_sla_policies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_sla_clocks_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_clocks")),
        sa.UniqueConstraint(
            "task_id", "target", "round", name=op.f("uq_sla_clocks_task_id_target_round")
        ),
    )
    op.create_index("ix_sla_clocks_next_check", "sla_clocks", ["next_check_at"], unique=False)
    op.create_index(op.f("ix_sla_clocks_task_id"), "sla_clocks", ["task_id"], unique=False)
    op.create_table(
        "sla_events",
        _id(),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("clock_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        _jsonb("data"),
        sa.ForeignKeyConstraint(
            ["clock_id"],
            ["sla_clocks.id"],
            name=op.f("fk_sla_events_clock_id_sla_clocks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_events")),
    )
    op.create_index("ix_sla_events_at", "sla_events", ["at"], unique=False)
    op.create_index("ix_sla_events_task", "sla_events", ["task_id"], unique=False)
    op.create_index(
        "uq_sla_events_once",
        "sla_events",
        ["clock_id", "kind", "threshold"],
        unique=True,
        postgresql_where=sa.text("kind IN ('warning', 'breached')"),
    )


def downgrade() -> None:
    op.drop_table("sla_events")
    op.drop_table("sla_clocks")
    op.drop_table("sla_policies")
    op.drop_table("sla_calendars")
