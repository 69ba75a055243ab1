"""The supervisor's SLA dashboard: every figure across the tenants they oversee.

Each table is one set-based statement over the shared schema for all tenants at
once (queue depth and the backlog share one scan of the index): the work index
(``bpo.work_items``), work sessions and ``bpo.sla_rollups``. No tenant schema is
read for a figure and no statement runs per tenant (DESIGN.md section 10: tenant
schemas may live on different nodes). Only the titles of the at-risk rows shown
come from the tenants' own schemas, in :func:`with_titles`, one bounded query per
tenant that has such a row.

All instants are aware UTC; "today" is the UTC day of ``now``. The functions take
``now`` rather than reading the clock, so tests state exactly what they expect.
"""

from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    any_,
    bindparam,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from bpo.identity.models import MembershipRole, StaffMembership, StaffUser
from bpo.reporting.rows import (
    BUCKETS,
    AgentLoad,
    AtRiskRow,
    AttainmentRow,
    BacklogRow,
    BreachRow,
    Overview,
    QueueRow,
    TrendPoint,
    ratio,
)
from bpo.routing.rules import Presence
from bpo.sla.models import SlaRollup
from bpo.work.models import Task, WorkItem, WorkSession
from bpo.work.states import Status
from bpo.workforce.models import AgentProfile
from bpo.workforce.services import HOLDING, IDLE_AFTER
from tenants.binding import make_session
from tenants.models import Tenant

AT_RISK_LIMIT = 50  # rows shown; the total is counted in the same statement
OCCUPANCY_WINDOW = timedelta(minutes=60)
WAITING = (Status.NEW, Status.QUEUED)
IN_HAND = (*HOLDING, Status.IN_REVIEW)
TREND_DAYS = 30


def overview(session: Session, tenant_ids: list[int], now: datetime) -> Overview:
    """The dashboard of ``tenant_ids`` at ``now`` (five statements for any number)."""
    ids = sorted(set(tenant_ids))
    names = dict(
        session.execute(select(Tenant.id, Tenant.name).where(_among(Tenant.id, ids))).all()
    )
    result = Overview(now=now, today=now.date())
    if not ids:
        return result
    result.queues, result.backlog = _queues(session, ids, names, now)
    result.at_risk, result.at_risk_total = _at_risk(session, ids, now)
    result.agents = _agents(session, ids, now)
    result.breaches_today, result.attainment, result.trend = _rollups(
        session, ids, names, result.today
    )
    return result


def _among(column: Any, ids: list[int]) -> ColumnElement[bool]:
    """``column = ANY(:ids)``: one array parameter however many tenants (an ``IN``
    list would bind, and make PostgreSQL parse, one parameter per tenant)."""
    return column == any_(bindparam(None, ids, type_=ARRAY(BigInteger)))


def _at(value: datetime) -> ColumnElement[datetime]:
    """``value`` as a typed timestamptz parameter (for arithmetic inside SQL)."""
    return literal(value, DateTime(timezone=True))


def _younger_than(now: datetime) -> list[Any]:
    """One cumulative ``count(*) FILTER (created_at > now - high)`` per bounded bucket of
    BUCKETS; the buckets are their differences (the last: the rest). One comparison
    per row and count: a third cheaper than bounding each bucket on both sides."""
    return [func.count().filter(WorkItem.created_at > now - high) for _, _, high in BUCKETS if high]


