"""the claim moves the task through its tenant schema's own function

Revision ID: s0011
Revises: s0010
Create Date: 2026-12-06 20:40:00

``bpo.claim_work`` (s0010) moved the claimed task with dynamic SQL naming the
tenant's schema, parsed and planned on every claim: a third of the claim's time in
PostgreSQL. It now calls ``<schema>.assign_from_pool`` (tenant revision t0006),
whose statement is planned once per connection. The rest of the claim is s0010's.
"""

from collections.abc import Sequence

from alembic import op

from tenants.migrations.shared.versions import s0010_routing_reads_of_the_profile as s0010

revision: str = "s0011"
down_revision: str | None = "s0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DYNAMIC_MOVE = """    EXECUTE format(
        'WITH moved AS (UPDATE %1$I.tasks SET status = ''assigned'', assignee_id = $1,'
        ' updated_at = $2 WHERE id = $3 AND status = ''queued'' RETURNING id)'
        ' INSERT INTO %1$I.audit_events (at, actor, action, subject_type, subject_id,'
        ' from_state, to_state, reason, data)'
        ' SELECT $2, $4, ''transition'', ''task'', id, ''queued'', ''assigned'', $5,'
        ' ''{}''::jsonb FROM moved',
        'tenant_' || slug)
      USING p_agent, p_now, picked.task_id, p_actor, p_reason;
    GET DIAGNOSTICS moved = ROW_COUNT;
"""

FUNCTION_MOVE = """    EXECUTE format('SELECT %I.assign_from_pool($1, $2, $3, $4, $5)', 'tenant_' || slug)
       INTO moved
      USING p_agent, p_now, picked.task_id, p_actor, p_reason;
"""

assert DYNAMIC_MOVE in s0010.CLAIM_WORK
CLAIM_WORK = s0010.CLAIM_WORK.replace(DYNAMIC_MOVE, FUNCTION_MOVE).replace(
    "-- 5. The task's own move in its tenant's schema, with its audit event.",
    "-- 5. The task's own move in its tenant's schema, with its audit event, by the\n"
    "    --    schema's function (t0006): planned once per connection, not per claim.",
)


def upgrade() -> None:
    op.execute(CLAIM_WORK)


def downgrade() -> None:
    op.execute(s0010.CLAIM_WORK)
