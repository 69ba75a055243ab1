"""Assignment: the one claim that push (routing jobs) and pull ("Next task") share.

A claim is one transaction that

1. locks the agent's profile row and reads what routing needs of them (tenants
   served, overflow groups, skills, capacity, shifts, presence, held load) in one
   statement, so two claims for the same agent never overrun their capacity;
2. checks presence and shift with :mod:`bpo.routing.rules`, and turns the rest of
   the rules (tenant, skills, capacity, declined before, overflow) into the
   ``WHERE`` of one ``UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1)`` on
   the work index, ordered most urgent first (SLA due, priority, age);
3. moves the claimed task in its tenant's schema (audit event included) with one
   cached statement per tenant, in the same transaction.

So no task is ever held by two agents: the index row is the lock, and a claimer
skips rows another claimer holds rather than queueing behind them.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from flask import current_app
from sqlalchemy import text
from sqlalchemy.orm import Session

from bpo.core.actors import SYSTEM, Actor
from bpo.routing import rules
from bpo.work.index import DISPATCH_GRACE
from bpo.work.services import transition_many
from bpo.work.states import Kind, Status
from bpo.workforce.services import HOLDING, IDLE_AFTER
from bpo.workforce.shifts import on_shift, parse_all
from tenants.db import utcnow
from tenants.naming import schema_name

POOL = Status.QUEUED
RETURNABLE = (Status.ASSIGNED, Status.IN_PROGRESS, Status.REJECTED)
NO_LIMIT = 1_000_000  # capacity for a supervisor's assignment beyond capacity


class NotAssignable(Exception):
    """A manual assignment the rules refuse; the message says why, for people."""


@dataclass(frozen=True)
class Claimed:
    """A task just assigned: where it lives and what it weighs."""

    tenant_id: int
    tenant_slug: str
    task_id: int
    kind: str
    type: str
    weight: int
    over_capacity: bool = False


def settings() -> dict[str, Any]:
    """Lease, attempts and skills timeout from the app's config (defaults if unset)."""
    config = current_app.config
    return {
        "lease": timedelta(seconds=config.get("BPO_LEASE_SECONDS", 600)),
        "max_attempts": int(config.get("BPO_MAX_ATTEMPTS", 3)),
        "skills_timeout": timedelta(seconds=config.get("BPO_SKILLS_TIMEOUT_SECONDS", 1800)),
    }


# -- the agent as routing sees them ------------------------------------------------

_AGENT = """
SELECT p.staff_id, p.skills, p.capacity, p.shifts, p.presence, p.presence_at,
       p.last_seen_at, p.last_assigned_at, s.timezone,
       ARRAY(SELECT m.tenant_id FROM bpo.staff_memberships m
             WHERE m.staff_id = p.staff_id AND m.role = 'agent') AS tenants,
       ARRAY(SELECT m.tenant_id FROM bpo.staff_memberships m
             WHERE m.staff_id = p.staff_id AND m.role = 'agent' AND m.overflow) AS overflow,
       (SELECT coalesce(jsonb_object_agg(l.kind, l.units), '{}') FROM (
            SELECT w.kind, sum(w.weight) AS units FROM bpo.work_items w
            WHERE w.assignee_id = p.staff_id AND w.state = ANY(:holding)
            GROUP BY w.kind) l) AS load
FROM bpo.agent_profiles p JOIN bpo.staff_users s ON s.id = p.staff_id
WHERE p.staff_id = ANY(:ids) AND s.active
"""
AGENT_SQL = text(_AGENT)
AGENT_LOCK_SQL = text(_AGENT + " FOR UPDATE OF p")
HOLDING_VALUES = [s.value for s in HOLDING]


def _presence(row: Any, now: datetime) -> rules.Presence:
    presence = rules.Presence(row.presence)
    if presence is rules.Presence.ONLINE:
        seen = row.last_seen_at or row.presence_at
        if now - seen > IDLE_AFTER:
            return rules.Presence.AWAY
    return presence


def _agent(row: Any, now: datetime) -> rules.Agent:
    return rules.Agent(
        id=int(row.staff_id),
        tenants=frozenset(row.tenants),
        presence=_presence(row, now),
        on_shift=on_shift(parse_all(row.shifts), row.timezone, now),
        skills=dict(row.skills),
        capacity=dict(row.capacity),
        load={k: int(v) for k, v in row.load.items()},
        last_assigned_at=row.last_assigned_at,
        overflow_tenants=frozenset(row.overflow),
    )


