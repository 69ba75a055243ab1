"""The rows of the SLA dashboard's tables (see :mod:`bpo.reporting.dashboard`)."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

# Backlog buckets by age since the task was created: (label, lower bound, upper bound).
BUCKETS: tuple[tuple[str, timedelta, timedelta | None], ...] = (
    ("<1h", timedelta(0), timedelta(hours=1)),
    ("1-4h", timedelta(hours=1), timedelta(hours=4)),
    ("4-24h", timedelta(hours=4), timedelta(hours=24)),
    ("1-3d", timedelta(days=1), timedelta(days=3)),
    (">3d", timedelta(days=3), None),
)


def ratio(part: int, whole: int) -> float | None:
    """``part / whole``, or None when there is nothing to divide (shown as "—")."""
    return part / whole if whole else None


@dataclass(frozen=True)
class QueueRow:
    """Open work of one tenant and kind: waiting in the pool (new or queued), in
    someone's hands (assigned, in progress, waiting on the client, rejected, in
    review), in exception; and since when the oldest waiting task waits."""

    tenant_id: int
    tenant: str
    kind: str
    waiting: int
    in_hand: int
    exceptions: int
    open: int
    oldest_waiting_since: datetime | None
    oldest_waiting_seconds: int | None


@dataclass(frozen=True)
class AtRiskRow:
    """An open task past a warning threshold and not breached; ``seconds_left`` is
    wall-clock time to its earliest running due instant (negative: overdue, the
    breach not yet recorded)."""

    tenant_id: int
    slug: str
    tenant: str
    task_id: int
    kind: str
    type: str
    state: str
    assignee_id: int | None
    assignee: str | None
    warned: int
    due_at: datetime | None
    seconds_left: int | None
    paused: bool
    title: str = ""


@dataclass(frozen=True)
class BreachRow:
    """Breaches fired today (UTC) for one tenant and kind, and clocks met or missed."""

    tenant_id: int
    tenant: str
    kind: str
    breaches: int
    met: int
    missed: int


@dataclass(frozen=True)
class AgentLoad:
    """An agent online now serving an overseen tenant.

    ``busy_seconds``: handle time in work sessions within the last 60 minutes;
    ``occupancy`` = busy_seconds / 3600. ``utilization`` = capacity units held
    (weights of assigned, in-progress, waiting and rejected work, every client) /
    capacity units (all kinds), None without capacity.
    """

    agent_id: int
    name: str
    held_units: int
    capacity_units: int
    utilization: float | None
    busy_seconds: int
    occupancy: float


@dataclass(frozen=True)
class AttainmentRow:
    """met / (met + missed) over the last 7 and 30 UTC days (today included)."""

    tenant_id: int
    tenant: str
    met_7: int
    missed_7: int
    attainment_7: float | None
    met_30: int
    missed_30: int
    attainment_30: float | None


@dataclass(frozen=True)
class BacklogRow:
    """Open tasks of one tenant by age since creation, one count per bucket of BUCKETS."""

    tenant_id: int
    tenant: str
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class TrendPoint:
    """Attainment of all overseen tenants on one UTC day (None: nothing closed)."""

    day: date
    met: int
    missed: int
    attainment: float | None


@dataclass
class Overview:
    """Every table of the dashboard as plain rows."""

    now: datetime
    today: date
    queues: list[QueueRow] = field(default_factory=list)
    at_risk: list[AtRiskRow] = field(default_factory=list)
    at_risk_total: int = 0
    breaches_today: list[BreachRow] = field(default_factory=list)
    agents: list[AgentLoad] = field(default_factory=list)
    attainment: list[AttainmentRow] = field(default_factory=list)
    backlog: list[BacklogRow] = field(default_factory=list)
    trend: list[TrendPoint] = field(default_factory=list)

    @property
    def backlog_totals(self) -> list[tuple[str, int]]:
        """(bucket label, open tasks) summed over the tenants."""
        return [
            (label, sum(row.counts[i] for row in self.backlog))
            for i, (label, _, _) in enumerate(BUCKETS)
        ]
