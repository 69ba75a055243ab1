"""SLA state on the work index, SLA rollups, notifications

Revision ID: s0005
Revises: s0004
Create Date: 2026-12-01 18:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0005"
down_revision: str | None = "s0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "work_items",
        sa.Column("sla_warned", sa.Integer(), server_default="0", nullable=False),
        schema="bpo",
    )
    op.add_column(
        "work_items",
        sa.Column("sla_breached", sa.Boolean(), server_default=sa.false(), nullable=False),
        schema="bpo",
    )
    op.add_column(
        "work_items",
        sa.Column("sla_paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        schema="bpo",
    )
    op.create_index(
        "ix_work_items_next_check",
        "work_items",
        ["next_check_at"],
        unique=False,
        schema="bpo",
        postgresql_where="next_check_at IS NOT NULL",
    )
    op.create_table(
        "sla_rollups",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("met", sa.Integer(), nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.Column("breaches", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["bpo.tenants.id"],
            name=op.f("fk_sla_rollups_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "day", "kind", "target", name=op.f("pk_sla_rollups")),
        schema="bpo",
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("staff_id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("task_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["bpo.staff_users.id"],
            name=op.f("fk_notifications_staff_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["bpo.tenants.id"],
            name=op.f("fk_notifications_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        schema="bpo",
    )
    op.create_index(
        "ix_notifications_staff_created",
        "notifications",
        ["staff_id", "created_at"],
        unique=False,
        schema="bpo",
    )


def downgrade() -> None:
    op.drop_table("notifications", schema="bpo")
    op.drop_table("sla_rollups", schema="bpo")
    op.drop_index("ix_work_items_next_check", table_name="work_items", schema="bpo")
    for name in ("sla_paused", "sla_breached", "sla_warned"):
        op.drop_column("work_items", name, schema="bpo")
