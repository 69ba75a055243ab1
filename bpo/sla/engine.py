"""Business-time arithmetic for SLAs (pure: no database, no Flask, no clock of its own).

A :class:`Calendar` is a time zone, working intervals per weekday (several a day;
a day absent or empty is closed) and holidays (local dates, closed all day). Time
on the clock is *business time*: real elapsed seconds inside working intervals.

* :func:`due_at` — the instant ``business_seconds`` of business time after ``start``;
  a start outside working hours starts the clock at the next opening.
* :func:`business_seconds_between` — business time from ``start`` to ``end``.

Intervals are read as wall-clock time where the calendar lives and turned into
UTC instants day by day, so daylight-saving changes are handled by the zone
database: on the night clocks go forward a 00:00-04:00 interval lasts three real
hours, on the night they go back five. Instants may be given in any zone but must
be aware; results are aware UTC datetimes.

The format (``Calendar.from_dict``)::

    {"timezone": "America/New_York",
     "week": {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], ..., "sun": []},
     "holidays": ["2026-12-25", ...]}

``"24:00"`` may end an interval (midnight at the end of the day).
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 366 * 20  # how far ahead a due instant is looked for before giving up
END_OF_DAY = "24:00"


class CalendarError(ValueError):
    """A calendar that cannot be read. ``fields`` maps each bad part to its messages."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields
        first = next(iter(fields.items()))
        super().__init__(f"{first[0]}: {first[1][0]}")


Interval = tuple[time, time | None]  # end None: 24:00, the end of the day