def agents(
    session: Session, ids: Sequence[int], now: datetime, *, lock: bool = False
) -> list[rules.Agent]:
    """Routing's view of the agents ``ids`` at ``now`` (locking their profiles if asked)."""
    rows = session.execute(
        AGENT_LOCK_SQL if lock else AGENT_SQL, {"ids": list(ids), "holding": HOLDING_VALUES}
    )
    return [_agent(row, now) for row in rows]


def agent(
    session: Session, agent_id: int, now: datetime, *, lock: bool = False
) -> rules.Agent | None:
    found = agents(session, [agent_id], now, lock=lock)
    return found[0] if found else None


AGENTS_SERVING_SQL = text(
    _AGENT.replace(
        "WHERE p.staff_id = ANY(:ids) AND s.active",
        "WHERE p.presence = 'online' AND s.active AND p.staff_id IN ("
        " SELECT m.staff_id FROM bpo.staff_memberships m"
        " WHERE m.tenant_id = :t AND m.role = 'agent')",
    )
)


def agents_serving(session: Session, tenant_id: int, now: datetime) -> list[rules.Agent]:
    """Routing's view of the online agents who serve ``tenant_id`` (one statement)."""
    rows = session.execute(AGENTS_SERVING_SQL, {"t": tenant_id, "holding": HOLDING_VALUES})
    return [_agent(row, now) for row in rows]


# -- the claim ---------------------------------------------------------------------

_CAPACITY = " ".join(f"WHEN '{k.value}' THEN :capacity_{k.value}" for k in Kind)
# Built once from constants (the Kind values and two fixed filters), never from input.
# The agent's load is summed here, not taken from the profile read: that read may
# have waited for the profile lock, and a statement that waited still sees the data
# of its own snapshot (older than the claim it waited for); this statement starts
# after the lock is held, so it sees every claim committed before.
_CLAIM = f"""
WITH held AS MATERIALIZED (
    SELECT kind, sum(weight) AS units FROM bpo.work_items
    WHERE assignee_id = :agent AND state = ANY(:holding)
    GROUP BY kind
), pick AS (
    SELECT tenant_id, task_id FROM bpo.work_items i
    WHERE state = 'queued'
      AND tenant_id = ANY(:tenants)
      AND NOT (CAST(:agent AS bigint) = ANY(declined_by))
      AND (required_skills <@ CAST(:tokens AS varchar[])
           OR (overflow AND tenant_id = ANY(:overflow_tenants)))
      AND weight + coalesce((SELECT h.units FROM held h WHERE h.kind = i.kind), 0)
          <= CASE kind {_CAPACITY} ELSE 0 END
      {{only}}
    ORDER BY sla_due_at NULLS LAST, priority_rank DESC, created_at, task_id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE bpo.work_items w
    SET state = 'assigned', assignee_id = :agent, assigned_at = :now, lease_until = :lease,
        dispatch_due_at = NULL, over_capacity = :over, updated_at = :now
    FROM pick WHERE w.tenant_id = pick.tenant_id AND w.task_id = pick.task_id
    RETURNING w.tenant_id, w.task_id, w.kind, w.type, w.weight
), touched AS (
    UPDATE bpo.agent_profiles SET last_assigned_at = :now
    WHERE staff_id = :agent AND EXISTS (SELECT 1 FROM claimed)
)
SELECT c.tenant_id, t.slug, c.task_id, c.kind, c.type, c.weight
FROM claimed c JOIN bpo.tenants t ON t.id = c.tenant_id
"""  # noqa: S608
CLAIM_ANY = text(_CLAIM.format(only=""))
CLAIM_ONE = text(_CLAIM.format(only="AND tenant_id = :only_tenant AND task_id = :only_task"))


def _claim_params(a: rules.Agent, now: datetime, lease: timedelta) -> dict[str, Any]:
    params: dict[str, Any] = {
        "agent": a.id,
        "tenants": sorted(a.tenants),
        "tokens": rules.skill_tokens(a.skills),
        "overflow_tenants": sorted(a.overflow_tenants),
        "now": now,
        "lease": now + lease,
        "over": False,
        "holding": HOLDING_VALUES,
    }
    for kind in Kind:
        params[f"capacity_{kind.value}"] = a.capacity.get(kind.value, 0)
    return params


