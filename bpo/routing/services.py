"""Assignment: the one claim that push (routing jobs) and pull ("Next task") share.

A claim is one statement, ``bpo.claim_work`` (migrations s0006, s0009, s0010), in
the caller's transaction, that

1. locks the agent's profile row and reads in that statement what routing needs of
   them (tenants served, overflow groups, skill tokens, capacity, units held, the
   week's shifts, presence), so two claims for the same agent never overrun their
   capacity;
2. checks presence and shift, and turns the rest of the rules of
   :mod:`bpo.routing.rules` (tenant, skills, capacity, declined before, overflow)
   into the ``WHERE`` of a ``SELECT … FOR UPDATE SKIP LOCKED LIMIT 1`` on the work
   index, ordered most urgent first (SLA due, priority, age);
3. assigns the index row (a trigger books its units on the profile) and moves the
   task in its tenant's schema, audit event included.

So no task is ever held by two agents: the index row is the lock, and a claimer
skips rows another claimer holds rather than queueing behind them. The rules live
in Python too (manual checks, the supervisor's pages, and the tests that hold the
SQL to them).
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import text
from sqlalchemy.orm import Session

from bpo.core import prepared
from bpo.core.actors import SYSTEM, Actor
from bpo.routing import rules
from bpo.work.index import DISPATCH_GRACE
from bpo.work.services import transition_many
from bpo.work.states import Status
from bpo.work.types import TYPES
from bpo.workforce.services import IDLE_AFTER, idle_presence
from bpo.workforce.shifts import on_shift, parse_all

POOL = Status.QUEUED
RETURNABLE = (Status.ASSIGNED, Status.IN_PROGRESS, Status.REJECTED)


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

# The profile as routing reads it: tenants served, overflow groups, and the units held
# (``held``, kept by the work index's trigger; migration s0010).
AGENT_SQL = text(
    """
SELECT p.staff_id, p.skills::text AS skills, p.capacity::text AS capacity,
       p.shifts::text AS shifts, p.presence, p.presence_at,
       p.last_seen_at, p.last_assigned_at, s.timezone,
       ARRAY(SELECT m.tenant_id FROM bpo.staff_memberships m
             WHERE m.staff_id = p.staff_id AND m.role = 'agent') AS tenants,
       ARRAY(SELECT m.tenant_id FROM bpo.staff_memberships m
             WHERE m.staff_id = p.staff_id AND m.role = 'agent' AND m.overflow) AS overflow,
       p.held AS load
  FROM bpo.agent_profiles p JOIN bpo.staff_users s ON s.id = p.staff_id
 WHERE p.staff_id = ANY(:ids) AND s.active
"""
)


def _agent(row: Mapping[Any, Any], now: datetime) -> rules.Agent:
    """An agent as the rules see them at ``now``, from a row of :data:`AGENT_SQL`."""
    return rules.Agent(
        id=int(row["staff_id"]),
        tenants=frozenset(row["tenants"]),
        presence=idle_presence(
            rules.Presence(row["presence"]), row["last_seen_at"], row["presence_at"], now
        ),
        on_shift=on_shift(parse_all(json.loads(row["shifts"])), row["timezone"], now),
        skills=json.loads(row["skills"]),
        capacity=json.loads(row["capacity"]),
        load={k: int(v) for k, v in row["load"].items()},
        last_assigned_at=row["last_assigned_at"],
        overflow_tenants=frozenset(row["overflow"]),
    )


def agents(session: Session, ids: Sequence[int], now: datetime) -> list[rules.Agent]:
    """Routing's view of the agents ``ids`` at ``now`` (active staff with a profile)."""
    rows = session.execute(AGENT_SQL, {"ids": list(ids)})
    return [_agent(row._mapping, now) for row in rows]


def agent(session: Session, agent_id: int, now: datetime) -> rules.Agent | None:
    found = agents(session, [agent_id], now)
    return found[0] if found else None


# -- the claim ---------------------------------------------------------------------

# One round trip: ``bpo.claim_work`` (migrations s0006, s0009, s0010) locks the
# agent's profile and reads in that statement what routing needs of it (units held
# included: the lock waits for anyone changing them), checks presence and shift
# (``bpo.on_shift``, the SQL twin of :func:`bpo.workforce.shifts.on_shift`), picks
# the most urgent pool task the agent may take with FOR UPDATE SKIP LOCKED, updates
# the index row (whose trigger books the units on the profile), and moves the task
# in its tenant's schema with its audit event.
CLAIM_SQL = (
    "SELECT tenant_id, slug, task_id, kind, type, weight, over_capacity FROM bpo.claim_work("
    "%(agent)s, %(now)s, %(lease)s, %(idle)s, CAST(%(kinds)s AS text[]), %(only_tenant)s,"
    " %(only_task)s, %(manual)s, %(actor)s, %(reason)s)"
)

# The push in the same round trip: ``bpo.push_work`` (migrations s0009, s0010)
# chooses the best agent for one pool task as :func:`bpo.routing.rules.candidates`
# orders them (skipping ``exclude``) and claims it for them through ``bpo.claim_work``.
PUSH_SQL = (
    "SELECT agent_id, tenant_id, slug, task_id, kind, type, weight, over_capacity"
    " FROM bpo.push_work(%(tenant)s, %(task)s, %(now)s, %(lease)s, %(idle)s,"
    " CAST(%(exclude)s AS bigint[]))"
)


