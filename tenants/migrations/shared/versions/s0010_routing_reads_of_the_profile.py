"""what routing asks of every agent, kept with the profile: week, skills, units held

Revision ID: s0010
Revises: s0009
Create Date: 2026-12-06 20:10:00

Each claim asked ``bpo.on_shift`` to read the agent's weekly plan out of JSON and
``bpo.skill_tokens`` to spell out their skills, and a push asked both of every
candidate: together about 0.2 ms of a 0.9 ms claim, the second a SQL function
PostgreSQL parses afresh on every call. Both are functions of the profile alone, so
they are now kept on it, maintained by a trigger whenever ``shifts`` or ``skills``
change (nothing else can write them):

* ``shift_week``: the plan as seconds of the week in the agent's wall-clock time
  (Monday 00:00 is 0), an ``int4multirange``; an overnight shift is two ranges
  when it runs past Sunday midnight into Monday. ``bpo.on_shift`` is now one
  containment test of the instant's second of the week where the agent lives.
* ``skill_tokens``: ``type@level`` for every level held (``rules.skill_tokens``).

Likewise the units an agent holds per kind, which every claim summed over their
held tasks and a push over every candidate's (a push cost twice a claim with 30
tasks held each): ``held`` is now kept on the profile by a trigger on the work
index, which moves a row's units between profiles whenever its state, assignee,
kind or weight changes, and stamps ``last_assigned_at`` when a row comes to an
agent. The claim reads ``held`` in the statement that locks the profile; the lock
waits for any transaction changing it, so it reads the current figure.

The claim and the push also plan their statements once per connection
(``plan_cache_mode = force_generic_plan``): PostgreSQL otherwise planned the
claim's statements afresh on each call, its estimate of the generic plan being
no better than a fresh one. For the same reason the claim moves the task through
the tenant schema's own ``assign_from_pool`` (tenant revision t0006) rather than
dynamic SQL, which was parsed and planned on every claim (a third of its time);
``bpo db upgrade`` applies the tenant tree right after this one. ``tests/routing/test_push_sql.py`` still holds both
to their Python definitions.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "s0010"
down_revision: str | None = "s0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# shifts.on_shift's plan as seconds of the week [start, end) in wall-clock time; a
# shift whose end is not after its start runs to its end on the next day.
SHIFT_WEEK = r"""
CREATE FUNCTION bpo.shift_week(p_shifts jsonb) RETURNS int4multirange
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT coalesce(range_agg(r), '{}'::int4multirange)
      FROM jsonb_array_elements(p_shifts) s,
           LATERAL (SELECT (array_position(ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat',
                                                 'sun'], lower(left(s ->> 'day', 3))) - 1)
                           * 86400 AS day,
                           extract(epoch FROM (s ->> 'start')::time)::integer AS start_at,
                           extract(epoch FROM (s ->> 'end')::time)::integer AS end_at) x,
           LATERAL (VALUES
               (int4range(x.day + x.start_at,
                          x.day + CASE WHEN x.end_at > x.start_at THEN x.end_at
                                       ELSE 86400 END)),
               -- the overnight part after midnight (next day, Sunday's into Monday)
               (CASE WHEN x.end_at <= x.start_at AND x.end_at > 0
                     THEN int4range((x.day + 86400) % 604800,
                                    (x.day + 86400) % 604800 + x.end_at) END)) v(r)
     WHERE r IS NOT NULL
$fn$;
"""

# One expression, so PostgreSQL inlines it into the statements that call it.
ON_SHIFT = r"""
CREATE FUNCTION bpo.on_shift(p_week int4multirange, p_zone text, p_at timestamptz)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
    SELECT p_week @> floor(extract(epoch FROM (p_at AT TIME ZONE p_zone)
                                    - date_trunc('week', p_at AT TIME ZONE p_zone)))::integer
$fn$;
"""

DERIVED = r"""
CREATE FUNCTION bpo.agent_profile_derived() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.shift_week := bpo.shift_week(NEW.shifts);
    NEW.skill_tokens := bpo.skill_tokens(NEW.skills);
    RETURN NEW;
END
$fn$;
CREATE TRIGGER agent_profile_derived
    BEFORE INSERT OR UPDATE OF shifts, skills ON bpo.agent_profiles
    FOR EACH ROW EXECUTE FUNCTION bpo.agent_profile_derived();
"""

# What an agent holds, per kind, kept on their profile by the work index itself: any
# change of a row's state, assignee, kind or weight (or a row inserted or deleted)
# moves the units between profiles, so nothing that writes the index can forget it.
# A row that comes to an agent also stamps their last assignment.
HELD = r"""
CREATE FUNCTION bpo.held_plus(p_held jsonb, p_kind text, p_units integer) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT p_held || jsonb_build_object(p_kind, coalesce((p_held ->> p_kind)::integer, 0) + p_units)
$fn$;
CREATE FUNCTION bpo.work_items_held() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    was boolean := TG_OP <> 'INSERT' AND OLD.assignee_id IS NOT NULL
                   AND OLD.state IN ('assigned', 'in_progress', 'waiting_on_client', 'rejected');
    holds boolean := TG_OP <> 'DELETE' AND NEW.assignee_id IS NOT NULL
                     AND NEW.state IN ('assigned', 'in_progress', 'waiting_on_client', 'rejected');
BEGIN
    IF was AND holds AND OLD.assignee_id = NEW.assignee_id AND OLD.kind = NEW.kind
       AND OLD.weight = NEW.weight THEN
        RETURN NULL;
    END IF;
    IF was THEN
        UPDATE bpo.agent_profiles SET held = bpo.held_plus(held, OLD.kind, -OLD.weight)
         WHERE staff_id = OLD.assignee_id;
    END IF;
    IF holds THEN
        UPDATE bpo.agent_profiles
           SET held = bpo.held_plus(held, NEW.kind, NEW.weight),
               last_assigned_at = CASE WHEN was AND OLD.assignee_id = NEW.assignee_id
                                       THEN last_assigned_at
                                       ELSE coalesce(NEW.assigned_at, NEW.updated_at) END
         WHERE staff_id = NEW.assignee_id;
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER work_items_held AFTER INSERT OR DELETE ON bpo.work_items
    FOR EACH ROW EXECUTE FUNCTION bpo.work_items_held();
CREATE TRIGGER work_items_held_moves AFTER UPDATE OF state, assignee_id, kind, weight
    ON bpo.work_items FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id
          OR OLD.kind IS DISTINCT FROM NEW.kind OR OLD.weight IS DISTINCT FROM NEW.weight)
    EXECUTE FUNCTION bpo.work_items_held();
