"""the claim's move in the tenant's schema, as a function of the schema's own

Revision ID: t0006
Revises: t0005
Create Date: 2026-12-06 20:40:00

``bpo.claim_work`` moved the claimed task (and wrote its audit event) with dynamic
SQL naming the tenant's schema, which PostgreSQL parsed and planned on every claim.
``assign_from_pool`` does the same with the schema written into it, so it is
planned once per connection (``bpo.work.models.ASSIGN_FROM_POOL``, which
provisioning uses for new tenants; the shared revision s0010's claim calls it).
"""

from collections.abc import Sequence

from alembic import op

from tenants.migrations import tenant_schema

revision: str = "t0006"
down_revision: str | None = "t0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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


def upgrade() -> None:
    op.execute(ASSIGN_FROM_POOL.replace("{schema}", tenant_schema()))


def downgrade() -> None:
    op.execute(
        f"DROP FUNCTION {tenant_schema()}.assign_from_pool(bigint, timestamptz, bigint, text, text)"
    )