@lru_cache(maxsize=4096)
def _assign_in(slug: str) -> Any:
    """The claimed task's own move in its tenant's schema, audit event included.

    :func:`bpo.work.services.transition_many` for exactly one task from the pool
    to ``assigned``, as one prepared text statement per tenant: the claim is the
    platform's hottest path, and building that statement anew costs more than
    running it. ``schema_name`` checks the slug.
    """
    schema = schema_name(slug)
    return text(
        f"""
WITH moved AS (
    UPDATE "{schema}".tasks SET status = 'assigned', updated_at = :at
    WHERE id = :id AND status = 'queued'
    RETURNING id
)
INSERT INTO "{schema}".audit_events
    (at, actor, action, subject_type, subject_id, from_state, to_state, reason, data)
SELECT :at, :actor, 'transition', 'task', moved.id, 'queued', 'assigned', :reason, '{{}}'
FROM moved
RETURNING subject_id
"""  # noqa: S608
    )


def _run_claim(
    session: Session, statement: Any, params: dict[str, Any], actor: Actor, reason: str
) -> Claimed | None:
    row = session.execute(statement, params).one_or_none()
    if row is None:
        return None
    tenant_id, slug, task_id, kind, type_name, weight = row
    moved = (
        session.execute(
            _assign_in(slug), {"at": utcnow(), "id": task_id, "actor": actor.ref, "reason": reason}
        )
        .scalars()
        .all()
    )
    if task_id not in moved:
        # The index said queued but the task is not: never hand out such a task.
        raise RuntimeError(f"work index and task disagree for {slug}/{task_id}")
    return Claimed(tenant_id, slug, int(task_id), kind, type_name, int(weight), params["over"])


def claim_next(
    session: Session,
    agent_id: int,
    now: datetime,
    actor: Actor = SYSTEM,
    *,
    kinds: list[str] | None = None,
) -> Claimed | None:
    """Give agent ``agent_id`` the most urgent pool task they may take, or None.

    The pull path ("Next task", and routing filling an agent who has room), in
    ``kinds`` only if given. Runs in the caller's transaction, which must commit
    for the claim to count.
    """
    a = agent(session, agent_id, now, lock=True)
    if a is None or a.presence is not rules.Presence.ONLINE or not a.on_shift:
        return None
    params = _claim_params(a, now, settings()["lease"])
    for kind in Kind:
        if kinds is not None and kind.value not in kinds:
            params[f"capacity_{kind.value}"] = 0
    return _run_claim(session, CLAIM_ANY, params, actor, f"taken by staff:{a.id}")


def claim_task(
    session: Session, agent_id: int, tenant_id: int, task_id: int, now: datetime
) -> Claimed | None:
    """Assign pool task ``task_id`` to ``agent_id`` if the rules still allow it (push).

    The routing job chose the agent from a snapshot; this re-checks under the
    agent's lock, with the same statement as :func:`claim_next`.
    """
    a = agent(session, agent_id, now, lock=True)
    if a is None or a.presence is not rules.Presence.ONLINE or not a.on_shift:
        return None
    params = _claim_params(a, now, settings()["lease"])
    params.update(only_tenant=tenant_id, only_task=task_id)
    return _run_claim(session, CLAIM_ONE, params, SYSTEM, f"routed to staff:{a.id}")


def assign_by_hand(
    session: Session,
    agent_id: int,
    tenant_id: int,
    task_id: int,
    supervisor: Actor,
    now: datetime,
) -> Claimed:
    """A supervisor's assignment of pool task ``task_id`` to ``agent_id``.

    The agent must serve the tenant and hold the skills; presence, shift and
    capacity may be overridden, and going beyond capacity is flagged on the work
    index row (``over_capacity``). Raises :class:`NotAssignable` saying why not.
    """
    a = agent(session, agent_id, now, lock=True)
    if a is not None:
        # Read again now the lock is held: the locking read may have waited for
        # another claim, and its load is that of its snapshot, from before it.
        a = agent(session, agent_id, now)
    if a is None:
        raise NotAssignable("this person has no agent profile")
    if tenant_id not in a.tenants:
        raise NotAssignable("this agent does not serve this client")
    row = session.execute(
        text(
            "SELECT kind, weight, required_skills, state FROM bpo.work_items"
            " WHERE tenant_id = :t AND task_id = :id FOR UPDATE"
        ),
        {"t": tenant_id, "id": task_id},
    ).one_or_none()
    if row is None or row.state != POOL.value:
        raise NotAssignable("the task is not waiting in the pool")
    missing = set(row.required_skills) - set(rules.skill_tokens(a.skills))
    if missing:
        raise NotAssignable(f"this agent lacks {', '.join(sorted(missing))}")
    params = _claim_params(a, now, settings()["lease"])
    params.update(only_tenant=tenant_id, only_task=task_id, tokens=list(row.required_skills))
    params["over"] = a.spare(row.kind) < row.weight
    for kind in Kind:
        params[f"capacity_{kind.value}"] = NO_LIMIT
    # A supervisor may give back work the agent declined: forget that they did.
    session.execute(
        text(
            "UPDATE bpo.work_items SET declined_by = array_remove(declined_by, :a)"
            " WHERE tenant_id = :t AND task_id = :id"
        ),
        {"a": agent_id, "t": tenant_id, "id": task_id},
    )
    reason = f"assigned to staff:{a.id} by hand" + (" beyond capacity" if params["over"] else "")
    claimed = _run_claim(session, CLAIM_ONE, params, supervisor, reason)
    if claimed is None:
        raise NotAssignable("someone else took the task meanwhile")
    return claimed


