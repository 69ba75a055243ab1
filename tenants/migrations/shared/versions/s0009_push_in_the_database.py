"""shifts in SQL, and the push (choosing the agent) in the claim's round trip

Revision ID: s0009
Revises: s0008
Create Date: 2026-12-02 01:40:00

``bpo.on_shift`` reads a weekly shift plan in the agent's zone, as
``bpo.workforce.shifts.on_shift`` does, so ``bpo.claim_work`` decides the shift
itself (it took it from Python, from a copy of the plan up to 10 s old).
``bpo.push_work`` chooses the best agent for one pool task by the rules of
``bpo.routing.rules`` (may take it; then most spare capacity, then longest since
the last assignment) and claims it for them with ``bpo.claim_work``: a routing
job no longer reads every candidate agent into Python to pick one.
``tests/routing/test_push_sql.py`` holds both to their Python definitions.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "s0009"
down_revision: str | None = "s0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Both helpers are one expression each (a SELECT without FROM), so PostgreSQL inlines
# them into the statements that call them and plans them once with those.

# Level 3 in a type holds the tokens type@1, type@2 and type@3 (rules.skill_tokens).
SKILL_TOKENS = r"""
CREATE OR REPLACE FUNCTION bpo.skill_tokens(p_skills jsonb) RETURNS varchar[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT ARRAY(SELECT (e.key || '@' || g)::varchar
                   FROM jsonb_each_text(p_skills) e, generate_series(1, e.value::integer) g)
$fn$;
"""

# shifts.on_shift: ``p_at`` as wall-clock time in ``p_zone``; a shift whose end is not
# after its start runs past midnight (from yesterday's shift into today).
ON_SHIFT = r"""
CREATE OR REPLACE FUNCTION bpo.on_shift(p_shifts jsonb, p_zone text, p_at timestamptz)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
    SELECT EXISTS (
        SELECT 1
          FROM (SELECT p_at AT TIME ZONE p_zone AS t) l,
               jsonb_array_elements(p_shifts) s,
               LATERAL (SELECT array_position(ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat',
                                                    'sun'], lower(left(s ->> 'day', 3))) AS day,
                               (s ->> 'start')::time AS start_at,
                               (s ->> 'end')::time AS end_at) x
         WHERE (x.day = extract(isodow FROM l.t)
                AND l.t::time >= x.start_at
                AND (x.end_at <= x.start_at OR l.t::time < x.end_at))
            OR (x.day = (extract(isodow FROM l.t)::integer + 5) % 7 + 1
                AND x.end_at <= x.start_at AND l.t::time < x.end_at))
$fn$;
"""

CLAIM_WORK = r"""
CREATE FUNCTION bpo.claim_work(
    p_agent bigint,
    p_now timestamptz,
    p_lease timestamptz,
    p_idle_after interval,
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
    SELECT p.skills, p.capacity, p.presence, p.presence_at, p.last_seen_at, p.shifts,
           s.timezone,
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
        AND bpo.on_shift(me.shifts, me.timezone, p_now)
    ) THEN
        RETURN;
    END IF;
    -- 3. Held load per kind, read after the lock: it sees every claim committed before.
    SELECT coalesce(jsonb_object_agg(l.kind, l.units), '{}'::jsonb) INTO held
      FROM (SELECT w.kind, sum(w.weight) AS units FROM bpo.work_items w
             WHERE w.assignee_id = p_agent
               AND w.state IN ('assigned', 'in_progress', 'waiting_on_client', 'rejected')
             GROUP BY w.kind) l;
    tokens := bpo.skill_tokens(me.skills);
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

