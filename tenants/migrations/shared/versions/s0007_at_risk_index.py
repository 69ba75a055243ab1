"""an index for the dashboard's tasks at risk

Revision ID: s0007
Revises: s0006
Create Date: 2026-12-01 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0007"
down_revision: str | None = "s0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_work_items_at_risk",
        "work_items",
        ["sla_due_at"],
        unique=False,
        schema="bpo",
        postgresql_where=sa.text("sla_warned > 0 AND NOT sla_breached"),
    )


def downgrade() -> None:
    op.drop_index("ix_work_items_at_risk", table_name="work_items", schema="bpo")