def _queues(
    session: Session, ids: list[int], names: dict[int, str], now: datetime
) -> tuple[list[QueueRow], list[BacklogRow]]:
    """Queue depth per tenant and kind, and the backlog by age per tenant, from one scan
    of the index grouped by tenant, kind and state (the states are summed here, so the
    database evaluates no state filter per row)."""
    rows = session.execute(
        select(
            WorkItem.tenant_id,
            WorkItem.kind,
            WorkItem.state,
            func.count(),
            func.min(func.coalesce(WorkItem.queued_at, WorkItem.created_at)),
            *_younger_than(now),
        )
        .where(_among(WorkItem.tenant_id, ids))
        .group_by(WorkItem.tenant_id, WorkItem.kind, WorkItem.state)
    ).all()
    depth: dict[tuple[int, str], dict[str, Any]] = {}
    ages: dict[int, list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
    for t, kind, state, count, oldest, *younger in rows:
        row = depth.setdefault(
            (t, kind.value),
            {"waiting": 0, "in_hand": 0, "exceptions": 0, "open": 0, "oldest": None},
        )
        row["open"] += count
        if state in WAITING:
            row["waiting"] += count
            if row["oldest"] is None or oldest < row["oldest"]:
                row["oldest"] = oldest
        elif state in IN_HAND:
            row["in_hand"] += count
        elif state == Status.EXCEPTION:
            row["exceptions"] += count
        bounds = [0, *younger, count]  # tasks younger than each bucket's upper bound
        ages[t] = [a + int(hi - lo) for a, (lo, hi) in zip(ages[t], pairwise(bounds), strict=True)]
    queues = [
        QueueRow(
            tenant_id=t,
            tenant=names.get(t, ""),
            kind=kind,
            waiting=r["waiting"],
            in_hand=r["in_hand"],
            exceptions=r["exceptions"],
            open=r["open"],
            oldest_waiting_since=r["oldest"],
            oldest_waiting_seconds=None
            if r["oldest"] is None
            else int((now - r["oldest"]).total_seconds()),
        )
        for (t, kind), r in depth.items()
    ]
    backlog = [BacklogRow(t, names.get(t, ""), tuple(c)) for t, c in ages.items()]
    return (
        sorted(queues, key=lambda r: (r.tenant, r.tenant_id, r.kind)),
        sorted(backlog, key=lambda r: (r.tenant, r.tenant_id)),
    )


def _at_risk(session: Session, ids: list[int], now: datetime) -> tuple[list[AtRiskRow], int]:
    """The most urgent AT_RISK_LIMIT tasks past a warning and not breached, and how
    many there are: counted and cut on the index alone, names joined to the rows
    shown only."""
    order = (
        WorkItem.sla_due_at.asc().nulls_last(),
        WorkItem.priority_rank.desc(),
        WorkItem.created_at,
        WorkItem.tenant_id,
        WorkItem.task_id,
    )
    shown = (
        select(
            WorkItem.tenant_id,
            WorkItem.task_id,
            WorkItem.kind,
            WorkItem.type,
            WorkItem.state,
            WorkItem.assignee_id,
            WorkItem.sla_warned,
            WorkItem.sla_due_at,
            WorkItem.sla_paused,
            WorkItem.priority_rank,
            WorkItem.created_at,
            func.count().over().label("total"),
        )
        .where(_among(WorkItem.tenant_id, ids), WorkItem.sla_warned > 0, ~WorkItem.sla_breached)
        .order_by(*order)
        .limit(AT_RISK_LIMIT)
        .subquery("shown")
    )
    w = shown.c
    rows = session.execute(
        select(
            w.tenant_id,
            Tenant.slug,
            Tenant.name,
            w.task_id,
            w.kind,
            w.type,
            w.state,
            w.assignee_id,
            StaffUser.name,
            w.sla_warned,
            w.sla_due_at,
            w.sla_paused,
            w.total,
        )
        .join(Tenant, Tenant.id == w.tenant_id)
        .outerjoin(StaffUser, StaffUser.id == w.assignee_id)
        .order_by(
            w.sla_due_at.asc().nulls_last(),
            w.priority_rank.desc(),
            w.created_at,
            w.tenant_id,
            w.task_id,
        )
    ).all()
    out = [
        AtRiskRow(
            tenant_id=r[0],
            slug=r[1],
            tenant=r[2],
            task_id=r[3],
            kind=r[4].value,
            type=r[5],
            state=r[6].value,
            assignee_id=r[7],
            assignee=r[8],
            warned=r[9],
            due_at=r[10],
            seconds_left=None if r[10] is None else int((r[10] - now).total_seconds()),
            paused=r[11],
        )
        for r in rows
    ]
    return out, (rows[0][12] if rows else 0)


def _agents(session: Session, ids: list[int], now: datetime) -> list[AgentLoad]:
    since = now - OCCUPANCY_WINDOW
    held = (
        select(func.coalesce(func.sum(WorkItem.weight), 0))
        .where(WorkItem.assignee_id == StaffUser.id, WorkItem.state.in_(HOLDING))
        .correlate(StaffUser)
        .scalar_subquery()
    )
    # Each session's overlap with the window [since, now]; an open session runs to now.
    overlap = func.least(func.coalesce(WorkSession.ended_at, _at(now)), _at(now)) - func.greatest(
        WorkSession.started_at, _at(since)
    )
    busy = (
        select(func.coalesce(func.sum(func.extract("epoch", overlap)), 0))
        .where(
            WorkSession.agent_id == StaffUser.id,
            WorkSession.started_at < now,
            or_(WorkSession.ended_at.is_(None), WorkSession.ended_at > since),
        )
        .correlate(StaffUser)
        .scalar_subquery()
    )
    serving = select(StaffMembership.staff_id).where(
        _among(StaffMembership.tenant_id, ids), StaffMembership.role == MembershipRole.AGENT
    )
    rows = session.execute(
        select(StaffUser.id, StaffUser.name, AgentProfile.capacity, held, busy)
        .join(AgentProfile, AgentProfile.staff_id == StaffUser.id)
        .where(
            StaffUser.active,
            StaffUser.id.in_(serving),
            # Effective presence (bpo.workforce.services): online and seen lately.
            AgentProfile.presence == Presence.ONLINE,
            func.coalesce(AgentProfile.last_seen_at, AgentProfile.presence_at) >= now - IDLE_AFTER,
        )
        .order_by(StaffUser.name, StaffUser.id)
    ).all()
    out = []
    for agent_id, name, capacity, held_units, busy_seconds in rows:
        units = sum(int(v) for v in (capacity or {}).values())
        seconds = round(float(busy_seconds))
        out.append(
            AgentLoad(
                agent_id=agent_id,
                name=name,
                held_units=int(held_units),
                capacity_units=units,
                utilization=ratio(int(held_units), units),
                busy_seconds=seconds,
                occupancy=seconds / OCCUPANCY_WINDOW.total_seconds(),
            )
        )
    return out


def _rollups(
    session: Session, ids: list[int], names: dict[int, str], today: date
) -> tuple[list[BreachRow], list[AttainmentRow], list[TrendPoint]]:
    """Breaches today (per tenant and kind), attainment over 7 and 30 days (per
    tenant) and the daily trend, from one scan of the last 30 days of rollups grouped
    three ways at once (``GROUPING SETS``)."""
    first = today - timedelta(days=TREND_DAYS - 1)
    on_today = SlaRollup.day == today
    week = SlaRollup.day >= today - timedelta(days=6)
    rows = session.execute(
        select(
            # Which set a row is of (a bit per column left out, day first): 0b100 is
            # (tenant, kind), 0b101 (tenant) and 0b011 (day).
            func.grouping(SlaRollup.day, SlaRollup.tenant_id, SlaRollup.kind),
            SlaRollup.tenant_id,
            SlaRollup.kind,
            SlaRollup.day,
            func.coalesce(func.sum(SlaRollup.breaches).filter(on_today), 0),
            func.coalesce(func.sum(SlaRollup.met).filter(on_today), 0),
            func.coalesce(func.sum(SlaRollup.missed).filter(on_today), 0),
            func.coalesce(func.sum(SlaRollup.met).filter(week), 0),
            func.coalesce(func.sum(SlaRollup.missed).filter(week), 0),
            func.sum(SlaRollup.met),
            func.sum(SlaRollup.missed),
        )
        .where(_among(SlaRollup.tenant_id, ids), SlaRollup.day >= first, SlaRollup.day <= today)
        .group_by(
            func.grouping_sets(
                tuple_(SlaRollup.tenant_id, SlaRollup.kind),
                tuple_(SlaRollup.tenant_id),
                tuple_(SlaRollup.day),
            )
        )
    ).all()
    breaches, spans, by_day = [], {}, {}
    for grouping, t, kind, day, b1, m1, x1, m7, x7, m30, x30 in rows:
        if grouping == 0b100 and (b1 or m1 or x1):
            breaches.append(BreachRow(t, names.get(t, ""), kind, int(b1), int(m1), int(x1)))
        elif grouping == 0b101:
            spans[t] = (int(m7), int(x7), int(m30), int(x30))
        elif grouping == 0b011:
            by_day[day] = (int(m30), int(x30))
    attainment = []
    for t in sorted(ids, key=lambda i: (names.get(i, ""), i)):
        m7, x7, m30, x30 = spans.get(t, (0, 0, 0, 0))
        attainment.append(
            AttainmentRow(
                t, names.get(t, ""), m7, x7, ratio(m7, m7 + x7), m30, x30, ratio(m30, m30 + x30)
            )
        )
    trend = []
    for offset in range(TREND_DAYS):
        day = first + timedelta(days=offset)
        met, missed = by_day.get(day, (0, 0))
        trend.append(TrendPoint(day, met, missed, ratio(met, met + missed)))
    return sorted(breaches, key=lambda r: (-r.breaches, r.tenant, r.kind)), attainment, trend


# -- outside the figures ----------------------------------------------------------------


def with_titles(session: Session, result: Overview) -> Overview:
    """``result`` with the titles of its at-risk rows, read from each tenant's own schema.

    One query per tenant that has a row shown (at most AT_RISK_LIMIT rows), each in
    a session of its own: a session never spans two tenants.
    """
    wanted: dict[str, list[int]] = defaultdict(list)
    for row in result.at_risk:
        wanted[row.slug].append(row.task_id)
    titles: dict[tuple[str, int], str] = {}
    engine = session.get_bind()
    for slug, task_ids in wanted.items():
        tenant_session = make_session(engine, slug)  # type: ignore[arg-type]
        try:
            for task_id, title in tenant_session.execute(
                select(Task.id, Task.title).where(Task.id.in_(task_ids))
            ):
                titles[(slug, task_id)] = title
        finally:
            tenant_session.close()
    result.at_risk = [replace(r, title=titles.get((r.slug, r.task_id), "")) for r in result.at_risk]
    return result


def agents_by_tenant(session: Session, tenant_ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    """Active agents serving each of ``tenant_ids``, as (staff id, name) by name: the
    choices of a one-click reassign."""
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for tenant_id, staff_id, name in session.execute(
        select(StaffMembership.tenant_id, StaffUser.id, StaffUser.name)
        .join(StaffUser, StaffUser.id == StaffMembership.staff_id)
        .where(
            StaffMembership.tenant_id.in_(sorted(set(tenant_ids))),
            StaffMembership.role == MembershipRole.AGENT,
            StaffUser.active,
        )
        .order_by(StaffUser.name, StaffUser.id)
    ):
        out[tenant_id].append((staff_id, name))
    return dict(out)


__all__ = [
    "BUCKETS",
    "AgentLoad",
    "AtRiskRow",
    "AttainmentRow",
    "BacklogRow",
    "BreachRow",
    "Overview",
    "QueueRow",
    "TrendPoint",
    "agents_by_tenant",
    "overview",
    "with_titles",
]
