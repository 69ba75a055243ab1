"""The assignment rules of DESIGN section 6, as pure functions (no database, no Flask).

Push (the routing job) and pull ("next task") both decide with these, so an agent
never receives by one path what the other would refuse:

* an agent **may** take a task when they serve its tenant, are online and on shift,
  have not declined it before, hold every required skill at the required level (or
  the task is past its skills timeout and they are in the tenant's overflow group),
  and have spare capacity for its weight in its kind of work (assigned, in-progress
  and waiting tasks all count);
* among those who may, the task goes to the one with the **most spare capacity**,
  then the one **longest since their last assignment** (never assigned: first);
* an agent with room is filled **most urgent first**: SLA due soonest (none: last),
  then higher priority, then older.
"""

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime


class Presence(enum.StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


@dataclass(frozen=True)
class Agent:
    """What routing needs to know of an agent at one instant."""

    id: int
    tenants: frozenset[int]
    presence: Presence
    on_shift: bool
    skills: Mapping[str, int]  # skill -> level 1..5
    capacity: Mapping[str, int]  # kind of work -> weighted units
    load: Mapping[str, int] = field(default_factory=dict)  # kind -> units in use
    last_assigned_at: datetime | None = None
    overflow_tenants: frozenset[int] = frozenset()  # tenants whose overflow group they are in

    def spare(self, kind: str) -> int:
        return self.capacity.get(kind, 0) - self.load.get(kind, 0)

    def taking(self, work: "Work", at: datetime) -> "Agent":
        """This agent after being given ``work`` at ``at``."""
        load = {**self.load, work.kind: self.load.get(work.kind, 0) + work.weight}
        return replace(self, load=load, last_assigned_at=at)


@dataclass(frozen=True)
class Work:
    """What routing needs to know of a task in the pool."""

    tenant_id: int
    task_id: int
    kind: str
    weight: int
    required: Mapping[str, int]  # skill -> minimum level
    priority_rank: int  # higher is more urgent
    created_at: datetime
    sla_due_at: datetime | None = None
    overflow: bool = False  # past the skills timeout
    declined_by: frozenset[int] = frozenset()


URGENT_RANK = 3  # Priority.URGENT.rank; urgent work asks one skill level more


def required_skills(task_type: str, base_level: int, priority_rank: int) -> dict[str, int]:
    """The skills a task needs: its own type at the type's level, one more if urgent."""
    bump = 1 if priority_rank >= URGENT_RANK else 0
    return {task_type: min(5, base_level + bump)}


def required_tokens(required: Mapping[str, int]) -> list[str]:
    """``required`` as the work index stores it: ``["<skill>@<level>", ...]``."""
    return sorted(f"{skill}@{level}" for skill, level in required.items())


def skill_tokens(skills: Mapping[str, int]) -> list[str]:
    """Every token an agent's skills satisfy: level 3 satisfies ``@1``, ``@2`` and ``@3``.

    A task's required tokens contained in these (PostgreSQL's ``<@``) is exactly
    "every required skill at the required level", so SQL and :func:`refusal` agree.
    """
    return sorted(
        f"{skill}@{level}" for skill, top in skills.items() for level in range(1, top + 1)
    )


def refusal(agent: Agent, work: Work) -> str | None:
    """Why ``agent`` may not take ``work`` (None: they may). Reasons are for people."""
    if work.tenant_id not in agent.tenants:
        return "does not serve this client"
    if agent.presence is not Presence.ONLINE:
        return f"is {agent.presence.value}"
    if not agent.on_shift:
        return "is not on shift"
    if agent.id in work.declined_by:
        return "declined it before"
    if not (work.overflow and work.tenant_id in agent.overflow_tenants):
        for skill, level in work.required.items():
            if agent.skills.get(skill, 0) < level:
                return f"needs {skill} at level {level}"
    if agent.spare(work.kind) < work.weight:
        return "has no spare capacity for it"
    return None


def may_take(agent: Agent, work: Work) -> bool:
    return refusal(agent, work) is None


def _longest_idle(agent: Agent) -> tuple[int, float]:
    """Sort key: never assigned first, then the earliest last assignment."""
    if agent.last_assigned_at is None:
        return (0, 0.0)
    return (1, agent.last_assigned_at.timestamp())


def candidates(agents: Iterable[Agent], work: Work) -> list[Agent]:
    """Everyone who may take ``work``, best first."""
    allowed = [a for a in agents if may_take(a, work)]
    return sorted(allowed, key=lambda a: (-a.spare(work.kind), _longest_idle(a), a.id))


def choose(agents: Iterable[Agent], work: Work) -> Agent | None:
    """Who gets ``work`` (None: it waits in the pool)."""
    best = candidates(agents, work)
    return best[0] if best else None


def urgency(work: Work) -> tuple[int, float, int, float, int]:
    """Sort key, most urgent first: SLA due (none last), priority, age, then id."""
    due = (0, work.sla_due_at.timestamp()) if work.sla_due_at else (1, 0.0)
    return (*due, -work.priority_rank, work.created_at.timestamp(), work.task_id)


def fill(agent: Agent, pool: Iterable[Work], at: datetime) -> tuple[Agent, list[Work]]:
    """Give ``agent`` what they may take from ``pool``, most urgent first, up to capacity.

    Returns the agent as they are afterwards and the work given, in order.
    """
    given: list[Work] = []
    for work in sorted(pool, key=urgency):
        if may_take(agent, work):
            agent = agent.taking(work, at)
            given.append(work)
    return agent, given
