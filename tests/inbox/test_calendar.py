"""Business-hours arithmetic: expectations are hand-computed in the comments (2026 calendar)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from inbox.calendar import ALWAYS, DAY_KEYS, BusinessHours

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3600
DEFAULT = BusinessHours.default()
LUNCH = BusinessHours.from_config(
    "Europe/Paris",
    {day: [["13:30", "18:00"], ["09:00", "12:30"]] for day in DAY_KEYS[:5]},  # unsorted on purpose
    "FR",
    [],
)
ROUND_THE_CLOCK = BusinessHours.from_config(
    "Europe/Paris", {day: [["00:00", "24:00"]] for day in DAY_KEYS}, None, None
)


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local_day(day: date) -> tuple[datetime, datetime]:
    return datetime.combine(day, time(0), PARIS), datetime.combine(
        day + timedelta(1), time(0), PARIS
    )


def test_default_and_empty_config_mean_paris_weekdays_nine_to_six():
    assert DEFAULT.timezone == "Europe/Paris" and DEFAULT.holidays_country == "FR"
    assert DEFAULT.spans[0] == ((time(9), time(18)),) and DEFAULT.spans[5:] == ((), ())
    assert BusinessHours.from_config("Europe/Paris", None, "fr", None) == DEFAULT
    assert BusinessHours.from_config("Europe/Paris", {}, "FR", []) == DEFAULT


def test_friday_evening_message_is_due_monday_morning():
    # Fri 9 Jan 2026 17:50: 10 min left on Friday, 50 min from Mon 12 Jan 09:00 (not a holiday)
    # -> Mon 09:50 CET = 08:50 UTC.
    due = DEFAULT.add(paris(2026, 1, 9, 17, 50), HOUR)
    assert due == utc(2026, 1, 12, 8, 50) and due.tzinfo is UTC
    assert DEFAULT.between(paris(2026, 1, 9, 17, 50), due) == HOUR
    # Same instant given in New York time (11:50 EST) gives the same answer.
    assert DEFAULT.add(datetime(2026, 1, 9, 11, 50, tzinfo=NEW_YORK), HOUR) == due


def test_deadline_exactly_at_closing_stays_that_day_and_zero_waits_for_opening():
    assert DEFAULT.add(paris(2026, 1, 9, 17), HOUR) == paris(2026, 1, 9, 18)
    assert DEFAULT.add(paris(2026, 1, 9, 18), 0) == paris(2026, 1, 12, 9)
    assert DEFAULT.add(paris(2026, 1, 10, 3), HOUR) == paris(2026, 1, 12, 10)  # Saturday start


def test_open_and_next_open():
    assert DEFAULT.is_open(paris(2026, 1, 9, 9)) and DEFAULT.is_open(paris(2026, 1, 9, 17, 59))
    assert not DEFAULT.is_open(paris(2026, 1, 9, 18))  # spans are [start, end)
    assert not DEFAULT.is_open(paris(2026, 1, 10, 12))  # Saturday
    assert not DEFAULT.is_open(paris(2026, 1, 1, 12))  # New Year's Day (Thursday)
    at = paris(2026, 1, 9, 10)
    assert DEFAULT.next_open(at) == at and DEFAULT.next_open(at).tzinfo is UTC
    assert DEFAULT.next_open(paris(2026, 1, 9, 18)) == utc(2026, 1, 12, 8)  # Mon 09:00 CET
    assert DEFAULT.next_open(paris(2025, 12, 31, 19)) == paris(2026, 1, 2, 9)  # skips 1 Jan


def test_easter_monday_is_skipped():
    # Fri 3 Apr 17:00 + 2 h: 1 h Friday, Mon 6 Apr is Easter Monday -> Tue 7 Apr 10:00 CEST.
    assert DEFAULT.add(paris(2026, 4, 3, 17), 2 * HOUR) == utc(2026, 4, 7, 8)
    assert DEFAULT.between(paris(2026, 4, 3, 0), paris(2026, 4, 8, 0)) == 18 * HOUR  # Fri + Tue


def test_may_day_friday_is_skipped():
    # Thu 30 Apr 17:30 + 1 h: 30 min Thursday, Fri 1 May holiday, weekend -> Mon 4 May 09:30.
    assert DEFAULT.add(paris(2026, 4, 30, 17, 30), HOUR) == paris(2026, 5, 4, 9, 30)


def test_bastille_day_is_skipped():
    # Mon 13 Jul 17:00 + 2 h: 1 h Monday, Tue 14 Jul holiday -> Wed 15 Jul 10:00.
    assert DEFAULT.add(paris(2026, 7, 13, 17), 2 * HOUR) == paris(2026, 7, 15, 10)


def test_custom_closed_day_is_skipped():
    # Wed 23 Dec 17:00 + 2 h: Thu 24 Dec closed by the team, Fri 25 Dec Christmas -> Mon 28 10:00.
    assert DEFAULT.add(paris(2026, 12, 23, 17), 2 * HOUR) == paris(2026, 12, 24, 10)
    closed = BusinessHours.from_config("Europe/Paris", None, "FR", ["2026-12-24"])
    assert closed.closed_days == frozenset({date(2026, 12, 24)})
    assert closed.add(paris(2026, 12, 23, 17), 2 * HOUR) == paris(2026, 12, 28, 10)
    assert not closed.is_open(paris(2026, 12, 24, 10))


def test_no_holidays_country_keeps_public_holidays_open():
    calendar = BusinessHours.from_config("Europe/Paris", None, None, None)
    assert calendar.is_open(paris(2026, 7, 14, 10))


def test_wait_across_spring_forward_weekend():
    # Fri 27 Mar 17:00 CET (16:00 UTC) + 2 h: 1 h Friday, clocks go forward on Sun 29 Mar,
    # Mon 30 Mar 09:00 CEST (07:00 UTC) + 1 h -> 08:00 UTC.
    due = DEFAULT.add(paris(2026, 3, 27, 17), 2 * HOUR)
    assert due == utc(2026, 3, 30, 8) == paris(2026, 3, 30, 10)
    assert DEFAULT.between(paris(2026, 3, 27, 17), due) == 2 * HOUR
    assert due - paris(2026, 3, 27, 17) == timedelta(days=2, hours=16)  # 1 h lost


def test_wait_across_fall_back_weekend():
    # Fri 23 Oct 17:00 CEST (15:00 UTC) + 2 h -> Mon 26 Oct 10:00 CET (09:00 UTC).
    due = DEFAULT.add(paris(2026, 10, 23, 17), 2 * HOUR)
    assert due == utc(2026, 10, 26, 9) == paris(2026, 10, 26, 10)
    assert due - paris(2026, 10, 23, 17) == timedelta(days=2, hours=18)  # 1 h gained


def test_round_the_clock_calendar_has_23_and_25_hour_days():
    # Sun 29 Mar: 00:00 CET = 23:00 UTC (28th) to 24:00 CEST = 22:00 UTC -> 23 h.
    assert ROUND_THE_CLOCK.between(*local_day(date(2026, 3, 29))) == 23 * HOUR
    # Sun 25 Oct: 00:00 CEST = 22:00 UTC (24th) to 24:00 CET = 23:00 UTC -> 25 h.
    assert ROUND_THE_CLOCK.between(*local_day(date(2026, 10, 25))) == 25 * HOUR
    assert ROUND_THE_CLOCK.between(*local_day(date(2026, 3, 30))) == 24 * HOUR
    # Sat 28 Mar 23:00 CET (22:00 UTC) + 4 h -> 02:00 UTC = 04:00 CEST.
    assert ROUND_THE_CLOCK.add(paris(2026, 3, 28, 23), 4 * HOUR) == utc(2026, 3, 29, 2)
    assert ROUND_THE_CLOCK.is_open(paris(2026, 3, 29, 0)) and ROUND_THE_CLOCK.is_open(
        paris(2026, 12, 25, 23, 59)
    )


def test_nine_to_six_on_a_change_day_is_nine_real_hours():
    sundays = BusinessHours.from_config("Europe/Paris", {"sun": [["09:00", "18:00"]]}, None, None)
    assert sundays.between(*local_day(date(2026, 3, 29))) == 9 * HOUR
    assert sundays.between(*local_day(date(2026, 10, 25))) == 9 * HOUR


def test_nonexistent_and_ambiguous_local_times():
    # Spring forward (29 Mar): 02:00-03:00 does not exist; a nonexistent time means the change
    # (03:00 CEST = 01:00 UTC): 01:00-02:30 is 1 h, 02:40-02:50 is empty, 02:55-04:00 is 1 h.
    gap = {"sun": [["01:00", "02:30"], ["02:40", "02:50"], ["02:55", "04:00"]]}
    spring = BusinessHours.from_config("Europe/Paris", gap, None, None)
    assert spring.day_intervals(date(2026, 3, 29)) == [
        (utc(2026, 3, 29, 0), utc(2026, 3, 29, 1)),
        (utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)),
    ]
    assert spring.between(*local_day(date(2026, 3, 29))) == 2 * HOUR
    assert spring.between(*local_day(date(2026, 4, 5))) == (1.5 + 10 / 60 + 65 / 60) * HOUR
    # Fall back (25 Oct): 02:00-03:00 happens twice; an ambiguous time means its first (CEST)
    # occurrence: 02:30 CEST = 00:30 UTC to 03:30 CET = 02:30 UTC -> 2 h.
    fall = BusinessHours.from_config("Europe/Paris", {"sun": [["02:30", "03:30"]]}, None, None)
    assert fall.day_intervals(date(2026, 10, 25)) == [
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 2, 30))
    ]
    assert fall.is_open(utc(2026, 10, 25, 1, 15))  # 02:15 CET, the second pass, is open too


def test_lunch_break():
    assert LUNCH.spans[0] == ((time(9), time(12, 30)), (time(13, 30), time(18)))
    # Mon 12 Jan 12:00 + 1 h: 30 min before lunch, 30 min after 13:30 -> 14:00.
    assert LUNCH.add(paris(2026, 1, 12, 12), HOUR) == paris(2026, 1, 12, 14)
    # 12:00-14:00 spans the lunch break: 30 + 30 min.
    assert LUNCH.between(paris(2026, 1, 12, 12), paris(2026, 1, 12, 14)) == HOUR
    assert LUNCH.between(paris(2026, 1, 12, 12, 40), paris(2026, 1, 12, 13, 20)) == 0
    assert LUNCH.add(paris(2026, 1, 12, 11, 30), HOUR) == paris(2026, 1, 12, 12, 30)
    assert not LUNCH.is_open(paris(2026, 1, 12, 13))
    assert LUNCH.next_open(paris(2026, 1, 12, 13)) == paris(2026, 1, 12, 13, 30)
    # A whole working day: 3.5 h + 4.5 h = 8 h.
    assert LUNCH.between(*local_day(date(2026, 1, 12))) == 8 * HOUR


def test_between_over_thirty_days():
    # April 2026 (Wed 1 - Thu 30): 3 + 5 + 5 + 5 + 4 = 22 weekdays, minus Easter Monday = 21.
    start, end = paris(2026, 4, 1), paris(2026, 5, 1)
    assert DEFAULT.between(start, end) == 21 * 9 * HOUR  # 189 h
    assert LUNCH.between(start, end) == 21 * 8 * HOUR  # 168 h
    assert ROUND_THE_CLOCK.between(start, end) == (end - start).total_seconds() == 30 * 24 * HOUR
    assert DEFAULT.between(end, start) == 0 and DEFAULT.between(start, start) == 0


def test_between_over_a_year():
    # 2026 starts on a Thursday: 52 weeks + 1 day -> 261 weekdays. French holidays on weekdays:
    # 1 Jan, 6 Apr, 1 May, 8 May, 14 May, 25 May, 14 Jul, 11 Nov, 25 Dec = 9 (15 Aug is a Saturday,
    # 1 Nov a Sunday) -> 252 days x 9 h = 2268 h.
    assert DEFAULT.between(paris(2026, 1, 1), paris(2027, 1, 1)) == 2268 * HOUR
    assert DEFAULT.add(paris(2026, 1, 1), 2268 * HOUR) == paris(2026, 12, 31, 18)


def test_add_then_between_round_trip():
    rng = random.Random(20260101)
    zones = [PARIS, NEW_YORK, UTC, ZoneInfo("Asia/Tokyo")]
    for calendar in (DEFAULT, LUNCH, ROUND_THE_CLOCK):
        for _ in range(150):
            start = utc(2026, 1, 1) + timedelta(seconds=rng.uniform(0, 365 * 86400))
            start = start.astimezone(rng.choice(zones))
            seconds = rng.choice([rng.uniform(0, 4 * HOUR), rng.uniform(0, 30 * 9 * HOUR)])
            due = calendar.add(start, seconds)
            assert due.tzinfo is UTC and due >= start
            assert calendar.between(start, due) == pytest.approx(seconds, abs=1)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"hours": {"mon": [["09:00", "25:00"]]}}, r"hours\.mon\[0\]: bad time '25:00'"),
        ({"hours": {"mon": [["9h", "18:00"]]}}, r"hours\.mon\[0\]: bad time '9h'"),
        ({"hours": {"mon": [["24:00", "24:00"]]}}, r"hours\.mon\[0\]: bad time '24:00'"),
        ({"hours": {"tue": [["18:00", "09:00"]]}}, r"hours\.tue\[0\]: end 09:00 is not after"),
        ({"hours": {"wed": [["09:00", "09:00"]]}}, r"hours\.wed\[0\]: end 09:00 is not after"),
        (
            {"hours": {"thu": [["09:00", "13:00"], ["12:00", "18:00"]]}},
            r"hours\.thu: spans 09:00–13:00 and 12:00–18:00 overlap",
        ),
        ({"hours": {"fri": [["09:00"]]}}, r"hours\.fri\[0\]: expected \[start, end\]"),
        ({"hours": {"monday": []}}, r"hours: unknown day 'monday'"),
        ({"hours": {day: [] for day in DAY_KEYS}}, "the calendar has no business hours"),
        ({"timezone": "Mars/Olympus_Mons"}, r"timezone: unknown timezone 'Mars/Olympus_Mons'"),
        ({"timezone": ""}, "timezone: unknown timezone ''"),
        ({"holidays_country": "XX"}, "holidays_country: unknown country 'XX'"),
        ({"closed_days": ["2026-13-01"]}, "closed_days: bad date '2026-13-01'"),
        ({"closed_days": ["24/12/2026"]}, "closed_days: bad date '24/12/2026'"),
    ],
)
def test_validation_errors(config, message):
    values = {"timezone": "Europe/Paris", "hours": None, "holidays_country": "FR"}
    values |= {"closed_days": None} | config
    with pytest.raises(ValueError, match=message):
        BusinessHours.from_config(**values)


def test_direct_construction_is_validated_too():
    with pytest.raises(ValueError, match="the calendar has no business hours"):
        BusinessHours(spans=((),) * 7)
    with pytest.raises(ValueError, match="overlap"):
        BusinessHours(spans=(((time(13), time(18)), (time(9), time(12))),) + ((),) * 6)


def test_naive_datetimes_and_negative_durations_are_rejected():
    with pytest.raises(ValueError, match="naive datetime"):
        DEFAULT.add(datetime(2026, 1, 9, 10), HOUR)
    with pytest.raises(ValueError, match="naive datetime"):
        ALWAYS.between(datetime(2026, 1, 9, 10), paris(2026, 1, 9, 11))
    with pytest.raises(ValueError, match="negative"):
        DEFAULT.add(paris(2026, 1, 9, 10), -1)
    with pytest.raises(ValueError, match="finite"):
        DEFAULT.add(paris(2026, 1, 9, 10), float("nan"))


def test_always_is_the_wall_clock():
    start = paris(2026, 3, 28, 23)  # across the spring-forward night, over a weekend
    due = ALWAYS.add(start, 4 * HOUR)
    assert due == utc(2026, 3, 29, 2) and due.tzinfo is UTC
    assert ALWAYS.between(start, due) == 4 * HOUR
    assert ALWAYS.between(due, start) == 0
    assert ALWAYS.between(paris(2026, 4, 1), paris(2026, 5, 1)) == 30 * 24 * HOUR
    assert ALWAYS.is_open(paris(2026, 12, 25, 3))
    assert ALWAYS.next_open(start) == start and ALWAYS.next_open(start).tzinfo is UTC
