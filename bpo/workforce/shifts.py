"""Weekly shifts in the agent's own time zone (pure: no database, clock passed in).

A shift is ``{"day": "mon", "start": "09:00", "end": "17:00"}``, read as wall-clock
time where the agent lives, so it follows daylight-saving changes. A shift whose end
is not after its start runs past midnight into the next day (``22:00`` to ``06:00``).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ShiftError(ValueError):
    """A shift that cannot be read; the message says which part."""


@dataclass(frozen=True)
class Shift:
    day: int  # 0 = Monday
    start: time
    end: time

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "Shift":
        day = str(raw.get("day", "")).lower()[:3]
        if day not in DAYS:
            raise ShiftError(f"day must be one of {', '.join(DAYS)}")
        try:
            start, end = time.fromisoformat(raw["start"]), time.fromisoformat(raw["end"])
        except (KeyError, TypeError, ValueError):
            raise ShiftError("start and end must be times like 09:00") from None
        if start == end:
            raise ShiftError("a shift must not start and end at the same time")
        return cls(DAYS.index(day), start, end)

    def as_dict(self) -> dict[str, str]:
        return {
            "day": DAYS[self.day],
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
        }


def parse_all(raw: Iterable[Mapping[str, Any]]) -> list[Shift]:
    return [Shift.parse(item) for item in raw]


WEEK = 7 * 24 * 60  # minutes


def _span(shift: Shift) -> tuple[int, int]:
    """The shift as minutes of the week [start, end); an overnight one ends past its day."""
    start = shift.day * 24 * 60 + shift.start.hour * 60 + shift.start.minute
    end = shift.day * 24 * 60 + shift.end.hour * 60 + shift.end.minute
    return start, end + (24 * 60 if shift.overnight else 0)


def overlap(shifts: list[Shift]) -> tuple[Shift, Shift] | None:
    """Two shifts that cover the same time (a Sunday night shift running into Monday
    included), or None: one plan never lists an hour twice."""
    for i, a in enumerate(shifts):
        a0, a1 = _span(a)
        for b in shifts[i + 1 :]:
            b0, b1 = _span(b)
            for shift in (-WEEK, 0, WEEK):  # the week wraps around
                if a0 < b1 + shift and b0 + shift < a1:
                    return a, b
    return None


def describe(shift: Shift) -> str:
    d = shift.as_dict()
    return f"{d['day'].capitalize()} {d['start']}–{d['end']}"  # noqa: RUF001 (a dash for people)


def on_shift(shifts: Iterable[Shift], zone: str, now: datetime) -> bool:
    """Whether ``now`` (an aware instant) falls in one of ``shifts`` where the agent lives."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(ZoneInfo(zone))
    today, clock = local.weekday(), local.time().replace(tzinfo=None)
    yesterday = (today - 1) % 7
    for shift in shifts:
        if shift.day == today:
            if shift.overnight and clock >= shift.start:
                return True
            if not shift.overnight and shift.start <= clock < shift.end:
                return True
        if shift.day == yesterday and shift.overnight and clock < shift.end:
            return True
    return False


def next_start(shifts: Iterable[Shift], zone: str, now: datetime) -> datetime | None:
    """The next instant a shift begins (for routing that waits for a shift), or None."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    starts = []
    for shift in shifts:
        days_ahead = (shift.day - local.weekday()) % 7
        for extra in (0, 7):
            day = local.date() + timedelta(days=days_ahead + extra)
            begin = datetime.combine(day, shift.start, tzinfo=tz)
            if begin > local:
                starts.append(begin)
                break
    return min(starts).astimezone(now.tzinfo) if starts else None
