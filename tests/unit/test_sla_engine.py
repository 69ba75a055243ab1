"""Business-time arithmetic: a table of calendar cases, errors, and inverse properties."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpo.sla.engine import Calendar, CalendarError, business_seconds_between, due_at

NY = ZoneInfo("America/New_York")
SYD = ZoneInfo("Australia/Sydney")
H = 3600
SPLIT_DAY = [["09:00", "12:00"], ["13:00", "17:00"]]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def calendar(zone="America/New_York", week=None, holidays=()):
    return Calendar.from_dict(
        {
            "timezone": zone,
            "week": week if week is not None else {d: SPLIT_DAY for d in WEEKDAYS},
            "holidays": list(holidays),
        }
    )


NEW_YORK = calendar(holidays=["2026-12-07"])  # a Monday
ROUND_THE_CLOCK_SUNDAY = calendar(week={"sun": [["00:00", "04:00"]]})
SYDNEY = calendar("Australia/Sydney", {d: [["09:00", "17:00"]] for d in WEEKDAYS})


def at(zone, *parts):
    return datetime(*parts, tzinfo=zone)


DUE_CASES = [
    # The example: Friday 16:00, 5 business hours, Monday a holiday -> Tuesday 14:00.
    ("holiday monday", NEW_YORK, at(NY, 2026, 12, 4, 16), 5 * H, at(NY, 2026, 12, 8, 14)),
    (
        "same instant, given in Paris",
        NEW_YORK,
        at(ZoneInfo("Europe/Paris"), 2026, 12, 4, 22),
        5 * H,
        at(NY, 2026, 12, 8, 14),
    ),
    ("over lunch", NEW_YORK, at(NY, 2026, 12, 1, 11, 30), 1 * H, at(NY, 2026, 12, 1, 13, 30)),
    (
        "ends at a closing, not the next opening",
        NEW_YORK,
        at(NY, 2026, 12, 1, 9),
        3 * H,
        at(NY, 2026, 12, 1, 12),
    ),
    ("starts before opening", NEW_YORK, at(NY, 2026, 12, 1, 7), 1 * H, at(NY, 2026, 12, 1, 10)),
    (
        "starts on saturday",
        NEW_YORK,
        at(NY, 2026, 12, 5, 10),
        30 * 60,
        at(NY, 2026, 12, 8, 9, 30),
    ),  # Monday is the holiday
    ("starts at night", NEW_YORK, at(NY, 2026, 12, 1, 23), 0, at(NY, 2026, 12, 2, 9)),
    ("zero inside hours is now", NEW_YORK, at(NY, 2026, 12, 1, 10), 0, at(NY, 2026, 12, 1, 10)),
    # DST in New York: clocks go forward on Sunday 8 March 2026 at 02:00.
    (
        "spring forward, a weekend between",
        NEW_YORK,
        at(NY, 2026, 3, 6, 16),
        2 * H,
        at(NY, 2026, 3, 9, 10),
    ),
    (
        "spring forward night lasts 3 h",
        ROUND_THE_CLOCK_SUNDAY,
        at(NY, 2026, 3, 8, 0),
        3 * H,
        at(NY, 2026, 3, 8, 4),
    ),
    # ...and back on Sunday 1 November 2026 at 02:00: that night's 00:00-04:00 is 5 hours.
    (
        "fall back night lasts 5 h",
        ROUND_THE_CLOCK_SUNDAY,
        at(NY, 2026, 11, 1, 0),
        5 * H,
        at(NY, 2026, 11, 1, 4),
    ),
    (
        "fall back, a weekend between",
        NEW_YORK,
        at(NY, 2026, 10, 30, 16),
        2 * H,
        at(NY, 2026, 11, 2, 10),
    ),
    # Sydney goes to daylight time on Sunday 4 October 2026 (UTC+10 -> UTC+11).
    ("southern spring forward", SYDNEY, at(SYD, 2026, 10, 2, 16), 2 * H, at(SYD, 2026, 10, 5, 10)),
    # ...and back on Sunday 5 April 2026.
    ("southern fall back", SYDNEY, at(SYD, 2026, 4, 3, 16), 2 * H, at(SYD, 2026, 4, 6, 10)),
    # 120 business hours at 35 a week: three weeks, then Monday, Tuesday and an hour.
    ("spans weeks", calendar(), at(NY, 2026, 11, 2, 9), 120 * H, at(NY, 2026, 11, 25, 10)),
    (
        "christmas and a weekend",
        calendar(holidays=["2026-12-25"]),
        at(NY, 2026, 12, 24, 16),
        2 * H,
        at(NY, 2026, 12, 28, 10),
    ),
]


@pytest.mark.parametrize(
    ("calendar_", "start", "seconds", "expected"),
    [case[1:] for case in DUE_CASES],
    ids=[case[0] for case in DUE_CASES],
)
def test_due_at(calendar_, start, seconds, expected):
    due = due_at(calendar_, start, seconds)
    assert due == expected
    assert due.tzinfo is UTC


def test_spring_forward_in_utc():
    # 16:00 EST is 21:00 UTC; Monday 10:00 EDT is 14:00 UTC.
    assert due_at(NEW_YORK, at(NY, 2026, 3, 6, 16), 2 * H) == datetime(2026, 3, 9, 14, tzinfo=UTC)
    assert due_at(SYDNEY, at(SYD, 2026, 10, 2, 16), 2 * H) == datetime(2026, 10, 4, 23, tzinfo=UTC)


BETWEEN_CASES = [
    ("across a holiday weekend", NEW_YORK, at(NY, 2026, 12, 4, 16), at(NY, 2026, 12, 8, 10), 2 * H),
    ("all outside hours", NEW_YORK, at(NY, 2026, 12, 1, 18), at(NY, 2026, 12, 2, 8), 0),
    ("lunch does not count", NEW_YORK, at(NY, 2026, 12, 1, 11), at(NY, 2026, 12, 1, 14), 2 * H),
    (
        "spring forward night",
        ROUND_THE_CLOCK_SUNDAY,
        at(NY, 2026, 3, 7, 12),
        at(NY, 2026, 3, 9, 0),
        3 * H,
    ),
    (
        "fall back night",
        ROUND_THE_CLOCK_SUNDAY,
        at(NY, 2026, 10, 31, 12),
        at(NY, 2026, 11, 2, 0),
        5 * H,
    ),
    ("a full week", calendar(), at(NY, 2026, 11, 2, 0), at(NY, 2026, 11, 9, 0), 35 * H),
    ("backwards is negative", NEW_YORK, at(NY, 2026, 12, 1, 14), at(NY, 2026, 12, 1, 11), -2 * H),
]


@pytest.mark.parametrize(
    ("calendar_", "start", "end", "expected"),
    [case[1:] for case in BETWEEN_CASES],
    ids=[case[0] for case in BETWEEN_CASES],
)
def test_business_seconds_between(calendar_, start, end, expected):
    assert business_seconds_between(calendar_, start, end) == expected


def test_midnight_end_and_several_intervals():
    cal = calendar(week={"fri": [["22:00", "24:00"]], "sat": [["00:00", "02:00"]]})
    assert due_at(cal, at(NY, 2026, 12, 4, 23), 2 * H) == at(NY, 2026, 12, 5, 1)
    assert cal.as_dict()["week"]["fri"] == [["22:00", "24:00"]]


def test_naive_instants_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(NEW_YORK, datetime(2026, 12, 1, 9), H)
    with pytest.raises(ValueError, match="timezone-aware"):
        business_seconds_between(NEW_YORK, at(NY, 2026, 12, 1), datetime(2026, 12, 2))


def test_a_calendar_never_open_has_no_due_instant():
    with pytest.raises(ValueError, match="never open"):
        due_at(calendar(week={}), at(NY, 2026, 12, 1), H)


def test_bad_calendars_name_every_part():
    with pytest.raises(CalendarError) as raised:
        Calendar.from_dict(
            {
                "timezone": "Mars/Olympus",
                "week": {
                    "mon": [["17:00", "09:00"]],
                    "tue": [["09:00", "12:00"], ["11:00", "13:00"]],
                    "wed": [["9am", "5pm"]],
                    "funday": [],
                },
                "holidays": ["2026-02-30"],
            }
        )
    assert set(raised.value.fields) == {
        "timezone",
        "week.mon.0",
        "week.tue",
        "week.wed.0",
        "week.funday",
        "holidays.0",
    }


def test_from_dict_round_trips():
    raw = NEW_YORK.as_dict()
    assert Calendar.from_dict(raw) == NEW_YORK
    assert raw["week"]["sat"] == [] and raw["holidays"] == ["2026-12-07"]


starts = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
CALENDARS = [NEW_YORK, ROUND_THE_CLOCK_SUNDAY, SYDNEY, calendar("Asia/Kolkata")]


@settings(max_examples=300, deadline=None)
@given(
    start=starts,
    seconds=st.integers(min_value=0, max_value=200 * H),
    which=st.sampled_from(range(len(CALENDARS))),
)
def test_due_and_between_are_inverse(start, seconds, which):
    cal = CALENDARS[which]
    due = due_at(cal, start, seconds)
    assert due >= start
    assert business_seconds_between(cal, start, due) == seconds


@settings(max_examples=200, deadline=None)
@given(a=starts, b=starts, c=starts)
def test_between_adds_up(a, b, c):
    first, middle, last = sorted((a, b, c))
    total = business_seconds_between(NEW_YORK, first, last)
    parts = business_seconds_between(NEW_YORK, first, middle) + business_seconds_between(
        NEW_YORK, middle, last
    )
    assert total == pytest.approx(parts)
    assert total <= (last - first).total_seconds() + 1e-6
    assert business_seconds_between(NEW_YORK, first, first + timedelta(0)) == 0
