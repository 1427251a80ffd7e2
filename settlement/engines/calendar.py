"""Clearing calendars: when is a bank open for settlement?

Pure Python (stdlib only, no Django). A bank's calendar is a set of daily windows in
its local wall-clock time (an IANA zone, daylight saving included), the ISO weekdays
on which a window may open, and holiday dates on which no window opens.

Semantics
---------
* A window belongs to the local date it *opens* on. The weekday and holiday checks
  apply to that opening date only: a Thursday 22:00-02:00 window is open on Friday at
  01:00 when Thursday is an active non-holiday day, whatever Friday is.
* ``closes <= opens`` means the window crosses midnight and closes on the next local
  date; ``closes == opens`` is invalid.
* Local times become UTC instants through ``zoneinfo`` with ``fold=0``: a wall-clock
  time repeated when clocks go back means its first occurrence; a time skipped when
  clocks go forward is read with the offset in force before the jump (so it lands
  after the jump by the size of the gap). A window whose UTC instants then come out
  with ``start >= end`` (it lies inside the skipped hour) is empty that day.
* Intervals are half-open ``[opening, closing)``: open at the opening instant, closed
  at the closing instant. Windows that touch or overlap (09:00-12:00 and 12:00-17:00,
  or a window running into the next day's) form one open interval.
* Every datetime argument must be timezone-aware (``ValueError`` otherwise); every
  datetime returned is in UTC.
* Searches look at most ``HORIZON`` (400 days) ahead; beyond it ``NoOpening`` (or
  ``NoClosing`` for a calendar that never closes) is raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "HORIZON",
    "BankCalendar",
    "NoClosing",
    "NoOpening",
    "Window",
    "is_open",
    "joint_opening",
    "next_closing",
    "next_opening",
    "open_intervals",
]

HORIZON = timedelta(days=400)
_HORIZON_DAYS = HORIZON.days
_ONE_DAY = timedelta(days=1)

Interval = tuple[datetime, datetime]


class NoOpening(ValueError):
    """No opening (or joint opening) within ``HORIZON`` of the instant asked about."""


class NoClosing(ValueError):
    """The calendar stays open without a break for longer than ``HORIZON``."""


@dataclass(frozen=True)
class Window:
    """A daily window in the bank's local wall-clock time; ``closes <= opens`` crosses midnight."""

    opens: time
    closes: time

    def __post_init__(self) -> None:
        for name in ("opens", "closes"):
            value = getattr(self, name)
            if not isinstance(value, time):
                raise ValueError(f"Window.{name} must be a datetime.time, got {value!r}")
            if value.tzinfo is not None:
                raise ValueError(f"Window.{name} is local wall-clock time and must be naive, got {value!r}")
            if value.fold:  # conversion to UTC always reads local times with fold=0
                object.__setattr__(self, name, value.replace(fold=0))
        if self.opens == self.closes:
            raise ValueError(f"Window opens and closes at the same time ({self.opens})")

    @property
    def crosses_midnight(self) -> bool:
        return self.closes < self.opens


@dataclass(frozen=True)
class BankCalendar:
    """A bank's clearing calendar. Iterables given for the collections are frozen on construction."""

    timezone: str
    weekdays: frozenset[int]
    windows: tuple[Window, ...]
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"unknown IANA time zone {self.timezone!r}") from exc
        # Not fields: the resolved zone and a per-calendar memo of each local day's UTC intervals.
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_day_cache", {})
        object.__setattr__(self, "weekdays", frozenset(self.weekdays))
        object.__setattr__(self, "windows", tuple(self.windows))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        bad_days = [d for d in self.weekdays if not isinstance(d, int) or not 1 <= d <= 7]
        if bad_days:
            raise ValueError(f"weekdays are ISO weekdays 1..7, got {sorted(bad_days, key=repr)}")
        if not all(isinstance(w, Window) for w in self.windows):
            raise ValueError("windows must be Window instances")
        if not all(isinstance(h, date) and not isinstance(h, datetime) for h in self.holidays):
            raise ValueError("holidays must be datetime.date values")

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @property
    def never_opens(self) -> bool:
        return not self.weekdays or not self.windows

    def is_business_day(self, day: date) -> bool:
        """Whether windows open on this local date (active weekday, not a holiday)."""
        return day.isoweekday() in self.weekdays and day not in self.holidays


# --------------------------------------------------------------------------- helpers


def _utc(value: datetime, name: str = "datetime") -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


def _local_date(calendar: BankCalendar, at: datetime) -> date:
    return at.astimezone(calendar.zone).date()


_DAY_CACHE_SIZE = 4096


def _day_intervals(calendar: BankCalendar, day: date) -> tuple[Interval, ...]:
    """UTC intervals of the windows opening on local ``day``, sorted, unmerged, each non-empty (memoised)."""
    cache = calendar._day_cache
    intervals = cache.get(day)
    if intervals is None:
        if len(cache) >= _DAY_CACHE_SIZE:
            cache.clear()
        intervals = cache[day] = _compute_day_intervals(calendar, day)
    return intervals


