"""The client's SLA report: attainment per month and kind, and every breach.

Everything comes from the tenant's own ``sla_clocks`` (the caller's unit of work is
bound to one tenant; nothing here reads another schema or the shared rollups).

* **Attainment** counts closed clocks only: state ``met`` (a cancelled clock measured
  nothing). A clock is *in time* when it was met without a breach; met after its
  breach fired, it counts as missed. Months are calendar months of the instant the
  clock stopped, in the viewer's time zone.
* **Breaches**: every breached clock, open or closed, newest first: its task, the
  target, when it breached (the breach event's instant, else the due instant), how
  late in business time (until it was met, or until ``now`` while still open), and
  the latest reason in the task's history up to the breach, when there is one.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Date, and_, cast, func, select

from bpo.audit.models import AuditEvent
from bpo.core.uow import UnitOfWork
from bpo.sla import clock as clocks
from bpo.sla.models import SlaClock, SlaEvent
from bpo.sla.services import calendar_of, pure
from bpo.work.csvio import safe_cell
from bpo.work.models import Task
from bpo.work.schemas import public_reason
from bpo.work.states import Kind

TARGET_LABELS = {
    "first_response": "First response",
    "next_response": "Next response",
    "resolution": "Resolution",
    "start_by": "Start by",
}
ATTAINMENT_COLUMNS = ("month", "kind", "met_in_time", "closed", "attainment_percent")
BREACH_COLUMNS = (
    "task_id",
    "task_title",
    "kind",
    "target",
    "breached_at",
    "late_business_seconds",
    "clock",
    "reason",
    "history_reason",
)


def duration(seconds: float | None) -> str:
    """Business time for people: ``45 min``, ``2 h 05 min``, ``3 h``; ``—`` for None."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"


@dataclass(frozen=True)
class Attainment:
    month: date  # the first day of the month, in the viewer's zone
    kind: str
    met: int  # met in time
    closed: int  # all met clocks

    @property
    def kind_label(self) -> str:
        return Kind(self.kind).label

    @property
    def percent(self) -> float | None:
        """Share met in time, in percent to one decimal (None without closed clocks)."""
        return round(100 * self.met / self.closed, 1) if self.closed else None


@dataclass(frozen=True)
class Breach:
    task_id: int
    title: str
    kind: str
    target: str
    round: int
    target_seconds: int
    breached_at: datetime
    late_seconds: float  # business time past the target (until met, or until now)
    is_open: bool
    history_reason: str | None

    @property
    def target_label(self) -> str:
        label = TARGET_LABELS.get(self.target, self.target)
        return f"{label} (reply {self.round})" if self.target == "next_response" else label

    @property
    def reason(self) -> str:
        """The target and how late, in words."""
        tail = " and counting (still open)" if self.is_open else ""
        return (
            f"{self.target_label} target of {duration(self.target_seconds)} missed by "
            f"{duration(self.late_seconds)} of business time{tail}"
        )


def attainment(uow: UnitOfWork, zone: ZoneInfo) -> list[Attainment]:
    """Met clocks per month (in ``zone``) and kind of work, newest month first."""
    month = cast(func.date_trunc("month", func.timezone(zone.key, SlaClock.stopped_at)), Date)
    rows = uow.session.execute(
        select(
            month.label("month"),
            Task.kind,
            func.count().filter(~SlaClock.breached).label("met"),
            func.count().label("closed"),
        )
        .join(Task, Task.id == SlaClock.task_id)
        .where(SlaClock.state == "met", SlaClock.stopped_at.is_not(None))
        .group_by(month, Task.kind)
        .order_by(month.desc(), Task.kind)
    ).all()
    return [Attainment(m, kind.value, int(met), int(closed)) for m, kind, met, closed in rows]


def breach_count(uow: UnitOfWork) -> int:
    return int(
        uow.session.scalar(select(func.count()).select_from(SlaClock).where(SlaClock.breached)) or 0
    )


def breaches(uow: UnitOfWork, now: datetime, *, limit: int | None = None) -> list[Breach]:
    """Breached clocks, the most recent breach first (at most ``limit``)."""
    session = uow.session
    breached_at = func.coalesce(SlaEvent.at, SlaClock.due_at)
    query = (
        select(SlaClock, Task.title, Task.kind, breached_at.label("breached_at"))
        .join(Task, Task.id == SlaClock.task_id)
        .outerjoin(SlaEvent, and_(SlaEvent.clock_id == SlaClock.id, SlaEvent.kind == "breached"))
        .where(SlaClock.breached)
        .order_by(breached_at.desc().nulls_last(), SlaClock.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query).all()
    reasons = _history_reasons(uow, {row.task_id for row, *_ in rows})
    found = []
    for row, title, kind, when in rows:
        when = when or row.started_at
        value = pure(row)
        used = clocks.elapsed(calendar_of(row.calendar), value, now)
        found.append(
            Breach(
                task_id=row.task_id,
                title=title,
                kind=kind.value,
                target=row.target,
                round=row.round,
                target_seconds=row.target_seconds,
                breached_at=when,
                late_seconds=max(0.0, used - row.target_seconds),
                is_open=value.is_open,
                history_reason=_latest_before(reasons.get(row.task_id, ()), when),
            )
        )
    return found


def _history_reasons(
    uow: UnitOfWork, task_ids: Iterable[int]
) -> dict[int, list[tuple[datetime, str]]]:
    ids = sorted(task_ids)
    if not ids:
        return {}
    found: dict[int, list[tuple[datetime, str]]] = {}
    for task_id, at, reason in uow.session.execute(
        select(AuditEvent.subject_id, AuditEvent.at, AuditEvent.reason)
        .where(
            AuditEvent.subject_type == "task",
            AuditEvent.subject_id.in_(ids),
            AuditEvent.reason.is_not(None),
            AuditEvent.reason != "",
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    ):
        if task_id is not None and reason:  # the client reads it: no staff references
            found.setdefault(int(task_id), []).append((at, public_reason(reason) or ""))
    return found


def _latest_before(reasons: Sequence[tuple[datetime, str]], when: datetime) -> str | None:
    earlier = [reason for at, reason in reasons if at <= when]
    return earlier[-1] if earlier else None


# -- CSV ---------------------------------------------------------------------------


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()


def attainment_csv(rows: Iterable[Attainment]) -> str:
    return _csv(
        ATTAINMENT_COLUMNS,
        (
            (
                r.month.strftime("%Y-%m"),
                r.kind,
                r.met,
                r.closed,
                "" if r.percent is None else f"{r.percent:.1f}",
            )
            for r in rows
        ),
    )


def breaches_csv(rows: Iterable[Breach], zone: ZoneInfo) -> str:
    """Breaches with their instants in ``zone`` (ISO 8601 with the offset)."""
    return _csv(
        BREACH_COLUMNS,
        (
            (
                b.task_id,
                b.title,
                b.kind,
                b.target_label,
                b.breached_at.astimezone(zone).isoformat(timespec="seconds"),
                round(b.late_seconds),
                "still running" if b.is_open else "stopped late",
                b.reason,
                b.history_reason or "",
            )
            for b in rows
        ),
    )
