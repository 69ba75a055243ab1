"""Firing SLA checkpoints: every warning and breach due by an instant, exactly once.

For the timer of one tenant and the minute sweep alike, one statement per tenant
and chunk (:func:`_fire_statement`) does all of it in PostgreSQL:

1. the due clocks, locked with SKIP LOCKED: the tasks due come from the work index
   (its ``next_check_at`` is the earliest of the task's clocks), their running
   clocks by task. Every other change to a task's clocks locks all of its open
   clocks first (``services._open_clocks``), so it either waits for this firing or
   holds the due clocks this firing then skips: the two never mirror the task's
   instants from a view the other is changing (but for a change that commits in the
   instant between this statement's snapshot and its lock);
2. the checkpoints each has reached and not fired: every clock keeps all of its
   checkpoint instants (``checkpoint_pcts`` / ``checkpoint_ats``, computed in Python
   by ``clock.plan`` whenever the clock changes), so firing only compares instants;
3. the clocks' update (what fired, the highest warning, the breach, the next
   check), and the events inserted with ``ON CONFLICT DO NOTHING`` (the partial
   unique index on clock, kind and threshold keeps each to once, whoever else fires
   it): only what this statement inserted goes on;
4. the work-index mirror (the next check, highest warning, breach and pause of
   each task, from its clocks as they now stand), the breach counts in
   ``bpo.sla_rollups``, and the notifications to the task's assignee and the
   tenant's supervisors, in the order fired.

What it does is what ``clock.fire`` and ``clock.next_check`` define; the tests in
``tests/sla`` hold the two together.
"""

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from sqlalchemy import text
from sqlalchemy.sql.elements import TextClause

from bpo.core.uow import UnitOfWork
from bpo.sla import clock as clocks
from bpo.sla.models import SlaClock
from bpo.sla.services import schedule
from bpo.work.models import WorkItem
from tenants.db import utcnow
from tenants.naming import schema_name

# Targets in notifications ("task #12 first response reached 50 % of its target").
LABELS = {
    "first_response": "first response",
    "next_response": "next response",
    "resolution": "resolution",
    "start_by": "start-by",
}


@dataclass(frozen=True)
class Fired:
    task_id: int
    target: str
    percent: int  # 100: the breach
    at: datetime


@dataclass
class Firing:
    """What one firing did: the checkpoints it fired (not those another worker fired
    first), how many due clocks it read, and the notifications it wrote."""

    fired: list[Fired] = field(default_factory=list)
    read: int = 0
    notifications: list[int] = field(default_factory=list)


def check_due(uow: UnitOfWork, now: datetime, *, limit: int = 5000) -> list[Fired]:
    """Fire every warning and breach of this tenant due by ``now`` (up to ``limit``
    clocks), without notifications; returns those this call fired."""
    return fire_due(uow, now, limit=limit, notify=False).fired


def fire_due(uow: UnitOfWork, now: datetime, *, limit: int = 5000, notify: bool = True) -> Firing:
    """Fire what is due for the unit's tenant by ``now`` (up to ``limit`` clocks; fewer
    read than ``limit``: nothing else is due now) and, if ``notify``, tell the
    assignee and the supervisors. One statement (see the module's docstring)."""
    from bpo.work import index  # the index imports the routing rules; keep this light

    session = uow.session
    session.flush()
    if uow.tenant is None:
        raise ValueError("SLA checkpoints fire in a tenant's unit of work")
    row = session.execute(
        _fire_statement(uow.tenant),
        {
            "tenant": index.tenant_id(uow),
            "now": now,
            "limit": limit,
            "stamp": utcnow(),
            "notify": notify,
        },
    ).one()
    result = Firing(
        fired=[
            Fired(int(task_id), target, int(percent), at)
            for task_id, percent, at, target in zip(
                row.fired_tasks or (),
                row.fired_pcts or (),
                row.fired_ats or (),
                row.fired_targets or (),
                strict=True,
            )
        ],
        read=int(row.read),
        notifications=[int(i) for i in row.notes or ()],
    )
    changed, tasks = set(row.clocks or ()), set(row.tasks or ())
    for obj in list(session.identity_map.values()):  # changed in the database, not here
        if (isinstance(obj, SlaClock) and obj.id in changed) or (
            isinstance(obj, WorkItem) and obj.task_id in tasks
        ):
            session.expire(obj)
    schedule(uow, row.next_checks or ())
    return result