@dataclass(frozen=True)
class Calendar:
    timezone: str
    week: tuple[tuple[Interval, ...], ...]  # seven entries, Monday first
    holidays: frozenset[date]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "Calendar":
        """Read the documented format; CalendarError names every bad part."""
        errors: dict[str, list[str]] = {}
        zone = raw.get("timezone") if isinstance(raw, Mapping) else None
        if not isinstance(zone, str) or not _known_zone(zone):
            errors["timezone"] = ["must be an IANA time zone such as America/New_York"]
        week_raw = raw.get("week", {}) if isinstance(raw, Mapping) else None
        week: list[tuple[Interval, ...]] = []
        if not isinstance(week_raw, Mapping):
            errors["week"] = ["must map days (mon..sun) to lists of [start, end] intervals"]
            week_raw = {}
        for key in week_raw:
            if key not in DAYS:
                errors[f"week.{key}"] = [f"is not a day; days are {', '.join(DAYS)}"]
        for day in DAYS:
            week.append(_day(week_raw.get(day) or [], f"week.{day}", errors))
        holidays: set[date] = set()
        holidays_raw = raw.get("holidays", []) if isinstance(raw, Mapping) else []
        if not isinstance(holidays_raw, list):
            errors["holidays"] = ["must be a list of dates like 2026-12-25"]
            holidays_raw = []
        for index, item in enumerate(holidays_raw):
            try:
                holidays.add(date.fromisoformat(item))
            except (TypeError, ValueError):
                errors[f"holidays.{index}"] = ["must be a date like 2026-12-25"]
        if errors:
            raise CalendarError(errors)
        return cls(str(zone), tuple(week), frozenset(holidays))

    def as_dict(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "week": {
                day: [[_clock(s), _clock(e)] for s, e in intervals]
                for day, intervals in zip(DAYS, self.week, strict=True)
            },
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }

    @property
    def is_ever_open(self) -> bool:
        return any(self.week)

    def openings(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working intervals of local date ``day`` as UTC instants (none on holidays)."""
        if day in self.holidays:
            return []
        return _openings(self.timezone, self.week[day.weekday()], day)


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _parse_clock(value: Any, *, end: bool) -> time | None:
    """A wall-clock time ``HH:MM``; ``24:00`` (as an end only) is returned as None."""
    if end and value == END_OF_DAY:
        return None
    if not isinstance(value, str) or len(value) != 5:
        raise ValueError
    return time.fromisoformat(value)


def _day(raw: Any, path: str, errors: dict[str, list[str]]) -> tuple[Interval, ...]:
    if not isinstance(raw, list):
        errors[path] = ["must be a list of [start, end] intervals"]
        return ()
    intervals: list[Interval] = []
    for index, pair in enumerate(raw):
        where = f"{path}.{index}"
        try:
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise ValueError
            start = _parse_clock(pair[0], end=False)
            finish = _parse_clock(pair[1], end=True)
        except ValueError:
            errors[where] = ['must be ["HH:MM", "HH:MM"] (an end may be "24:00")']
            continue
        assert start is not None
        if finish is not None and finish <= start:
            errors[where] = ["must end after it starts (intervals do not cross midnight)"]
            continue
        intervals.append((start, finish))
    intervals.sort(key=lambda i: i[0])
    for (_, end_a), (start_b, _) in pairwise(intervals):
        if end_a is None or end_a > start_b:
            errors[path] = ["intervals must not overlap"]
            break
    return tuple(intervals)


def _clock(value: time | None) -> str:
    return END_OF_DAY if value is None else value.strftime("%H:%M")


@lru_cache(maxsize=4096)
def _openings(
    zone_name: str, intervals: tuple[Interval, ...], day: date
) -> list[tuple[datetime, datetime]]:
    zone = ZoneInfo(zone_name)
    result = []
    for start, end in intervals:
        begin = datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
        if end is None:
            finish = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        else:
            finish = datetime.combine(day, end, tzinfo=zone)
        # A wall time that does not exist (clocks went forward over it) maps past the
        # gap; an interval swallowed whole by the gap is empty, not negative.
        result.append((begin, max(begin, finish.astimezone(UTC))))
    return result


def _aware(instant: datetime, name: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return instant.astimezone(UTC)


def _days_from(calendar: Calendar, instant: datetime) -> Iterator[date]:
    # From the day before, in case an interval of the previous local day is still open
    # at ``instant`` (it cannot be: intervals end by midnight; but 24:00 ends at midnight).
    day = instant.astimezone(calendar.zone).date() - timedelta(days=1)
    for offset in range(MAX_DAYS):
        yield day + timedelta(days=offset)


def due_at(calendar: Calendar, start: datetime, business_seconds: float) -> datetime:
    """The instant ``business_seconds`` of business time after ``start``, in UTC.

    Outside working hours the clock starts at the next opening; a target of 0 is
    due at that opening (or at ``start`` itself within working hours).
    """
    if business_seconds < 0:
        raise ValueError("business_seconds must not be negative")
    cursor = _aware(start, "start")
    if not calendar.is_ever_open:
        raise ValueError("the calendar is never open")
    remaining = timedelta(seconds=business_seconds)
    for day in _days_from(calendar, cursor):
        for begin, end in calendar.openings(day):
            if end <= cursor:
                continue
            segment_start = max(begin, cursor)
            available = end - segment_start
            if remaining <= available:
                return segment_start + remaining
            remaining -= available
            cursor = end
    raise ValueError(f"no due instant within {MAX_DAYS} days (is the calendar all holidays?)")


def business_seconds_between(calendar: Calendar, start: datetime, end: datetime) -> float:
    """Business time from ``start`` to ``end`` in seconds (negative if ``end`` is earlier)."""
    first, last = _aware(start, "start"), _aware(end, "end")
    if last < first:
        return -business_seconds_between(calendar, last, first)
    total = timedelta()
    for day in _days_from(calendar, first):
        openings = calendar.openings(day)
        for begin, finish in openings:
            low, high = max(begin, first), min(finish, last)
            if high > low:
                total += high - low
        if datetime.combine(day, time(0), tzinfo=calendar.zone).astimezone(UTC) > last:
            break
    return total.total_seconds()
