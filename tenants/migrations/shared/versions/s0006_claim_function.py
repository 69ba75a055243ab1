"""the claim as one server-side function: bpo.claim_work

Revision ID: s0006
Revises: s0005
Create Date: 2026-12-01 19:00:00

Push, pull and manual assignment all call ``bpo.claim_work``; one round trip does
what took four (the agent's lock and state, the SKIP LOCKED pick on the work index,
the index and profile updates, the task's move and audit event in its tenant's
schema). See ``bpo/routing/services.py`` for the rules it applies and why.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "s0006"
down_revision: str | None = "s0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Statuses that hold an agent's capacity (bpo.workforce.services.HOLDING).
CLAIM_WORK = r"""
CREATE OR REPLACE FUNCTION bpo.claim_work(
    p_agent bigint,
    p_now timestamptz,
    p_lease timestamptz,
    p_idle_after interval,
    p_on_shift boolean,
    p_kinds text[],
    p_only_tenant bigint,
    p_only_task bigint,
    p_manual boolean,
    p_actor text,
    p_reason text
) RETURNS TABLE (
    tenant_id bigint, slug text, task_id bigint, kind text, type text, weight integer,
    over_capacity boolean
) LANGUAGE plpgsql AS $fn$
DECLARE
    me record;
    held jsonb;
    tokens varchar[];
    picked record;
    over boolean := false;
    moved integer;
BEGIN
    -- 1. The agent, locked: two claims for one agent queue here, never overrun.
    SELECT p.skills, p.capacity, p.presence, p.presence_at, p.last_seen_at,
           ARRAY(SELECT m.tenant_id FROM bpo.staff_memberships m
                 WHERE m.staff_id = p.staff_id AND m.role = 'agent') AS tenants,
           ARRAY(SELECT m.tenant_id FROM bpo.staff_memberships m
                 WHERE m.staff_id = p.staff_id AND m.role = 'agent' AND m.overflow)
               AS overflow
      INTO me
      FROM bpo.agent_profiles p JOIN bpo.staff_users s ON s.id = p.staff_id
     WHERE p.staff_id = p_agent AND s.active
       FOR UPDATE OF p;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- 2. Online (not idle into away) and on shift, unless a supervisor assigns.
    IF NOT p_manual AND NOT (
        me.presence = 'online'
        AND coalesce(me.last_seen_at, me.presence_at) >= p_now - p_idle_after
        AND p_on_shift
    ) THEN
        RETURN;
    END IF;
    -- 3. Held load per kind, read after the lock: it sees every claim committed before.
    SELECT coalesce(jsonb_object_agg(l.kind, l.units), '{}'::jsonb) INTO held
      FROM (SELECT w.kind, sum(w.weight) AS units FROM bpo.work_items w
             WHERE w.assignee_id = p_agent
               AND w.state IN ('assigned', 'in_progress', 'waiting_on_client', 'rejected')
             GROUP BY w.kind) l;
    -- Level 3 in a type holds the tokens type@1, type@2 and type@3.
    tokens := ARRAY(SELECT (e.key || '@' || g)::varchar
                      FROM jsonb_each_text(me.skills) e,
                           generate_series(1, e.value::integer) g);
    -- 4. The most urgent pool task the agent may take, skipping rows others hold.
    IF p_only_task IS NULL THEN
        SELECT w.tenant_id, w.task_id, w.kind, w.type, w.weight INTO picked
          FROM bpo.work_items w
         WHERE w.state = 'queued'
           AND w.tenant_id = ANY(me.tenants)
           AND NOT (p_agent = ANY(w.declined_by))
           AND (w.required_skills <@ tokens
                OR (w.overflow AND w.tenant_id = ANY(me.overflow)))
           AND (p_kinds IS NULL OR w.kind = ANY(p_kinds))
           AND w.weight <= coalesce((me.capacity ->> w.kind)::integer, 0)
                           - coalesce((held ->> w.kind)::integer, 0)
         ORDER BY w.sla_due_at NULLS LAST, w.priority_rank DESC, w.created_at, w.task_id
         LIMIT 1
           FOR UPDATE SKIP LOCKED;
    ELSE
        SELECT w.tenant_id, w.task_id, w.kind, w.type, w.weight INTO picked
          FROM bpo.work_items w
         WHERE w.tenant_id = p_only_tenant AND w.task_id = p_only_task
           AND w.state = 'queued'
           AND w.tenant_id = ANY(me.tenants)
           AND (p_manual OR NOT (p_agent = ANY(w.declined_by)))
           AND (w.required_skills <@ tokens
                OR (w.overflow AND w.tenant_id = ANY(me.overflow)))
           AND (p_manual OR w.weight <= coalesce((me.capacity ->> w.kind)::integer, 0)
                                        - coalesce((held ->> w.kind)::integer, 0))
           FOR UPDATE SKIP LOCKED;
    END IF;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    over := picked.weight > coalesce((me.capacity ->> picked.kind)::integer, 0)
                            - coalesce((held ->> picked.kind)::integer, 0);
    -- 5. The index row and the agent's last assignment.
    UPDATE bpo.work_items w
       SET state = 'assigned', assignee_id = p_agent, assigned_at = p_now,
           lease_until = p_lease, dispatch_due_at = NULL, over_capacity = over,
           declined_by = array_remove(w.declined_by, p_agent), updated_at = p_now
     WHERE w.tenant_id = picked.tenant_id AND w.task_id = picked.task_id;
    UPDATE bpo.agent_profiles SET last_assigned_at = p_now WHERE staff_id = p_agent;
    -- 6. The task's own move in its tenant's schema, with its audit event.
    SELECT t.slug INTO slug FROM bpo.tenants t WHERE t.id = picked.tenant_id;
    EXECUTE format(
        'WITH moved AS (UPDATE %1$I.tasks SET status = ''assigned'', assignee_id = $1,'
        ' updated_at = $2 WHERE id = $3 AND status = ''queued'' RETURNING id)'
        ' INSERT INTO %1$I.audit_events (at, actor, action, subject_type, subject_id,'
        ' from_state, to_state, reason, data)'
        ' SELECT $2, $4, ''transition'', ''task'', id, ''queued'', ''assigned'', $5,'
        ' ''{}''::jsonb FROM moved',
        'tenant_' || slug)
      USING p_agent, p_now, picked.task_id, p_actor, p_reason;
    GET DIAGNOSTICS moved = ROW_COUNT;
    IF moved <> 1 THEN
        RAISE EXCEPTION 'work index and task disagree for %/%', slug, picked.task_id;
    END IF;
    tenant_id := picked.tenant_id;
    task_id := picked.task_id;
    kind := picked.kind;
    type := picked.type;
    weight := picked.weight;
    over_capacity := over;
    RETURN NEXT;
END
$fn$;
"""


def upgrade() -> None:
    op.execute(CLAIM_WORK)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION IF EXISTS bpo.claim_work(bigint, timestamptz, timestamptz, interval,"
        " boolean, text[], bigint, bigint, boolean, text, text)"
    )
