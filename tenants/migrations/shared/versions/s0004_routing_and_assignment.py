"""routing and assignment: work-index columns for claims, leases and overflow; work sessions

Revision ID: s0004
Revises: s0003
Create Date: 2026-12-01 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0004"
down_revision: str | None = "s0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in (
        sa.Column("weight", sa.Integer(), server_default="1", nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("over_capacity", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("overflow", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("declined_by", sa.ARRAY(sa.BigInteger()), server_default="{}", nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
    ):
        op.add_column("work_items", column, schema="bpo")
    op.alter_column("work_items", "attempts", server_default="0", schema="bpo")
    # Required skills become "<type>@<level>" tokens (level 1 for rows indexed so far).
    op.execute(
        "UPDATE bpo.work_items SET required_skills = ARRAY(SELECT s || '@1'"
        " FROM unnest(required_skills) AS s WHERE s NOT LIKE '%@%')"
        " WHERE NOT required_skills::text LIKE '%@%'"
    )
    op.execute(
        "UPDATE bpo.work_items SET weight = CASE type WHEN 'accounting.invoice' THEN 2"
        " WHEN 'accounting.bank_reconciliation' THEN 4 WHEN 'accounting.journal_entry' THEN 2"
        " ELSE 1 END"
    )
    op.create_index(
        "ix_work_items_pool",
        "work_items",
        ["sla_due_at", sa.text("priority_rank DESC"), "created_at", "task_id"],
        unique=False,
        schema="bpo",
        postgresql_where=sa.text("state = 'queued'"),
    )
    op.create_index(
        "ix_work_items_assignee",
        "work_items",
        ["assignee_id"],
        unique=False,
        schema="bpo",
        postgresql_where="assignee_id IS NOT NULL",
    )
    op.create_index(
        "ix_work_items_lease",
        "work_items",
        ["lease_until"],
        unique=False,
        schema="bpo",
        postgresql_where="lease_until IS NOT NULL",
    )
    op.add_column(
        "staff_memberships",
        sa.Column("overflow", sa.Boolean(), server_default=sa.false(), nullable=False),
        schema="bpo",
    )
    op.create_table(
        "work_sessions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("agent_id", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["bpo.staff_users.id"],
            name=op.f("fk_work_sessions_agent_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["bpo.tenants.id"],
            name=op.f("fk_work_sessions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_sessions")),
        schema="bpo",
    )
    op.create_index(
        "ix_work_sessions_agent_started",
        "work_sessions",
        ["agent_id", "started_at"],
        unique=False,
        schema="bpo",
    )
    op.create_index(
        "ix_work_sessions_task",
        "work_sessions",
        ["tenant_id", "task_id"],
        unique=False,
        schema="bpo",
    )
    op.create_index(
        "ix_work_sessions_open",
        "work_sessions",
        ["agent_id"],
        unique=False,
        schema="bpo",
        postgresql_where="ended_at IS NULL",
    )


def downgrade() -> None:
    op.drop_table("work_sessions", schema="bpo")
    op.drop_column("staff_memberships", "overflow", schema="bpo")
    for name in ("ix_work_items_lease", "ix_work_items_assignee", "ix_work_items_pool"):
        op.drop_index(name, table_name="work_items", schema="bpo")
    op.execute(
        "UPDATE bpo.work_items SET required_skills ="
        " ARRAY(SELECT split_part(s, '@', 1) FROM unnest(required_skills) AS s)"
    )
    op.alter_column("work_items", "attempts", server_default=None, schema="bpo")
    for name in (
        "last_error",
        "declined_by",
        "overflow",
        "over_capacity",
        "assigned_at",
        "queued_at",
        "weight",
    ):
        op.drop_column("work_items", name, schema="bpo")
