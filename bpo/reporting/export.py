"""The dashboard's tables as CSV and as JSON-ready dictionaries.

Text cells go through :func:`bpo.work.csvio.safe_cell`, so a value a spreadsheet
would run as a formula (a tenant or agent name starting with ``=``) stays text.
Instants are ISO 8601 in UTC, ratios are fractions (0.75), empty ratios are blank.
"""

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from bpo.reporting.dashboard import BUCKETS, Overview
from bpo.work.csvio import safe_cell

Table = tuple[Sequence[str], Callable[[Overview], Iterable[Sequence[Any]]]]

TABLES: dict[str, Table] = {
    "queues": (
        ("tenant", "kind", "waiting", "in_hand", "exceptions", "open", "oldest_waiting_since",
         "oldest_waiting_seconds"),
        lambda o: (
            (r.tenant, r.kind, r.waiting, r.in_hand, r.exceptions, r.open,
             r.oldest_waiting_since, r.oldest_waiting_seconds)
            for r in o.queues
        ),
    ),
    "at_risk": (
        ("tenant", "task_id", "title", "kind", "type", "state", "assignee", "warned_percent",
         "due_at", "seconds_left", "paused"),
        lambda o: (
            (r.tenant, r.task_id, r.title, r.kind, r.type, r.state, r.assignee, r.warned,
             r.due_at, r.seconds_left, r.paused)
            for r in o.at_risk
        ),
    ),
    "breaches_today": (
        ("day_utc", "tenant", "kind", "breaches", "met", "missed"),
        lambda o: ((o.today, r.tenant, r.kind, r.breaches, r.met, r.missed)
                   for r in o.breaches_today),
    ),
    "agents": (
        ("agent", "held_units", "capacity_units", "utilization", "busy_seconds_last_60m",
         "occupancy"),
        lambda o: ((r.name, r.held_units, r.capacity_units, r.utilization, r.busy_seconds,
                    r.occupancy) for r in o.agents),
    ),
    "attainment": (
        ("tenant", "met_7d", "missed_7d", "attainment_7d", "met_30d", "missed_30d",
         "attainment_30d"),
        lambda o: ((r.tenant, r.met_7, r.missed_7, r.attainment_7, r.met_30, r.missed_30,
                    r.attainment_30) for r in o.attainment),
    ),
    "backlog": (
        ("tenant", *(label for label, _, _ in BUCKETS), "total"),
        lambda o: ((r.tenant, *r.counts, r.total) for r in o.backlog),
    ),
    "trend": (
        ("day_utc", "met", "missed", "attainment"),
        lambda o: ((p.day, p.met, p.missed, p.attainment) for p in o.trend),
    ),
}  # fmt: skip


def _plain(value: Any, zone: tzinfo = UTC) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 4)
    return value


def _cell(value: Any) -> Any:
    """Text through the formula escape; numbers as they are (a negative number is no
    formula); None blank."""
    if isinstance(value, str):
        return safe_cell(value)
    return "" if value is None else value


def csv_table(result: Overview, name: str, zone: tzinfo = UTC) -> str:
    """Table ``name`` of :data:`TABLES` as CSV text, header first, instants in ``zone``
    (the viewer's) with their offset; KeyError if unknown."""
    header, rows = TABLES[name]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows(result):
        writer.writerow(_cell(_plain(v, zone)) for v in row)
    return out.getvalue()


def as_json(result: Overview) -> dict[str, Any]:
    """Every table as lists of dictionaries, instants as ISO 8601 (UTC)."""

    def plain(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: plain(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [plain(v) for v in obj]
        return _plain(obj)

    data = plain(asdict(result))
    data["buckets"] = [label for label, _, _ in BUCKETS]
    data["backlog_totals"] = [list(t) for t in result.backlog_totals]
    return data
