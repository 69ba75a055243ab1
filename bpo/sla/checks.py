"""Firing SLA checkpoints: every warning and breach due by an instant, exactly once.

Set-based, for the timer of one tenant and the minute sweep alike: one locking read
of the due clocks (SKIP LOCKED), the checkpoint arithmetic once per distinct clock
set-up, then one statement that updates every clock and inserts every event with
``ON CONFLICT DO NOTHING`` (the partial unique index on clock, kind and threshold
keeps each to once, whoever else fires it), then the rollups and the index mirror.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    String,
    Text,
    bindparam,
    cast,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.orm import Session

from bpo.core.uow import UnitOfWork
from bpo.sla import clock as clocks
from bpo.sla.models import SlaClock, SlaEvent
from bpo.sla.services import ClockRef, Tally, calendar_from_json, mirror_many


@dataclass(frozen=True)
class Fired:
    task_id: int
    target: str
    percent: int  # 100: the breach
    at: datetime


def check_due(uow: UnitOfWork, now: datetime, *, limit: int = 5000) -> list[Fired]:
    """Fire every warning and breach of this tenant due by ``now`` (up to ``limit``
    clocks); returns those this call fired (another worker's firing of the same one
    is not returned). See :func:`check_due_counted`."""
    return check_due_counted(uow, now, limit=limit)[0]


def check_due_counted(
    uow: UnitOfWork, now: datetime, *, limit: int = 5000
) -> tuple[list[Fired], int]:
    """:func:`check_due`, also saying how many due clocks it read (fewer than ``limit``:
    nothing else is due now, so a caller working in chunks can stop).

    Clocks are locked with SKIP LOCKED, and each event is inserted with ON CONFLICT
    DO NOTHING on (clock, kind, threshold): two sweeps on the same instant fire each
    checkpoint once between them.

    Set-based: one locking read of the due clocks (plain rows, not ORM objects), the
    checkpoint arithmetic once per distinct (calendar, start, target, credit, fired)
    in Python, then one statement for every event and clock (``INSERT ... SELECT FROM
    unnest(...)`` with ``UPDATE ... FROM unnest(...)`` as its CTE), the rollups and
    :func:`mirror_many`.
    """
    session = uow.session
    session.flush()
    rows = session.execute(
        select(*_DUE_COLUMNS)
        .where(SlaClock.state == "running", SlaClock.next_check_at <= now)
        .order_by(SlaClock.next_check_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return [], 0
    memo: dict[tuple[Any, ...], tuple[list[tuple[int, datetime]], datetime | None]] = {}
    events: list[tuple[int, int, str, int, datetime, str]] = []
    updates: list[tuple[int, str, int, bool, datetime | None]] = []
    for row in rows:
        fired_before = tuple(row.fired)
        key = (
            row.calendar_text,
            row.started_at,
            row.target_seconds,
            tuple(row.thresholds),
            row.paused_seconds,
            fired_before,
        )
        if key not in memo:
            calendar = calendar_from_json(row.calendar_text)
            value = clocks.Clock(
                target=row.target,
                target_seconds=row.target_seconds,
                thresholds=tuple(row.thresholds),
                started_at=row.started_at,
                paused_seconds=row.paused_seconds,
                fired=fired_before,
            )
            due = [(p, at) for p, at in clocks.checkpoints(calendar, value) if at <= now]
            after = clocks.fire(value, [p for p, _ in due])
            memo[key] = (due, clocks.next_check(calendar, after))
        due, next_check = memo[key]
        for percent, when in due:
            kind = "breached" if percent == clocks.BREACH else "warning"
            events.append((row.task_id, row.id, kind, percent, when, row.target))
        fired = sorted({*fired_before, *(p for p, _ in due)})
        warned = max([p for p in fired if p < clocks.BREACH], default=0)
        updates.append((row.id, json.dumps(fired), warned, clocks.BREACH in fired, next_check))
    inserted = _write(session, events, updates)
    fired_now: list[Fired] = []
    tally = Tally()
    for task_id, clock_id, _kind, percent, when, target in events:
        if (clock_id, percent) in inserted:
            fired_now.append(Fired(task_id, target, percent, when))
            if percent == clocks.BREACH:
                tally.breach(ClockRef(task_id, target), when)
    tally.write(uow)
    mirror_many(uow, sorted({row.task_id for row in rows}))
    return fired_now, len(rows)


_DUE_COLUMNS = (
    SlaClock.id,
    SlaClock.task_id,
    SlaClock.target,
    cast(SlaClock.calendar, Text).label("calendar_text"),
    SlaClock.target_seconds,
    SlaClock.thresholds,
    SlaClock.started_at,
    SlaClock.paused_seconds,
    SlaClock.fired,
)


def _unnest(alias: str, rows: list[tuple[Any, ...]], **columns: Any) -> Any:
    """``unnest(:alias_a, :alias_b, …) AS alias(a, b, …)``: ``rows`` (tuples in the
    order of ``columns``, name=item type) sent as one array parameter per column, for
    set-based writes."""
    values = [list(c) for c in zip(*rows, strict=True)] or [[] for _ in columns]
    arrays = (
        bindparam(f"{alias}_{name}", column, type_=ARRAY(item))
        for (name, item), column in zip(columns.items(), values, strict=True)
    )
    return func.unnest(*arrays).table_valued(*columns).render_derived(alias)


def _write(
    session: Session,
    events: list[tuple[int, int, str, int, datetime, str]],
    updates: list[tuple[int, str, int, bool, datetime | None]],
) -> set[tuple[int, int]]:
    """Every clock's update and every event, in one statement (the update a CTE of the
    insert); returns the (clock, threshold) of the events inserted, once each."""
    update_clocks = _update_fired(updates)
    if events:
        statement = _insert_events(events).add_cte(update_clocks.cte("clocks_fired"))
        inserted = {(int(c), int(t)) for c, t in session.execute(statement)}
    else:
        session.execute(update_clocks, execution_options={"synchronize_session": False})
        inserted = set()
    changed = {u[0] for u in updates}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, SlaClock) and obj.id in changed:
            session.expire(obj)  # stale now
    return inserted


def _insert_events(events: list[tuple[int, int, str, int, datetime, str]]) -> Any:
    """Insert warning/breach events once each, returning the (clock, threshold) inserted:
    ON CONFLICT DO NOTHING on the partial unique index keeps each to once."""
    source = _unnest(
        "e",
        events,
        task_id=BigInteger,
        clock_id=BigInteger,
        kind=String,
        threshold=Integer,
        at=DateTime(timezone=True),
        target=String,
    )
    return (
        insert(SlaEvent)
        .from_select(
            ["task_id", "clock_id", "kind", "threshold", "at", "data"],
            select(
                source.c.task_id,
                source.c.clock_id,
                source.c.kind,
                source.c.threshold,
                source.c.at,
                func.jsonb_build_object("target", source.c.target),
            ),
        )
        .on_conflict_do_nothing(
            index_elements=["clock_id", "kind", "threshold"],
            index_where=text("kind IN ('warning', 'breached')"),
        )
        .returning(SlaEvent.clock_id, SlaEvent.threshold)
    )


def _update_fired(updates: list[tuple[int, str, int, bool, datetime | None]]) -> Any:
    """What fired, the highest warning, the breach and the next check of many clocks."""
    source = _unnest(
        "u",
        updates,
        id=BigInteger,
        fired=Text,
        warned=Integer,
        breached=Boolean,
        next_check=DateTime(timezone=True),
    )
    return (
        update(SlaClock)
        .where(SlaClock.id == source.c.id)
        .values(
            fired=cast(source.c.fired, JSONB),
            warned=source.c.warned,
            breached=SlaClock.breached | source.c.breached,
            next_check_at=source.c.next_check,
        )
    )
