"""an index for each staff member's unread notifications (the menu's count)

Revision ID: s0008
Revises: s0007
Create Date: 2026-12-01 20:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0008"
down_revision: str | None = "s0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_notifications_unread",
        "notifications",
        ["staff_id"],
        unique=False,
        schema="bpo",
        postgresql_where=sa.text("read_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_unread", table_name="notifications", schema="bpo")
