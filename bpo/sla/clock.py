"""One SLA clock's life, as pure functions (no database; the caller passes instants).

A clock measures one target of one task (first response, next response,
resolution, start-by) in business time on the calendar it started with. It runs,
pauses (the task waits on the client), resumes, and stops when met or cancelled.
Paused business time is *credited*: the due instant moves out by exactly the
business time spent paused, so moving between two paused statuses neither resets
nor double-counts, and stopping from a paused state deducts the pause.

While it runs, a clock's *checkpoints* are the instants its warnings (a share of
the target, e.g. 50, 75, 90 %) and its breach fall due, precomputed so a sweep
only compares instants. A breach stays a breach: meeting the target later still
records it as breached.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from bpo.sla.engine import Calendar, business_seconds_between, due_at

State = Literal["running", "paused", "met", "cancelled"]
BREACH = 100  # the breach is the checkpoint at 100 % of the target


@dataclass(frozen=True)
class Clock:
    target: str
    target_seconds: int
    thresholds: tuple[int, ...]  # warning percentages, ascending, each below 100
    started_at: datetime
    state: State = "running"
    paused_since: datetime | None = None
    paused_seconds: float = 0.0  # business seconds credited for pauses so far
    stopped_at: datetime | None = None
    fired: tuple[int, ...] = ()  # checkpoints already fired (percentages; 100 = breach)

    @property
    def breached(self) -> bool:
        return BREACH in self.fired

    @property
    def is_open(self) -> bool:
        return self.state in ("running", "paused")


def start(target: str, seconds: int, thresholds: tuple[int, ...], at: datetime) -> Clock:
    levels = tuple(sorted({t for t in thresholds if 0 < t < BREACH}))
    return Clock(target, int(seconds), levels, at)


def checkpoint_at(calendar: Calendar, clock: Clock, percent: int) -> datetime:
    """When ``percent`` of the target is used up, given the pauses credited so far."""
    used = clock.target_seconds * percent / 100 + clock.paused_seconds
    return due_at(calendar, clock.started_at, used)


def due(calendar: Calendar, clock: Clock) -> datetime:
    return checkpoint_at(calendar, clock, BREACH)


def checkpoints(calendar: Calendar, clock: Clock) -> list[tuple[int, datetime]]:
    """The checkpoints still to fire, soonest first (none while paused or stopped)."""
    if clock.state != "running":
        return []
    levels = (*clock.thresholds, BREACH)
    return [(p, checkpoint_at(calendar, clock, p)) for p in levels if p not in clock.fired]


def plan(calendar: Calendar, clock: Clock) -> list[tuple[int, datetime]]:
    """Every checkpoint of the clock as it runs now, fired or not, in level order
    (none while paused or stopped): what the database keeps so that firing only
    compares instants (``sla_clocks.checkpoint_pcts`` / ``checkpoint_ats``)."""
    if clock.state != "running":
        return []
    return [(p, checkpoint_at(calendar, clock, p)) for p in (*clock.thresholds, BREACH)]


def first_pending(points: list[tuple[int, datetime]], fired: tuple[int, ...]) -> datetime | None:
    """The instant of the first of ``points`` (level order) not in ``fired``."""
    return next((at for p, at in points if p not in fired), None)


def next_check(calendar: Calendar, clock: Clock) -> datetime | None:
    return first_pending(checkpoints(calendar, clock), clock.fired)


def due_now(calendar: Calendar, clock: Clock, now: datetime) -> list[int]:
    """Checkpoints whose instant has come by ``now`` and have not fired yet."""
    return [p for p, when in checkpoints(calendar, clock) if when <= now]


def fire(clock: Clock, percents: list[int]) -> Clock:
    return replace(clock, fired=tuple(sorted({*clock.fired, *percents})))


def pause(clock: Clock, at: datetime) -> Clock:
    """Stop the clock running at ``at``; pausing a paused clock changes nothing."""
    if clock.state != "running":
        return clock
    return replace(clock, state="paused", paused_since=at)


def resume(calendar: Calendar, clock: Clock, at: datetime) -> Clock:
    """Run again from ``at``, crediting the business time spent paused."""
    if clock.state != "paused" or clock.paused_since is None:
        return clock
    credit = max(0.0, business_seconds_between(calendar, clock.paused_since, at))
    return replace(
        clock, state="running", paused_since=None, paused_seconds=clock.paused_seconds + credit
    )


def stop(calendar: Calendar, clock: Clock, at: datetime, how: State = "met") -> Clock:
    """Meet (or cancel) the clock at ``at``; from a pause, the pause is deducted first.

    Met after its due instant, it is breached even if no sweep got to fire the
    breach before (the caller records that breach event).
    """
    if not clock.is_open:
        return clock
    running = resume(calendar, clock, at)
    if how == "met" and not running.breached and due(calendar, running) < at:
        running = fire(running, [BREACH])
    return replace(running, state=how, stopped_at=at)


def elapsed(calendar: Calendar, clock: Clock, now: datetime) -> float:
    """Business seconds used of the target at ``now`` (pauses not counted)."""
    end = clock.stopped_at or clock.paused_since or now
    used = business_seconds_between(calendar, clock.started_at, end)
    return max(0.0, used - clock.paused_seconds)


def used_share(calendar: Calendar, clock: Clock, now: datetime) -> float:
    """The share of the target used at ``now`` (1.0 = due; above = breached)."""
    if clock.target_seconds <= 0:
        return 1.0
    return elapsed(calendar, clock, now) / clock.target_seconds


def retarget(clock: Clock, seconds: int, thresholds: tuple[int, ...]) -> Clock:
    """A new target (priority changed): same start, same pause credit, and what has
    fired stays fired (a breach stays a breach)."""
    levels = tuple(sorted({t for t in thresholds if 0 < t < BREACH}))
    return replace(clock, target_seconds=int(seconds), thresholds=levels)