"""

HELD_NOW = """
UPDATE bpo.agent_profiles p SET held = coalesce((
    SELECT jsonb_object_agg(l.kind, l.units) FROM (
        SELECT w.kind, sum(w.weight) AS units FROM bpo.work_items w
         WHERE w.assignee_id = p.staff_id
           AND w.state IN ('assigned', 'in_progress', 'waiting_on_client', 'rejected')
         GROUP BY w.kind) l), '{}')
"""

# The claim: as in s0009, but the agent's row carries all it needs (week, skill
# tokens, units held), and the index row's trigger books the units and the time.
CLAIM_WORK = r"""
CREATE OR REPLACE FUNCTION bpo.claim_work(
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
) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    me record;
    picked record;
    over boolean := false;
    moved integer;
BEGIN
    -- 1. The agent, locked: two claims for one agent queue here, never overrun. The
    --    lock waits for any change of what they hold, so ``held`` is current.
    SELECT p.skill_tokens, p.capacity, p.held, p.presence, p.presence_at, p.last_seen_at,
           p.shift_week, s.timezone,
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
        AND bpo.on_shift(me.shift_week, me.timezone, p_now)
    ) THEN
        RETURN;
    END IF;
    -- 3. The most urgent pool task the agent may take, skipping rows others hold.
    IF p_only_task IS NULL THEN
        SELECT w.tenant_id, w.task_id, w.kind, w.type, w.weight INTO picked
          FROM bpo.work_items w
         WHERE w.state = 'queued'
           AND w.tenant_id = ANY(me.tenants)
           AND NOT (p_agent = ANY(w.declined_by))
           AND (w.required_skills <@ me.skill_tokens
                OR (w.overflow AND w.tenant_id = ANY(me.overflow)))
           AND (p_kinds IS NULL OR w.kind = ANY(p_kinds))
           AND w.weight <= coalesce((me.capacity ->> w.kind)::integer, 0)
                           - coalesce((me.held ->> w.kind)::integer, 0)
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
           AND (w.required_skills <@ me.skill_tokens
                OR (w.overflow AND w.tenant_id = ANY(me.overflow)))
           AND (p_manual OR w.weight <= coalesce((me.capacity ->> w.kind)::integer, 0)
                                        - coalesce((me.held ->> w.kind)::integer, 0))
           FOR UPDATE SKIP LOCKED;
    END IF;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    over := picked.weight > coalesce((me.capacity ->> picked.kind)::integer, 0)
                            - coalesce((me.held ->> picked.kind)::integer, 0);
    -- 4. The index row (its trigger books the units and the time on the profile).
    UPDATE bpo.work_items w
       SET state = 'assigned', assignee_id = p_agent, assigned_at = p_now,
           lease_until = p_lease, dispatch_due_at = NULL, over_capacity = over,
           declined_by = array_remove(w.declined_by, p_agent), updated_at = p_now
     WHERE w.tenant_id = picked.tenant_id AND w.task_id = picked.task_id;
    -- 5. The task's own move in its tenant's schema, with its audit event, by the
    --    schema's function (t0006): planned once per connection, not per claim.
    SELECT t.slug INTO slug FROM bpo.tenants t WHERE t.id = picked.tenant_id;
    EXECUTE format('SELECT %I.assign_from_pool($1, $2, $3, $4, $5)', 'tenant_' || slug)
       INTO moved
      USING p_agent, p_now, picked.task_id, p_actor, p_reason;
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
# locking at that instant (so two routing jobs do not queue for one agent). Returns
# no row when nobody may take the task (or it is no longer in the pool); else a row
# naming the agent, with the claim's columns NULL if the claim refused (another job
# took the task or the agent's room meanwhile).
PUSH_WORK = r"""
CREATE OR REPLACE FUNCTION bpo.push_work(
    p_tenant bigint,
    p_task bigint,
    p_now timestamptz,
    p_lease timestamptz,
    p_idle_after interval,
    p_exclude bigint[]
) RETURNS TABLE (
    agent_id bigint, tenant_id bigint, slug text, task_id bigint, kind text, type text,
    weight integer, over_capacity boolean
) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    work record;
    c record;
    best bigint;
    first_choice bigint;
BEGIN
    SELECT w.kind, w.weight, w.required_skills, w.overflow, w.declined_by INTO work
      FROM bpo.work_items w
     WHERE w.tenant_id = p_tenant AND w.task_id = p_task AND w.state = 'queued';
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- Everyone else who may take it, best first.
    FOR c IN
        SELECT r.staff_id FROM (
            SELECT p.staff_id, p.last_assigned_at,
                   coalesce((p.capacity ->> work.kind)::integer, 0)
                   - coalesce((p.held ->> work.kind)::integer, 0) AS spare
              FROM bpo.staff_memberships m
              JOIN bpo.agent_profiles p ON p.staff_id = m.staff_id
              JOIN bpo.staff_users s ON s.id = p.staff_id
             WHERE m.tenant_id = p_tenant AND m.role = 'agent' AND s.active
               AND p.presence = 'online'
               AND coalesce(p.last_seen_at, p.presence_at) >= p_now - p_idle_after
               AND bpo.on_shift(p.shift_week, s.timezone, p_now)
               AND NOT (p.staff_id = ANY(work.declined_by))
               AND NOT (p.staff_id = ANY(p_exclude))
               AND (work.required_skills <@ p.skill_tokens
                    OR (work.overflow AND m.overflow))
        ) r
         WHERE r.spare >= work.weight
         ORDER BY r.spare DESC, r.last_assigned_at NULLS FIRST, r.staff_id
    LOOP
        -- The best one whose profile no other claim holds right now (as claims skip
        -- the tasks others hold); if every one is held, the best, waiting.
        PERFORM 1 FROM bpo.agent_profiles p WHERE p.staff_id = c.staff_id
           FOR UPDATE SKIP LOCKED;
        IF FOUND THEN
            best := c.staff_id;
            EXIT;
        END IF;
        first_choice := coalesce(first_choice, c.staff_id);
    END LOOP;
    best := coalesce(best, first_choice);
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

OLD_ON_SHIFT = "bpo.on_shift(jsonb, text, timestamptz)"


def upgrade() -> None:
    op.execute(SHIFT_WEEK)
    op.execute(
        "ALTER TABLE bpo.agent_profiles"
        " ADD COLUMN shift_week int4multirange NOT NULL DEFAULT '{}',"
        " ADD COLUMN skill_tokens varchar[] NOT NULL DEFAULT '{}',"
        " ADD COLUMN held jsonb NOT NULL DEFAULT '{}'"
    )
    op.execute(DERIVED)
    op.execute("UPDATE bpo.agent_profiles SET shifts = shifts")  # fills both in
    op.execute("LOCK TABLE bpo.work_items IN SHARE MODE")  # no change between count and trigger
    op.execute(HELD)
    op.execute(HELD_NOW)
    op.execute(ON_SHIFT)
    op.execute(CLAIM_WORK)
    op.execute(PUSH_WORK)
    op.execute(f"DROP FUNCTION {OLD_ON_SHIFT}")


def downgrade() -> None:
    from tenants.migrations.shared.versions import s0009_push_in_the_database as s0009

    op.execute("DROP FUNCTION bpo.on_shift(int4multirange, text, timestamptz)")
    op.execute(s0009.ON_SHIFT)
    for source in (s0009.CLAIM_WORK, s0009.PUSH_WORK):
        op.execute(source.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute("DROP TRIGGER work_items_held ON bpo.work_items")
    op.execute("DROP TRIGGER work_items_held_moves ON bpo.work_items")
    op.execute("DROP FUNCTION bpo.work_items_held()")
    op.execute("DROP FUNCTION bpo.held_plus(jsonb, text, integer)")
    op.execute("DROP TRIGGER agent_profile_derived ON bpo.agent_profiles")
    op.execute("DROP FUNCTION bpo.agent_profile_derived()")
    op.execute(
        "ALTER TABLE bpo.agent_profiles"
        " DROP COLUMN shift_week, DROP COLUMN skill_tokens, DROP COLUMN held"
    )
    op.execute("DROP FUNCTION bpo.shift_week(jsonb)")
