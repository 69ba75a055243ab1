"""a routing job's first step as a function of the tenant's schema, planned once

Revision ID: t0007
Revises: t0006
Create Date: 2026-12-06 22:30:00

A routing job moved its new tasks into the pool with one statement sent from
Python, prepared on the server. PostgreSQL judged its generic plan no better than a
fresh one and planned the statement again on every job: half of a routing step's
time in PostgreSQL. ``queue_for_routing`` runs the same statement with
``plan_cache_mode = force_generic_plan``, so it is planned once per connection
(``bpo.work.models.QUEUE_FOR_ROUTING``, which provisioning uses for new tenants).
"""

from collections.abc import Sequence

from alembic import op

from tenants.migrations import tenant_schema

revision: str = "t0007"
down_revision: str | None = "t0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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


def upgrade() -> None:
    op.execute(QUEUE_FOR_ROUTING.replace("{schema}", tenant_schema()))


def downgrade() -> None:
    op.execute(
        f"DROP FUNCTION {tenant_schema()}.queue_for_routing(text, bigint[], timestamptz, text, text)"
    )
