"""Weekly shifts in the agent's own zone, across midnight and daylight-saving changes."""

from datetime import UTC, datetime

import pytest

from bpo.workforce.shifts import Shift, ShiftError, next_start, on_shift, overlap, parse_all

WEEKDAYS_9_TO_5 = parse_all(
    {"day": d, "start": "09:00", "end": "17:00"} for d in ("mon", "tue", "wed", "thu", "fri")
)
NIGHTS = parse_all([{"day": "fri", "start": "22:00", "end": "06:00"}])


@pytest.mark.parametrize(
    ("utc", "zone", "expected"),
    [
        ("2026-11-23T14:00", "America/New_York", True),  # Mon 09:00 EST
        ("2026-11-23T13:59", "America/New_York", False),  # Mon 08:59
        ("2026-11-23T22:00", "America/New_York", False),  # Mon 17:00: the end is outside
        ("2026-11-28T15:00", "America/New_York", False),  # Saturday
        ("2026-03-09T13:00", "America/New_York", True),  # Mon 09:00 EDT, after spring forward
        ("2026-11-02T14:00", "America/New_York", True),  # Mon 09:00 EST, after fall back
        ("2026-11-23T23:00", "Australia/Sydney", True),  # Tue 10:00 AEDT
        ("2026-11-23T10:00", "Asia/Kolkata", True),  # Mon 15:30 IST
    ],
)
def test_weekday_office_hours(utc, zone, expected):
    now = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    assert on_shift(WEEKDAYS_9_TO_5, zone, now) is expected


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-11-27T21:59", False),  # Fri before
        ("2026-11-27T22:00", True),  # Fri night
        ("2026-11-28T05:59", True),  # Sat early morning: the same shift
        ("2026-11-28T06:00", False),
        ("2026-11-28T22:30", False),  # Saturday night has no shift
    ],
)
def test_overnight_shift_runs_into_the_next_day(local, expected):
    now = datetime.fromisoformat(local + "+00:00")
    assert on_shift(NIGHTS, "Europe/London", now) is expected


def test_bad_shifts_are_named():
    for raw, words in [
        ({"day": "xyz", "start": "09:00", "end": "17:00"}, "day"),
        ({"day": "mon", "start": "9am", "end": "17:00"}, "start and end"),
        ({"day": "mon", "start": "09:00", "end": "09:00"}, "same time"),
    ]:
        with pytest.raises(ShiftError, match=words):
            Shift.parse(raw)
    with pytest.raises(ValueError):
        on_shift(WEEKDAYS_9_TO_5, "UTC", datetime(2026, 11, 23, 9))  # naive


def test_next_start():
    friday_evening = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)  # Fri 18:00 New York
    start = next_start(WEEKDAYS_9_TO_5, "America/New_York", friday_evening)
    assert start == datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # Mon 09:00 EST
    assert next_start([], "UTC", friday_evening) is None
    assert [s.as_dict() for s in NIGHTS] == [{"day": "fri", "start": "22:00", "end": "06:00"}]


@pytest.mark.parametrize(
    ("plan", "clash"),
    [
        ([("tue", "08:00", "16:00"), ("tue", "08:00", "16:00")], True),  # the same twice
        ([("mon", "09:00", "13:00"), ("mon", "12:00", "17:00")], True),
        ([("mon", "09:00", "12:00"), ("mon", "12:00", "17:00")], False),  # back to back
        ([("fri", "22:00", "06:00"), ("sat", "05:00", "09:00")], True),  # past midnight
        ([("sun", "22:00", "06:00"), ("mon", "05:00", "09:00")], True),  # past the week's end
        ([("sun", "22:00", "06:00"), ("mon", "06:00", "09:00")], False),
    ],
)
def test_overlapping_shifts_are_found(plan, clash):
    shifts = parse_all({"day": d, "start": s, "end": e} for d, s, e in plan)
    assert (overlap(shifts) is not None) is clash