# The push: rules.candidates in SQL (without those in p_exclude, tried already), and
# the best one's claim; under concurrent routing, the best one no other claim is
# locking at that instant (so two routing jobs do not queue for one agent). Returns no row when nobody may take the task (or it is no
# longer in the pool); else a row naming the agent, with the claim's columns NULL if
# the claim refused (another job took the task or the agent's room meanwhile).
PUSH_WORK = r"""
CREATE FUNCTION bpo.push_work(
    p_tenant bigint,
    p_task bigint,
    p_now timestamptz,
    p_lease timestamptz,
    p_idle_after interval,
    p_exclude bigint[]
) RETURNS TABLE (
    agent_id bigint, tenant_id bigint, slug text, task_id bigint, kind text, type text,
    weight integer, over_capacity boolean
) LANGUAGE plpgsql AS $fn$
DECLARE
    work record;
    c record;
    best bigint;
    first_on_shift bigint;
BEGIN
    SELECT w.kind, w.weight, w.required_skills, w.overflow, w.declined_by INTO work
      FROM bpo.work_items w
     WHERE w.tenant_id = p_tenant AND w.task_id = p_task AND w.state = 'queued';
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- Everyone else who may take it, best first; the shift (the dearest rule to
    -- check) is asked of the best ones only, until one is on shift.
    FOR c IN
        SELECT r.staff_id, r.shifts, r.timezone FROM (
            SELECT p.staff_id, p.last_assigned_at, p.shifts, s.timezone,
                   coalesce((p.capacity ->> work.kind)::integer, 0)
                   - coalesce((SELECT sum(x.weight) FROM bpo.work_items x
                                WHERE x.assignee_id = p.staff_id AND x.kind = work.kind
                                  AND x.state IN ('assigned', 'in_progress',
                                                  'waiting_on_client', 'rejected')), 0)
                       AS spare
              FROM bpo.staff_memberships m
              JOIN bpo.agent_profiles p ON p.staff_id = m.staff_id
              JOIN bpo.staff_users s ON s.id = p.staff_id
             WHERE m.tenant_id = p_tenant AND m.role = 'agent' AND s.active
               AND p.presence = 'online'
               AND coalesce(p.last_seen_at, p.presence_at) >= p_now - p_idle_after
               AND NOT (p.staff_id = ANY(work.declined_by))
               AND NOT (p.staff_id = ANY(p_exclude))
               AND (work.required_skills <@ bpo.skill_tokens(p.skills)
                    OR (work.overflow AND m.overflow))
        ) r
         WHERE r.spare >= work.weight
         ORDER BY r.spare DESC, r.last_assigned_at NULLS FIRST, r.staff_id
    LOOP
        IF bpo.on_shift(c.shifts, c.timezone, p_now) THEN
            -- The best one whose profile no other claim holds right now (as claims
            -- skip the tasks others hold); if every one is held, the best, waiting.
            PERFORM 1 FROM bpo.agent_profiles p WHERE p.staff_id = c.staff_id
               FOR UPDATE SKIP LOCKED;
            IF FOUND THEN
                best := c.staff_id;
                EXIT;
            END IF;
            first_on_shift := coalesce(first_on_shift, c.staff_id);
        END IF;
    END LOOP;
    best := coalesce(best, first_on_shift);
    IF best IS NULL THEN
        RETURN;
    END IF;
    agent_id := best;
    SELECT * INTO tenant_id, slug, task_id, kind, type, weight, over_capacity
      FROM bpo.claim_work(best, p_now, p_lease, p_idle_after, NULL, p_tenant, p_task, false,
                          'system', 'routed to staff:' || best);
    RETURN NEXT;
END
$fn$;
"""

OLD_CLAIM = (
    "bpo.claim_work(bigint, timestamptz, timestamptz, interval, boolean, text[], bigint,"
    " bigint, boolean, text, text)"
)
NEW_CLAIM = (
    "bpo.claim_work(bigint, timestamptz, timestamptz, interval, text[], bigint, bigint,"
    " boolean, text, text)"
)


def upgrade() -> None:
    op.execute(SKILL_TOKENS)
    op.execute(ON_SHIFT)
    op.execute(f"DROP FUNCTION IF EXISTS {OLD_CLAIM}")
    op.execute(CLAIM_WORK)
    op.execute(PUSH_WORK)


def downgrade() -> None:
    from tenants.migrations.shared.versions.s0006_claim_function import CLAIM_WORK as OLD

    op.execute(
        "DROP FUNCTION IF EXISTS bpo.push_work(bigint, bigint, timestamptz, timestamptz,"
        " interval, bigint[])"
    )
    op.execute(f"DROP FUNCTION IF EXISTS {NEW_CLAIM}")
    op.execute(OLD)
    op.execute("DROP FUNCTION IF EXISTS bpo.on_shift(jsonb, text, timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS bpo.skill_tokens(jsonb)")