def end_work_sessions(
    session: Session, tenant_id: int, task_ids: list[int], how: str, now: datetime
) -> None:
    """Close the open work sessions on these tasks (handle time stops counting)."""
    session.execute(
        text(
            "UPDATE bpo.work_sessions SET ended_at = :now, ended_by = :how"
            " WHERE tenant_id = :t AND task_id = ANY(:ids) AND ended_at IS NULL"
        ),
        {"now": now, "how": how, "t": tenant_id, "ids": task_ids},
    )


# -- giving work back ----------------------------------------------------------------

_RELEASE = """
UPDATE bpo.work_items
SET state = CASE WHEN :count AND attempts + 1 >= :max_attempts THEN 'exception'
                 ELSE 'queued' END,
    attempts = attempts + CASE WHEN :count THEN 1 ELSE 0 END,
    declined_by = CASE WHEN :decline THEN array_append(declined_by, assignee_id)
                       ELSE declined_by END,
    last_error = CASE WHEN :count AND attempts + 1 >= :max_attempts
                      THEN :exhausted ELSE last_error END,
    assignee_id = NULL, lease_until = NULL, assigned_at = NULL, over_capacity = false,
    queued_at = :now, dispatch_due_at = :dispatch, updated_at = :now
WHERE tenant_id = :tenant AND task_id = ANY(:ids) AND state = ANY(:states)
  AND (CAST(:agent AS bigint) IS NULL OR assignee_id = :agent)
RETURNING task_id, state, kind
"""
RELEASE_SQL = text(_RELEASE)


@dataclass(frozen=True)
class Returned:
    """Tasks given back to the pool (or, out of attempts, to ``exception``)."""

    tenant_slug: str
    queued: dict[str, list[int]]  # kind -> task ids back in the pool
    exception: list[int]


def give_back(
    session: Session,
    tenant_id: int,
    tenant_slug: str,
    task_ids: Iterable[int],
    actor: Actor,
    reason: str,
    now: datetime,
    *,
    states: Iterable[Status] = (Status.ASSIGNED,),
    agent_id: int | None = None,
    count_attempt: bool = True,
    decline: bool = False,
) -> Returned:
    """Return held tasks to the pool keeping their age (``created_at`` is untouched).

    Each return counts an attempt (unless ``count_attempt`` is false); a task out
    of attempts goes to ``exception`` for a supervisor instead. ``decline`` remembers
    the agent so routing does not hand it straight back to them. Only tasks in
    ``states`` (and held by ``agent_id``, if given) are touched.
    """
    config = settings()
    rows = session.execute(
        RELEASE_SQL,
        {
            "tenant": tenant_id,
            "ids": list(task_ids),
            "states": [s.value for s in states],
            "agent": agent_id,
            "count": count_attempt,
            "decline": decline,
            "max_attempts": config["max_attempts"],
            "exhausted": f"returned {config['max_attempts']} times; last: {reason}"[:500],
            "now": now,
            "dispatch": now + DISPATCH_GRACE,  # the route job deferred by the caller, else us
        },
    ).all()
    queued: dict[str, list[int]] = {}
    exception: list[int] = []
    for task_id, state, kind in rows:
        if state == Status.EXCEPTION.value:
            exception.append(int(task_id))
        else:
            queued.setdefault(kind, []).append(int(task_id))
    back = [i for ids in queued.values() for i in ids]
    if rows:
        end_work_sessions(session, tenant_id, [int(r[0]) for r in rows], "returned", now)
    moved = transition_many(session, tenant_slug, back, states, Status.QUEUED, actor, reason)
    moved.update(
        transition_many(
            session,
            tenant_slug,
            exception,
            states,
            Status.EXCEPTION,
            actor,
            f"{reason}; out of attempts, a supervisor must look at it",
        )
    )
    if len(moved) != len(rows):
        raise RuntimeError(f"work index and tasks disagree in {tenant_slug}")
    return Returned(tenant_slug, queued, exception)