OPEN_STATES = "('running', 'paused')"


@lru_cache(maxsize=4096)
def _fire_statement(slug: str) -> TextClause:
    """The firing, as one statement per tenant (cached; the schema is named from the
    validated slug and quoted, as the translated ORM statements name it)."""
    schema = schema_name(slug)
    labels = " ".join(f"WHEN '{key}' THEN '{label}'" for key, label in LABELS.items())
    breach = clocks.BREACH
    return text(
        f"""
WITH due AS MATERIALIZED (
    SELECT c.id, c.task_id, c.target, c.fired, c.checkpoint_pcts, c.checkpoint_ats
      FROM "{schema}".sla_clocks c
     WHERE c.task_id IN (SELECT w.task_id FROM bpo.work_items w
                          WHERE w.tenant_id = :tenant AND w.next_check_at <= :now)
       AND c.state = 'running' AND c.next_check_at <= :now
     ORDER BY c.next_check_at, c.id
     LIMIT :limit
       FOR UPDATE OF c SKIP LOCKED
), pending AS (
    SELECT d.id, d.task_id, d.target, x.pct, x.at
      FROM due d, unnest(d.checkpoint_pcts, d.checkpoint_ats) AS x(pct, at)
     WHERE NOT d.fired @> to_jsonb(x.pct)
), fired_sets AS (
    SELECT f.id, jsonb_agg(f.pct ORDER BY f.pct) AS fired,
           coalesce(max(f.pct) FILTER (WHERE f.pct < {breach}), 0) AS warned,
           bool_or(f.pct >= {breach}) AS breached
      FROM (SELECT d.id, e.value::integer AS pct
              FROM due d, jsonb_array_elements_text(d.fired) e
            UNION
            SELECT p.id, p.pct FROM pending p WHERE p.at <= :now) f
     GROUP BY f.id
), later AS (
    SELECT p.id, min(p.at) AS next_check FROM pending p WHERE p.at > :now GROUP BY p.id
), clocks_fired AS (
    UPDATE "{schema}".sla_clocks c
       SET fired = coalesce(f.fired, '[]'::jsonb),
           warned = coalesce(f.warned, 0),
           breached = c.breached OR coalesce(f.breached, false),
           next_check_at = l.next_check
      FROM due d
      LEFT JOIN fired_sets f ON f.id = d.id
      LEFT JOIN later l ON l.id = d.id
     WHERE c.id = d.id
    RETURNING c.id, c.task_id, c.state, c.next_check_at, c.warned, c.breached
), events AS (
    INSERT INTO "{schema}".sla_events (task_id, clock_id, kind, threshold, at, data)
    SELECT p.task_id, p.id,
           CASE WHEN p.pct >= {breach} THEN 'breached' ELSE 'warning' END,
           p.pct, p.at, jsonb_build_object('target', p.target)
      FROM pending p
     WHERE p.at <= :now
    ON CONFLICT (clock_id, kind, threshold) WHERE kind IN ('warning', 'breached')
    DO NOTHING
    RETURNING task_id, clock_id, threshold, at, data ->> 'target' AS target
), clocks_now AS (
    SELECT task_id, state, next_check_at, warned, breached FROM clocks_fired
    UNION ALL
    SELECT c.task_id, c.state, c.next_check_at, c.warned, c.breached
      FROM "{schema}".sla_clocks c
     WHERE c.task_id IN (SELECT task_id FROM due) AND c.id NOT IN (SELECT id FROM due)
), instants AS (
    SELECT task_id,
           min(next_check_at) AS next_check,
           coalesce(max(warned) FILTER (WHERE state IN {OPEN_STATES}), 0) AS warned,
           coalesce(bool_or(breached) FILTER (WHERE state IN {OPEN_STATES}), false)
               AS breached,
           coalesce(bool_and(state = 'paused') FILTER (WHERE state IN {OPEN_STATES}), false)
               AS paused
      FROM clocks_now
     GROUP BY task_id
), mirrored AS (
    -- Firing never moves a due instant, so the task rows keep theirs.
    UPDATE bpo.work_items w
       SET next_check_at = i.next_check, sla_warned = i.warned, sla_breached = i.breached,
           sla_paused = i.paused, updated_at = :stamp
      FROM instants i
     WHERE w.tenant_id = :tenant AND w.task_id = i.task_id
    RETURNING w.next_check_at
), rolled_up AS (  -- data-modifying: runs though nothing reads it
    INSERT INTO bpo.sla_rollups AS r (tenant_id, day, kind, target, met, missed, breaches)
    SELECT :tenant, (e.at AT TIME ZONE 'UTC')::date, t.kind, e.target, 0, 0, count(*)
      FROM events e JOIN "{schema}".tasks t ON t.id = e.task_id
     WHERE e.threshold >= {breach}
     GROUP BY 2, 3, 4
    ON CONFLICT (tenant_id, day, kind, target)
    DO UPDATE SET breaches = r.breaches + excluded.breaches
    RETURNING 1
), notes AS (
    INSERT INTO bpo.notifications (staff_id, tenant_id, task_id, kind, message, created_at)
    SELECT r.staff_id, tn.id, e.task_id,
           CASE WHEN e.threshold >= {breach} THEN 'sla_breach' ELSE 'sla_warning' END,
           tn.name || ': task #' || e.task_id || ' '
           || CASE e.target {labels} ELSE e.target END || ' '
           || CASE WHEN e.threshold >= {breach} THEN 'breached'
                   ELSE 'reached ' || e.threshold || ' % of its target' END,
           :stamp
      FROM events e
      JOIN bpo.tenants tn ON tn.id = :tenant
      CROSS JOIN LATERAL (
            SELECT m.staff_id FROM bpo.staff_memberships m
             WHERE m.tenant_id = tn.id AND m.role = 'supervisor'
            UNION
            SELECT w.assignee_id FROM bpo.work_items w
             WHERE w.tenant_id = tn.id AND w.task_id = e.task_id AND w.assignee_id IS NOT NULL
           ) r
     WHERE :notify
     ORDER BY e.at, e.task_id, e.threshold, r.staff_id
    RETURNING id
)
-- One row: what it read, fired, changed and wrote, as arrays (fired in firing order:
-- by instant, then a task's lower checkpoint before its higher one).
SELECT r.read, f.tasks AS fired_tasks, f.pcts AS fired_pcts, f.ats AS fired_ats,
       f.targets AS fired_targets, m.next_checks, c.clocks, c.tasks, n.notes
  FROM (SELECT count(*) AS read FROM due) r,
       (SELECT array_agg(task_id ORDER BY at, task_id, threshold) AS tasks,
               array_agg(threshold ORDER BY at, task_id, threshold) AS pcts,
               array_agg(at ORDER BY at, task_id, threshold) AS ats,
               array_agg(target ORDER BY at, task_id, threshold) AS targets
          FROM events) f,
       (SELECT array_agg(DISTINCT next_check_at) AS next_checks FROM mirrored
         WHERE next_check_at IS NOT NULL) m,
       (SELECT array_agg(id) AS clocks, array_agg(task_id) AS tasks FROM clocks_fired) c,
       (SELECT array_agg(id ORDER BY id) AS notes FROM notes) n
"""  # noqa: S608 (constant fragments and a validated schema name, no input)
    )
