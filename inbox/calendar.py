"""Business-hours arithmetic for response-time SLAs (pure Python, no database access).

Callers build a `BusinessHours` from the values of a `Calendar` row with `from_config`, or use
`ALWAYS` for 24/7 (wall-clock) policies; both offer `is_open`, `next_open`, `add` and `between`.
Inputs must be aware datetimes in any timezone; outputs are aware UTC.

Timezones and daylight saving: spans are wall-clock times in the calendar's timezone, turned into
real instants day by day with zoneinfo, so 09:00–18:00 is 9 real hours even on the day the clocks
change, and 00:00–24:00 lasts 23 h on the spring-forward day and 25 h on the fall-back day. A local
time means the first instant at which the wall clock shows that time or later:

* a nonexistent time (in the spring-forward gap, e.g. 02:30 in Paris on 29 March 2026) becomes the
  moment of the change (03:00 CEST), so that day 02:00–03:00 is empty and 01:00–02:30 lasts 1 h;
* an ambiguous time (repeated in the fall-back hour) takes its first occurrence (summer time), so
  on 25 October 2026 01:00–04:00 lasts 4 h and 02:30–03:30 lasts 2 h.

This reading is monotonic, so sorted, non-overlapping spans stay sorted and disjoint in real time.
"24:00" as an end (stored as `time.max`) means midnight at the end of the day. Public holidays come
from the `holidays` package (cached per country and year); with `closed_days` they have no hours.
Loops go day by day over open intervals, never minute by minute.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays

END_OF_DAY = time.max  # "24:00": midnight at the end of the day
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Spans = tuple[tuple[tuple[time, time], ...], ...]
DEFAULT_SPANS: Spans = (((time(9), time(18)),),) * 5 + ((),) * 2
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_IDLE_DAYS = 3 * 366  # no open time for this long: fail instead of looping (near) forever


class Clock(Protocol):
    """What SLA code needs: `BusinessHours` and `ALWAYS` both satisfy it."""

    def is_open(self, at: datetime) -> bool: ...
    def next_open(self, at: datetime) -> datetime: ...
    def add(self, start: datetime, seconds: float) -> datetime: ...
    def between(self, start: datetime, end: datetime) -> float: ...


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: pass an aware datetime")
    return dt.astimezone(UTC)


def _check_seconds(seconds: float) -> None:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be finite and not negative, got {seconds!r}")


def _fmt(t: time) -> str:
    return "24:00" if t == END_OF_DAY else t.strftime("%H:%M")


@lru_cache(maxsize=512)
def _holiday_dates(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=year))


def _local_to_utc(day: date, t: time, tz: ZoneInfo) -> datetime:
    """The first instant at which the wall clock in `tz` shows `day` `t` or later."""
    if t == END_OF_DAY:
        day, t = day + timedelta(days=1), time(0)
    naive = datetime.combine(day, t)
    utc = naive.replace(tzinfo=tz).astimezone(UTC)  # fold=0: first occurrence when ambiguous
    if utc.astimezone(tz).replace(tzinfo=None) == naive:
        return utc
    # In a gap: fold=1 reads it with the offset after the change (an instant before the change),
    # fold=0 with the offset before it (an instant after); bisect for the change in between.
    lo, hi = int(naive.replace(tzinfo=tz, fold=1).timestamp()), int(utc.timestamp())
    before = datetime.fromtimestamp(lo, tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, UTC)


def _parse_time(value: object, where: str, *, end: bool) -> time:
    match = _TIME_RE.fullmatch(value) if isinstance(value, str) else None
    hh, mm = (int(match[1]), int(match[2])) if match else (99, 99)
    if end and (hh, mm) == (24, 0):
        return END_OF_DAY
    if hh > 23 or mm > 59:
        raise ValueError(f"{where}: bad time {value!r} (expected HH:MM, 00:00–23:59, 24:00 as end)")
    return time(hh, mm)


def _parse_hours(hours: object) -> Spans:
    if not isinstance(hours, dict):
        raise ValueError(f'hours: expected {{"mon": [["09:00", "18:00"]], ...}}, not {hours!r}')
    unknown = sorted(str(key) for key in hours if key not in DAY_KEYS)
    if unknown:
        raise ValueError(f"hours: unknown day {unknown[0]!r} (expected {', '.join(DAY_KEYS)})")
    week = []
    for key in DAY_KEYS:
        raw = hours.get(key) or []
        if not isinstance(raw, list | tuple):
            raise ValueError(f"hours.{key}: expected a list of [start, end] pairs, not {raw!r}")
        day = []
        for i, pair in enumerate(raw):
            where = f"hours.{key}[{i}]"
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise ValueError(f"{where}: expected [start, end], not {pair!r}")
            start = _parse_time(pair[0], where, end=False)
            end = _parse_time(pair[1], where, end=True)
            if end <= start:
                raise ValueError(f"{where}: end {_fmt(end)} is not after start {_fmt(start)}")
            day.append((start, end))
        week.append(tuple(sorted(day)))
    return tuple(week)


def _parse_day(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        if isinstance(value, str) and _DATE_RE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise ValueError(f"closed_days: bad date {value!r} (expected YYYY-MM-DD)")


@dataclass(frozen=True)
class BusinessHours:
    """Open spans per weekday (Monday first) in a timezone, minus holidays and closed days."""

    timezone: str = "Europe/Paris"
    spans: Spans = DEFAULT_SPANS
    holidays_country: str | None = "FR"
    closed_days: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (KeyError, ValueError, TypeError, OSError) as exc:  # ZoneInfoNotFoundError: KeyError
            raise ValueError(f"timezone: unknown timezone {self.timezone!r}") from exc
        if self.holidays_country is not None:
            try:
                _holiday_dates(self.holidays_country, 2000)
            except (NotImplementedError, TypeError) as exc:
                raise ValueError(
                    f"holidays_country: unknown country {self.holidays_country!r}"
                ) from exc
        object.__setattr__(self, "closed_days", frozenset(self.closed_days))
        if len(self.spans) != 7:
            raise ValueError(f"spans: expected 7 weekdays (Monday first), got {len(self.spans)}")
        for key, day in zip(DAY_KEYS, self.spans, strict=True):
            for start, end in day:
                if not start < end:
                    raise ValueError(f"hours.{key}: end {_fmt(end)} is not after {_fmt(start)}")
            for (s1, e1), (s2, e2) in pairwise(day):
                if s2 < e1:
                    spans = f"{_fmt(s1)}–{_fmt(e1)} and {_fmt(s2)}–{_fmt(e2)}"
                    raise ValueError(f"hours.{key}: spans {spans} overlap (or are not sorted)")
        if not any(self.spans):
            raise ValueError("the calendar has no business hours")

    @classmethod
    def from_config(
        cls,
        timezone: str,
        hours: dict | None,
        holidays_country: str | None,
        closed_days: list[str] | None,
    ) -> BusinessHours:
        """Validate a `Calendar` row's values; empty hours mean Monday–Friday 09:00–18:00."""
        country = holidays_country.strip().upper() if isinstance(holidays_country, str) else None
        return cls(
            timezone=timezone,
            spans=_parse_hours(hours) if hours else DEFAULT_SPANS,
            holidays_country=country or None,
            closed_days=frozenset(_parse_day(d) for d in closed_days or ()),
        )

    @classmethod
    def default(cls) -> BusinessHours:
        """Europe/Paris, Monday–Friday 09:00–18:00, French public holidays."""
        return cls()

    def is_closed_day(self, day: date) -> bool:
        if day in self.closed_days:
            return True
        country = self.holidays_country
        return country is not None and day in _holiday_dates(country, day.year)

    def day_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open [start, end) UTC intervals of a local date; none on holidays and closed days."""
        if self.is_closed_day(day):
            return []
        tz = ZoneInfo(self.timezone)
        spans = [
            (_local_to_utc(day, s, tz), _local_to_utc(day, e, tz))
            for s, e in self.spans[day.weekday()]
        ]
        return [(s, e) for s, e in spans if s < e]

    def _intervals_after(self, at: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals ending after `at` (UTC), in order, without end."""
        day = at.astimezone(ZoneInfo(self.timezone)).date() - timedelta(days=1)
        idle = 0
        while idle < _MAX_IDLE_DAYS:
            intervals = self.day_intervals(day)
            idle = 0 if intervals else idle + 1
            yield from ((s, e) for s, e in intervals if e > at)
            day += timedelta(days=1)
        raise ValueError(f"no business hours for {_MAX_IDLE_DAYS} days before {day.isoformat()}")

    def is_open(self, at: datetime) -> bool:
        at = _utc(at)
        start, _ = next(self._intervals_after(at))
        return start <= at

    def next_open(self, at: datetime) -> datetime:
        """`at` itself (in UTC) when open, else the next opening."""
        at = _utc(at)
        start, _ = next(self._intervals_after(at))
        return max(start, at)

    def add(self, start: datetime, seconds: float) -> datetime:
        """When `seconds` of business time have elapsed after `start` (counting from the next
        opening if closed); a deadline falling exactly at a closing time stays at that closing."""
        _check_seconds(seconds)
        start, remaining = _utc(start), float(seconds)
        for s, e in self._intervals_after(start):
            s = max(s, start)
            available = (e - s).total_seconds()
            if remaining <= available:
                return s + timedelta(seconds=remaining)
            remaining -= available
        raise AssertionError("unreachable: _intervals_after never ends quietly")

    def between(self, start: datetime, end: datetime) -> float:
        """Business seconds in [start, end); 0 when end <= start."""
        start, end = _utc(start), _utc(end)
        total = 0.0
        if end <= start:
            return total
        for s, e in self._intervals_after(start):
            if s >= end:
                break
            total += (min(e, end) - max(s, start)).total_seconds()
        return total


@dataclass(frozen=True)
class WallClock:
    """24/7 policies: every second counts."""

    def is_open(self, at: datetime) -> bool:
        _utc(at)
        return True

    def next_open(self, at: datetime) -> datetime:
        return _utc(at)

    def add(self, start: datetime, seconds: float) -> datetime:
        _check_seconds(seconds)
        return _utc(start) + timedelta(seconds=seconds)

    def between(self, start: datetime, end: datetime) -> float:
        return max(0.0, (_utc(end) - _utc(start)).total_seconds())


ALWAYS = WallClock()