def _compute_day_intervals(calendar: BankCalendar, day: date) -> tuple[Interval, ...]:
    if not calendar.is_business_day(day):
        return ()
    zone = calendar.zone
    next_day = day + _ONE_DAY
    out = []
    for window in calendar.windows:
        start = datetime.combine(day, window.opens, tzinfo=zone).astimezone(UTC)
        end = datetime.combine(next_day if window.crosses_midnight else day, window.closes, tzinfo=zone).astimezone(UTC)
        if start < end:  # a window inside a skipped DST hour is empty that day
            out.append((start, end))
    out.sort()
    return tuple(out)


def _raw_intervals(calendar: BankCalendar, first_day: date, last_day: date) -> Iterator[Interval]:
    day = first_day
    while day <= last_day:
        yield from _day_intervals(calendar, day)
        day += _ONE_DAY


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


# Windows opening on local date d lie within [d 00:00, d+2 00:00) local time, so an
# instant with local date L is only covered by windows opening on L-1 or L. One more
# day on each side absorbs any DST oddity (offset jumps at midnight, 25-hour days).
_BEFORE = timedelta(days=2)
_AFTER = timedelta(days=1)


# --------------------------------------------------------------------------- public API


def open_intervals(calendar: BankCalendar, start: datetime, end: datetime) -> list[Interval]:
    """UTC intervals within ``[start, end)`` when the bank is open: clipped, sorted, merged when touching."""
    start, end = _utc(start, "start"), _utc(end, "end")
    if start >= end or calendar.never_opens:
        return []
    first = _local_date(calendar, start) - _BEFORE
    last = _local_date(calendar, end) + _AFTER
    clipped = ((max(s, start), min(e, end)) for s, e in _raw_intervals(calendar, first, last) if s < end and e > start)
    return _merge(clipped)


def is_open(calendar: BankCalendar, at: datetime) -> bool:
    """Whether the bank is open at ``at`` (open at an opening instant, closed at a closing instant)."""
    at = _utc(at, "at")
    if calendar.never_opens:
        return False
    local = _local_date(calendar, at)
    return any(s <= at < e for s, e in _raw_intervals(calendar, local - _BEFORE, local + _AFTER))


def next_opening(calendar: BankCalendar, at: datetime) -> datetime:
    """``at`` (in UTC) if the bank is open then, else the earliest later instant when it opens.

    Raises ``NoOpening`` if it does not open within ``HORIZON`` of ``at``.
    """
    at = _utc(at, "at")
    if calendar.never_opens:
        raise NoOpening(f"calendar {calendar.timezone} has no active weekday or no window")
    limit = at + HORIZON
    day = _local_date(calendar, at) - _BEFORE
    last_day = _local_date(calendar, limit) + _AFTER
    best: datetime | None = None
    stop_day: date | None = None
    while day <= last_day and (stop_day is None or day <= stop_day):
        for s, e in _day_intervals(calendar, day):
            if e > at:
                candidate = max(s, at)
                if best is None or candidate < best:
                    best = candidate
                if stop_day is None:
                    # Later days open later; look two more days to be immune to DST reordering.
                    stop_day = day + 2 * _ONE_DAY
        day += _ONE_DAY
    if best is None or best > limit:
        raise NoOpening(f"calendar {calendar.timezone} does not open within {_HORIZON_DAYS} days of {at.isoformat()}")
    return best


def next_closing(calendar: BankCalendar, at: datetime) -> datetime:
    """When the open interval containing ``at`` ends, or, if closed, the one starting at ``next_opening``.

    Touching windows count as one interval. Raises ``NoOpening`` like ``next_opening``,
    and ``NoClosing`` if the bank stays open for longer than ``HORIZON`` without a break.
    """
    opening = next_opening(calendar, at)
    limit = opening + HORIZON
    closing = opening
    while True:
        # Only windows opening within a day or two of the current closing can extend it.
        # One pass in order of start suffices: an extension never makes an earlier-starting
        # interval relevant again.
        reached = closing
        local = _local_date(calendar, reached)
        for s, e in sorted(_raw_intervals(calendar, local - _BEFORE, local + _AFTER)):
            if s <= closing < e:
                closing = e
        if closing == reached:
            return closing
        if closing > limit:
            raise NoClosing(f"calendar {calendar.timezone} stays open for more than {_HORIZON_DAYS} days")


def joint_opening(calendars: Sequence[BankCalendar], at: datetime) -> datetime:
    """The earliest instant ``>= at`` (UTC) when every calendar is open at once.

    Advances to the latest of the calendars' next openings until all are open there;
    each step moves to a strictly later opening, and the search stops at ``HORIZON``.
    Raises ``NoOpening`` if there is none within ``HORIZON`` of ``at``, ``ValueError``
    for an empty sequence.
    """
    at = _utc(at, "at")
    calendars = list(calendars)
    if not calendars:
        raise ValueError("joint_opening needs at least one calendar")
    limit = at + HORIZON
    candidate = at
    while candidate <= limit:
        candidate = max(next_opening(calendar, candidate) for calendar in calendars)
        if candidate > limit:
            break
        if all(is_open(calendar, candidate) for calendar in calendars):
            return candidate
    raise NoOpening(f"the calendars are never open together within {_HORIZON_DAYS} days of {at.isoformat()}")
