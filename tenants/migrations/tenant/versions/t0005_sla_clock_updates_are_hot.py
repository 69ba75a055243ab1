"""SLA clocks keep their checkpoint instants, and their updates are HOT

Revision ID: t0005
Revises: t0004
Create Date: 2026-12-02 02:00:00

Each clock keeps every checkpoint instant of its running configuration
(``checkpoint_pcts`` / ``checkpoint_ats``, ``bpo.sla.clock.plan``), so firing compares
instants in one statement (``bpo.sla.checks``); the running clocks get theirs here.
The due clocks are found from the work index's ``next_check_at`` (the earliest of the
task's clocks), so ``sla_clocks`` no longer needs an index of its own on it, and the
one on ``task_id`` repeats the unique constraint's leading column. Without them no
index covers a column a checkpoint changes: the update is heap-only, in the room
fillfactor 80 keeps on each page (pages written from now on).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "t0005"
down_revision: str | None = "t0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "sla_clocks",
        sa.Column(
            "checkpoint_pcts", postgresql.ARRAY(sa.Integer()), server_default="{}", nullable=False
        ),
    )
    op.add_column(
        "sla_clocks",
        sa.Column(
            "checkpoint_ats",
            postgresql.ARRAY(sa.DateTime(timezone=True)),
            server_default="{}",
            nullable=False,
        ),
    )
    _plan_running_clocks()
    op.drop_index("ix_sla_clocks_next_check", table_name="sla_clocks")
    op.drop_index("ix_sla_clocks_task_id", table_name="sla_clocks")
    op.execute("ALTER TABLE sla_clocks SET (fillfactor = 80)")


def _plan_running_clocks() -> None:
    """The checkpoint instants of every running clock, with the clock's own arithmetic."""
    from bpo.sla import clock as clocks
    from bpo.sla.engine import Calendar

    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, target, calendar, target_seconds, thresholds, started_at,"
            " paused_seconds, fired FROM sla_clocks WHERE state = 'running'"
        )
    ).all()
    for row in rows:
        value = clocks.Clock(
            target=row.target,
            target_seconds=row.target_seconds,
            thresholds=tuple(row.thresholds),
            started_at=row.started_at,
            paused_seconds=row.paused_seconds,
            fired=tuple(row.fired),
        )
        points = clocks.plan(Calendar.from_dict(row.calendar), value)
        bind.execute(
            sa.text(
                "UPDATE sla_clocks SET checkpoint_pcts = :pcts, checkpoint_ats = :ats"
                " WHERE id = :id"
            ),
            {"id": row.id, "pcts": [p for p, _ in points], "ats": [at for _, at in points]},
        )


def downgrade() -> None:
    op.execute("ALTER TABLE sla_clocks RESET (fillfactor)")
    op.create_index("ix_sla_clocks_task_id", "sla_clocks", ["task_id"])
    op.create_index("ix_sla_clocks_next_check", "sla_clocks", ["next_check_at"])
    op.drop_column("sla_clocks", "checkpoint_ats")
    op.drop_column("sla_clocks", "checkpoint_pcts")