@dataclass(frozen=True)
class Pushed:
    """The agent a push chose, and their claim (None: the claim refused meanwhile)."""

    agent_id: int
    claimed: Claimed | None


def push(
    session: Session,
    tenant_id: int,
    task_id: int,
    now: datetime,
    exclude: Sequence[int] = (),
) -> Pushed | None:
    """Give pool task ``task_id`` to the best agent who may take it, except ``exclude``
    (push). None: nobody may, or the task is no longer in the pool. Runs in the
    caller's transaction, which must commit for the claim to count."""
    row = prepared.row(
        session,
        PUSH_SQL,
        {
            "tenant": tenant_id,
            "task": task_id,
            "now": now,
            "lease": now + settings()["lease"],
            "idle": IDLE_AFTER,
            "exclude": list(exclude),
        },
    )
    if row is None:
        return None
    return Pushed(int(row.agent_id), _claimed(row) if row.task_id is not None else None)


def _claimed(row: Any) -> Claimed:
    return Claimed(
        int(row.tenant_id),
        row.slug,
        int(row.task_id),
        row.kind,
        row.type,
        int(row.weight),
        bool(row.over_capacity),
    )


def _claim(
    session: Session,
    agent_id: int,
    now: datetime,
    actor: Actor,
    reason: str,
    *,
    kinds: list[str] | None = None,
    only: tuple[int, int] | None = None,
    manual: bool = False,
) -> Claimed | None:
    row = prepared.row(
        session,
        CLAIM_SQL,
        {
            "agent": agent_id,
            "now": now,
            "lease": now + settings()["lease"],
            "idle": IDLE_AFTER,
            "kinds": kinds,
            "only_tenant": only[0] if only else None,
            "only_task": only[1] if only else None,
            "manual": manual,
            "actor": actor.ref,
            "reason": reason,
        },
    )
    return None if row is None else _claimed(row)


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
    return _claim(session, agent_id, now, actor, f"taken by staff:{agent_id}", kinds=kinds)


def claim_task(
    session: Session, agent_id: int, tenant_id: int, task_id: int, now: datetime
) -> Claimed | None:
    """Assign pool task ``task_id`` to ``agent_id`` if the rules still allow it (push).

    The routing job chose the agent from a snapshot; the claim re-checks everything
    under the agent's lock, with the same function as :func:`claim_next`.
    """
    return _claim(
        session, agent_id, now, SYSTEM, f"routed to staff:{agent_id}", only=(tenant_id, task_id)
    )


def assign_by_hand(
    session: Session,
    agent_id: int,
    tenant_id: int,
    task_id: int,
    supervisor: Actor,
    now: datetime,
) -> Claimed:
    """A supervisor's assignment of pool task ``task_id`` to ``agent_id``.

    The agent must serve the tenant and hold the skills; presence, shift, capacity
    and an earlier decline may be overridden, and going beyond capacity is flagged
    on the work index row (``over_capacity``). Raises :class:`NotAssignable` saying
    why not (checked first, so the reasons are for people; the claim checks again).
    """
    a = agent(session, agent_id, now)
    if a is None:
        raise NotAssignable("this person has no agent profile")
    if tenant_id not in a.tenants:
        raise NotAssignable("this agent does not serve this client")
    row = session.execute(
        text(
            "SELECT kind, weight, required_skills, state FROM bpo.work_items"
            " WHERE tenant_id = :t AND task_id = :id"
        ),
        {"t": tenant_id, "id": task_id},
    ).one_or_none()
    if row is None or row.state != POOL.value:
        raise NotAssignable("the task is not waiting in the pool")
    missing = set(row.required_skills) - set(rules.skill_tokens(a.skills))
    if missing:
        raise NotAssignable(f"this agent lacks {', '.join(_skill_words(missing))}")
    over = a.spare(row.kind) < row.weight
    reason = f"assigned to staff:{a.id} by hand" + (" beyond capacity" if over else "")
    claimed = _claim(
        session, agent_id, now, supervisor, reason, only=(tenant_id, task_id), manual=True
    )
    if claimed is None:
        raise NotAssignable("someone else took the task meanwhile")
    return claimed


def _skill_words(tokens: Iterable[str]) -> list[str]:
    """Skill tokens for people: ``support.ticket@2`` → ``Support ticket at level 2``
    (the highest level missing per type)."""
    top: dict[str, int] = {}
    for token in tokens:
        skill, level = token.rsplit("@", 1)
        top[skill] = max(top.get(skill, 0), int(level))
    return [
        f"{TYPES[s].label if s in TYPES else s} at level {level}"
        for s, level in sorted(top.items())
    ]


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
    moved = transition_many(session, tenant_slug, back, states, Status.QUEUED, actor, reason, now)
    moved.update(
        transition_many(
            session,
            tenant_slug,
            exception,
            states,
            Status.EXCEPTION,
            actor,
            f"{reason}; out of attempts, a supervisor must look at it",
            now,
        )
    )
    if len(moved) != len(rows):
        raise RuntimeError(f"work index and tasks disagree in {tenant_slug}")
    return Returned(tenant_slug, queued, exception)
