"""The pure clearing-calendar engine (settlement/engines/calendar.py): no database.

Example tests use the seed's four banks; property tests (hypothesis) check the
engine's invariants on random calendars across 2025-2027, DST zones included.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settlement.engines.calendar import (
    HORIZON,
    BankCalendar,
    NoClosing,
    NoOpening,
    Window,
    is_open,
    joint_opening,
    next_closing,
    next_opening,
    open_intervals,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(1, 8)
SUN_THU = frozenset({SUN, MON, TUE, WED, THU})
MON_FRI = frozenset({MON, TUE, WED, THU, FRI})
MON_SAT = frozenset({MON, TUE, WED, THU, FRI, SAT})
ALL_WEEK = frozenset(range(1, 8))


def _calendar(zone, opens, closes, weekdays, holidays=()):
    return BankCalendar(
        timezone=zone,
        weekdays=frozenset(weekdays),
        windows=(Window(time.fromisoformat(opens), time.fromisoformat(closes)),),
        holidays=frozenset(holidays),
    )


# The seed's four banks.
ENBD = _calendar("Asia/Dubai", "08:00", "16:00", SUN_THU)
LEUMI = _calendar("Asia/Jerusalem", "09:00", "17:00", SUN_THU)
HABIB = _calendar("Asia/Karachi", "09:00", "17:00", MON_FRI)
SBI = _calendar("Asia/Kolkata", "10:00", "18:00", MON_SAT)
BANKS = {"ENBD": ENBD, "LEUMI": LEUMI, "HABIB": HABIB, "SBI": SBI}


def local(calendar, text):
    """An aware datetime at the given local wall-clock time of the calendar's zone."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(calendar.timezone))


def utc(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


MINUTE = timedelta(minutes=1)
TICK = timedelta(microseconds=1)

# --------------------------------------------------------------------------- windows of the four banks

WORKING_DAY = "2026-03-10"  # a Tuesday: a working day for all four banks, before any 2026 DST change


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(-MINUTE, False), (timedelta(0), True), (MINUTE, True)],
    ids=["minute-before", "at", "minute-after"],
)
@pytest.mark.parametrize("bank", BANKS, ids=list(BANKS))
def test_opening_boundary(bank, offset, expected):
    calendar = BANKS[bank]
    opening = local(calendar, f"{WORKING_DAY}T{calendar.windows[0].opens.isoformat()}")
    assert is_open(calendar, opening + offset) is expected
    assert next_opening(calendar, opening + offset) == (opening + offset if expected else opening)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(-MINUTE, True), (timedelta(0), False), (MINUTE, False)],
    ids=["minute-before", "at", "minute-after"],
)
@pytest.mark.parametrize("bank", BANKS, ids=list(BANKS))
def test_closing_boundary(bank, offset, expected):
    calendar = BANKS[bank]
    closing = local(calendar, f"{WORKING_DAY}T{calendar.windows[0].closes.isoformat()}")
    assert is_open(calendar, closing + offset) is expected
    if expected:
        assert next_closing(calendar, closing + offset) == closing
    else:  # closed: the next opening is the following (working) day's
        assert next_opening(calendar, closing + offset) > closing + timedelta(hours=12)


@pytest.mark.parametrize("bank", BANKS, ids=list(BANKS))
def test_results_are_utc(bank):
    calendar = BANKS[bank]
    at = local(calendar, f"{WORKING_DAY}T03:00")
    opening = next_opening(calendar, at)
    assert opening.utcoffset() == timedelta(0) and opening.tzinfo is UTC
    assert next_closing(calendar, at).tzinfo is UTC
    assert all(s.tzinfo is UTC and e.tzinfo is UTC for s, e in open_intervals(calendar, at, at + timedelta(days=3)))
    assert opening == local(calendar, f"{WORKING_DAY}T{calendar.windows[0].opens.isoformat()}")


# --------------------------------------------------------------------------- weekends


@pytest.mark.parametrize(
    ("bank", "closed_days", "next_working_day"),
    [
        ("ENBD", ["2026-03-13", "2026-03-14"], "2026-03-15"),  # Fri, Sat -> Sun
        ("LEUMI", ["2026-03-13", "2026-03-14"], "2026-03-15"),  # Fri, Sat -> Sun
        ("HABIB", ["2026-03-14", "2026-03-15"], "2026-03-16"),  # Sat, Sun -> Mon
        ("SBI", ["2026-03-15"], "2026-03-16"),  # Sun -> Mon
    ],
)
def test_weekend_is_closed_all_day(bank, closed_days, next_working_day):
    calendar = BANKS[bank]
    opens = calendar.windows[0].opens.isoformat()
    for day in closed_days:
        assert not any(is_open(calendar, local(calendar, f"{day}T{h:02d}:30")) for h in range(24))
        start = local(calendar, f"{day}T00:00")
        assert open_intervals(calendar, start, start + timedelta(days=1)) == []
    first_closed = local(calendar, f"{closed_days[0]}T{opens}")
    expected = local(calendar, f"{next_working_day}T{opens}")
    assert next_opening(calendar, first_closed) == expected
    assert is_open(calendar, expected)
    # The last working day before the weekend closes normally, and the next opening is after the weekend.
    friday_or_so = local(calendar, f"{closed_days[0]}T00:00") - timedelta(days=1)
    last_close = local(calendar, f"{friday_or_so.date().isoformat()}T{calendar.windows[0].closes.isoformat()}")
    assert next_opening(calendar, last_close) == expected


# --------------------------------------------------------------------------- holidays


def test_holiday_closed_all_day_and_next_opening_skips_it():
    holiday = date(2026, 3, 11)  # a Wednesday
    leumi = _calendar("Asia/Jerusalem", "09:00", "17:00", SUN_THU, holidays={holiday})
    for hour in range(24):
        assert not is_open(leumi, local(leumi, f"2026-03-11T{hour:02d}:00"))
    assert not is_open(leumi, local(leumi, "2026-03-11T09:00"))
    assert next_opening(leumi, local(leumi, "2026-03-10T17:00")) == local(leumi, "2026-03-12T09:00")
    assert next_opening(leumi, local(leumi, "2026-03-11T08:00")) == local(leumi, "2026-03-12T09:00")
    start = local(leumi, "2026-03-10T00:00")
    assert open_intervals(leumi, start, start + timedelta(days=3)) == [
        (utc("2026-03-10T07:00"), utc("2026-03-10T15:00")),
        (utc("2026-03-12T07:00"), utc("2026-03-12T15:00")),
    ]


def test_holiday_before_weekend_skips_to_next_working_day():
    holiday = date(2026, 3, 12)  # a Thursday; Fri and Sat are off for Leumi
    leumi = _calendar("Asia/Jerusalem", "09:00", "17:00", SUN_THU, holidays={holiday})
    assert next_opening(leumi, local(leumi, "2026-03-11T18:00")) == local(leumi, "2026-03-15T09:00")


# --------------------------------------------------------------------------- Israel's clock changes


def _offset_changes(zone_name, year):
    """Local dates in ``year`` whose noon offset differs from the day before's (found, not assumed)."""
    zone = ZoneInfo(zone_name)
    day, changes = date(year, 1, 1), []
    while day.year == year:
        before = datetime.combine(day - timedelta(days=1), time(12), zone).utcoffset()
        after = datetime.combine(day, time(12), zone).utcoffset()
        if before != after:
            changes.append((day, before, after))
        day += timedelta(days=1)
    return changes


def test_israel_2026_transition_dates_found_with_zoneinfo():
    changes = _offset_changes("Asia/Jerusalem", 2026)
    assert [day for day, _, _ in changes] == [date(2026, 3, 27), date(2026, 10, 25)]
    assert [(before, after) for _, before, after in changes] == [
        (timedelta(hours=2), timedelta(hours=3)),
        (timedelta(hours=3), timedelta(hours=2)),
    ]


@pytest.mark.parametrize("change", _offset_changes("Asia/Jerusalem", 2026), ids=lambda c: c[0].isoformat())
def test_israel_nine_oclock_maps_to_the_right_utc_instant_around_each_change(change):
    day, before, after = change
    nine_utc = {timedelta(hours=3): time(6), timedelta(hours=2): time(7)}  # summer +03 -> 06:00Z, winter +02 -> 07:00Z
    every_day = _calendar("Asia/Jerusalem", "09:00", "17:00", ALL_WEEK)
    for local_day, offset in [(day - timedelta(days=1), before), (day, after), (day + timedelta(days=1), after)]:
        expected = datetime.combine(local_day, nine_utc[offset], UTC)
        assert expected == datetime.combine(local_day, time(9), UTC) - offset
        midnight = datetime.combine(local_day, time(0), UTC)
        assert next_opening(every_day, midnight) == expected
        assert open_intervals(every_day, midnight, midnight + timedelta(days=1)) == [
            (expected, expected + timedelta(hours=8))
        ]
        assert not is_open(every_day, expected - MINUTE) and is_open(every_day, expected)
        assert is_open(every_day, expected + timedelta(hours=8) - MINUTE)
        assert not is_open(every_day, expected + timedelta(hours=8))


def test_leumi_across_the_2026_changes():
    # Thu 26 Mar (winter, +02) -> the weekend -> Sun 29 Mar (summer, +03).
    assert next_opening(LEUMI, local(LEUMI, "2026-03-26T17:00")) == utc("2026-03-29T06:00")
    assert next_closing(LEUMI, local(LEUMI, "2026-03-26T17:00")) == utc("2026-03-29T14:00")
    # Thu 22 Oct (summer) -> Sun 25 Oct, the day clocks go back (winter, +02).
    assert next_opening(LEUMI, local(LEUMI, "2026-10-22T08:00")) == utc("2026-10-22T06:00")
    assert next_opening(LEUMI, local(LEUMI, "2026-10-22T17:00")) == utc("2026-10-25T07:00")


def test_windows_in_the_dst_gap_and_overlap_do_not_crash():
    # Asia/Jerusalem 2026: on 27 Mar 02:00 jumps to 03:00; on 25 Oct 02:00 goes back to 01:00.
    inside_gap = _calendar("Asia/Jerusalem", "02:00", "03:00", ALL_WEEK)
    day = utc("2026-03-26T12:00")
    intervals = open_intervals(inside_gap, day, day + timedelta(days=2))
    assert intervals == [(utc("2026-03-27T23:00"), utc("2026-03-28T00:00"))]
    # The window of 27 Mar is empty (02:00 read at +02 is 00:00Z, 03:00 at +03 is 00:00Z too): the bank
    # opens again on 28 Mar at 02:00 +03.
    assert next_opening(inside_gap, utc("2026-03-26T23:00")) == utc("2026-03-27T23:00")
    straddling_gap = _calendar("Asia/Jerusalem", "02:30", "04:00", ALL_WEEK)
    assert open_intervals(straddling_gap, utc("2026-03-26T22:00"), utc("2026-03-27T06:00")) == [
        (utc("2026-03-27T00:30"), utc("2026-03-27T01:00"))
    ]
    overlap = _calendar("Asia/Jerusalem", "01:30", "03:00", ALL_WEEK)
    # 01:30 on 25 Oct happens twice; fold=0 takes the first (+03): 22:30Z; 03:00 is +02: 01:00Z.
    assert open_intervals(overlap, utc("2026-10-24T12:00"), utc("2026-10-25T12:00")) == [
        (utc("2026-10-24T22:30"), utc("2026-10-25T01:00"))
    ]
    assert next_closing(overlap, utc("2026-10-24T23:00")) == utc("2026-10-25T01:00")


def test_lord_howe_half_hour_shift():
    # Australia/Lord_Howe moves its clocks by 30 minutes: 02:00 -> 02:30 on 4 Oct 2026.
    changes = _offset_changes("Australia/Lord_Howe", 2026)
    forward = next(day for day, before, after in changes if after > before)
    assert forward == date(2026, 10, 4)
    in_gap = _calendar("Australia/Lord_Howe", "02:00", "02:30", ALL_WEEK)
    start = datetime.combine(forward, time(0), ZoneInfo("Australia/Lord_Howe"))
    assert open_intervals(in_gap, start, start + timedelta(hours=23)) == []
    across = _calendar("Australia/Lord_Howe", "01:45", "03:00", ALL_WEEK)
    (interval,) = open_intervals(across, start, start + timedelta(hours=23))
    assert interval[1] - interval[0] == timedelta(minutes=45)


# --------------------------------------------------------------------------- a window crossing midnight

NIGHT = _calendar("Asia/Dubai", "22:00", "02:00", {THU})  # Thursday 22:00 -> Friday 02:00 only


def test_midnight_window_open_on_both_sides_of_midnight():
    assert is_open(NIGHT, local(NIGHT, "2026-03-12T22:00"))  # Thursday
    assert is_open(NIGHT, local(NIGHT, "2026-03-12T23:30"))
    assert is_open(NIGHT, local(NIGHT, "2026-03-13T00:00"))  # Friday, not an active day itself
    assert is_open(NIGHT, local(NIGHT, "2026-03-13T01:30"))
    assert is_open(NIGHT, local(NIGHT, "2026-03-13T01:59"))
    assert not is_open(NIGHT, local(NIGHT, "2026-03-13T02:00"))
    assert not is_open(NIGHT, local(NIGHT, "2026-03-13T21:59"))
    assert not is_open(NIGHT, local(NIGHT, "2026-03-13T22:00"))  # Friday's window: Friday is not active
    assert not is_open(NIGHT, local(NIGHT, "2026-03-12T21:59"))
    assert next_closing(NIGHT, local(NIGHT, "2026-03-12T23:30")) == local(NIGHT, "2026-03-13T02:00")
    assert next_opening(NIGHT, local(NIGHT, "2026-03-13T02:00")) == local(NIGHT, "2026-03-19T22:00")


def test_midnight_window_weekday_rule_is_the_opening_day():
    # Thursday 01:30 belongs to Wednesday's window; Wednesday is not active.
    assert not is_open(NIGHT, local(NIGHT, "2026-03-12T01:30"))
    assert not is_open(NIGHT, local(NIGHT, "2026-03-11T23:30"))
    # A holiday on the opening day closes the part after midnight too.
    holiday = _calendar("Asia/Dubai", "22:00", "02:00", {THU}, holidays={date(2026, 3, 12)})
    assert not is_open(holiday, local(holiday, "2026-03-12T23:30"))
    assert not is_open(holiday, local(holiday, "2026-03-13T01:30"))
    # A holiday on the day after does not.
    day_after = _calendar("Asia/Dubai", "22:00", "02:00", {THU}, holidays={date(2026, 3, 13)})
    assert is_open(day_after, local(day_after, "2026-03-13T01:30"))


def test_touching_windows_merge_and_two_windows_a_day():
    split = BankCalendar(
        "Asia/Dubai",
        MON_FRI,
        (Window(time(9), time(12)), Window(time(13), time(17))),
    )
    day = local(split, "2026-03-10T00:00")
    assert open_intervals(split, day, day + timedelta(days=1)) == [
        (utc("2026-03-10T05:00"), utc("2026-03-10T08:00")),
        (utc("2026-03-10T09:00"), utc("2026-03-10T13:00")),
    ]
    assert not is_open(split, local(split, "2026-03-10T12:30"))
    assert next_opening(split, local(split, "2026-03-10T12:30")) == local(split, "2026-03-10T13:00")
    assert next_closing(split, local(split, "2026-03-10T10:00")) == local(split, "2026-03-10T12:00")
    touching = BankCalendar("Asia/Dubai", MON_FRI, (Window(time(9), time(12)), Window(time(12), time(17))))
    assert open_intervals(touching, day, day + timedelta(days=1)) == [
        (utc("2026-03-10T05:00"), utc("2026-03-10T13:00")),
    ]
    assert next_closing(touching, local(touching, "2026-03-10T10:00")) == local(touching, "2026-03-10T17:00")
    # Night windows every day chain into one interval across midnight: 20:00-02:00 and 02:00-04:00.
    chained = BankCalendar("Asia/Dubai", {TUE}, (Window(time(20), time(2)), Window(time(2), time(4))))
    assert next_closing(chained, local(chained, "2026-03-10T21:00")) == local(chained, "2026-03-11T02:00")
    chained_daily = BankCalendar("Asia/Dubai", ALL_WEEK, (Window(time(20), time(2)), Window(time(2), time(4))))
    assert next_closing(chained_daily, local(chained_daily, "2026-03-10T21:00")) == local(
        chained_daily, "2026-03-11T04:00"
    )


def test_clipping_of_open_intervals():
    start, end = local(ENBD, "2026-03-10T12:00"), local(ENBD, "2026-03-11T09:00")
    assert open_intervals(ENBD, start, end) == [
        (utc("2026-03-10T08:00"), utc("2026-03-10T12:00")),
        (utc("2026-03-11T04:00"), utc("2026-03-11T05:00")),
    ]
    assert open_intervals(ENBD, end, start) == []
    assert open_intervals(ENBD, start, start) == []


# --------------------------------------------------------------------------- joint openings


def test_dubai_to_karachi_sent_friday_opens_monday():
    sent = local(ENBD, "2026-03-13T10:00")  # Friday 10:00 in Dubai
    joint = joint_opening([ENBD, HABIB], sent)
    assert joint == local(ENBD, "2026-03-16T08:00") == local(HABIB, "2026-03-16T09:00") == utc("2026-03-16T04:00")
    assert joint_opening([HABIB, ENBD], sent) == joint


def test_uae_india_overlap_hours():
    # Dubai 08-16 (+04) = 04:00-12:00Z; Kolkata 10-18 (+05:30) = 04:30-12:30Z; Mon-Thu in common.
    pair = [ENBD, SBI]
    assert joint_opening(pair, utc("2026-03-16T03:00")) == utc("2026-03-16T04:30")  # Monday, before both
    assert joint_opening(pair, utc("2026-03-16T04:15")) == utc("2026-03-16T04:30")  # Dubai open, India not yet
    assert joint_opening(pair, utc("2026-03-16T11:59")) == utc("2026-03-16T11:59")  # both open
    assert joint_opening(pair, utc("2026-03-16T12:00")) == utc("2026-03-17T04:30")  # Dubai closed, India open
    assert joint_opening(pair, utc("2026-03-19T12:00")) == utc("2026-03-23T04:30")  # Thu -> Fri/Sat/Sun -> Mon
    assert joint_opening(pair, utc("2026-03-15T05:00")) == utc("2026-03-16T04:30")  # Sun: Dubai open, India not


def test_israel_pakistan_winter_and_summer():
    pair = [LEUMI, HABIB]
    # Winter: Jerusalem 09-17 (+02) = 07-15Z; Karachi 09-17 (+05) = 04-12Z.
    assert joint_opening(pair, utc("2026-03-12T13:00")) == utc("2026-03-16T07:00")  # Thu after Karachi closed
    assert joint_opening(pair, utc("2026-03-13T08:00")) == utc("2026-03-16T07:00")  # Fri: Karachi only
    assert joint_opening(pair, utc("2026-03-15T08:00")) == utc("2026-03-16T07:00")  # Sun: Jerusalem only
    # Summer (+03): Jerusalem 06-14Z.
    assert joint_opening(pair, utc("2026-06-14T08:00")) == utc("2026-06-15T06:00")
    assert joint_opening(pair, utc("2026-06-15T11:00")) == utc("2026-06-15T11:00")


def test_joint_opening_of_all_four_banks():
    # Common days Mon-Thu; common hours 07:00Z (Leumi, winter) .. 12:00Z (Dubai, Karachi).
    assert joint_opening(list(BANKS.values()), utc("2026-03-13T10:00")) == utc("2026-03-16T07:00")


def test_joint_opening_never():
    friday_only = _calendar("Asia/Dubai", "08:00", "16:00", {FRI})
    with pytest.raises(NoOpening):
        joint_opening([ENBD, friday_only], utc("2026-03-10T00:00"))
    with pytest.raises(ValueError):
        joint_opening([], utc("2026-03-10T00:00"))


# --------------------------------------------------------------------------- invalid input


@pytest.mark.parametrize(
    "call",
    [
        lambda at: is_open(ENBD, at),
        lambda at: next_opening(ENBD, at),
        lambda at: next_closing(ENBD, at),
        lambda at: joint_opening([ENBD, SBI], at),
        lambda at: open_intervals(ENBD, at, utc("2026-04-01T00:00")),
        lambda at: open_intervals(ENBD, utc("2026-01-01T00:00"), at),
    ],
    ids=["is_open", "next_opening", "next_closing", "joint_opening", "open_intervals-start", "open_intervals-end"],
)
def test_naive_datetime_is_rejected(call):
    with pytest.raises(ValueError, match="timezone-aware"):
        call(datetime(2026, 3, 10, 12, 0))


def test_calendar_without_weekdays_or_windows_never_opens():
    no_days = BankCalendar("Asia/Dubai", frozenset(), (Window(time(8), time(16)),))
    no_windows = BankCalendar("Asia/Dubai", SUN_THU, ())
    at = utc("2026-03-10T06:00")
    for calendar in (no_days, no_windows):
        assert not is_open(calendar, at)
        assert open_intervals(calendar, at, at + timedelta(days=30)) == []
        with pytest.raises(NoOpening):
            next_opening(calendar, at)
        with pytest.raises(NoOpening):
            next_closing(calendar, at)
        with pytest.raises(NoOpening):
            joint_opening([ENBD, calendar], at)
    assert issubclass(NoOpening, ValueError)


def test_only_holidays_for_more_than_the_horizon_is_no_opening():
    start = date(2026, 1, 1)
    all_holidays = frozenset(start + timedelta(days=i) for i in range(-3, 420))
    calendar = _calendar("Asia/Dubai", "08:00", "16:00", ALL_WEEK, holidays=all_holidays)
    with pytest.raises(NoOpening):
        next_opening(calendar, utc("2026-01-01T00:00"))


def test_always_open_calendar_has_no_closing():
    always = BankCalendar("UTC", ALL_WEEK, (Window(time(0), time(12)), Window(time(12), time(0))))
    assert next_opening(always, utc("2026-03-10T05:00")) == utc("2026-03-10T05:00")
    with pytest.raises(NoClosing):
        next_closing(always, utc("2026-03-10T05:00"))


def test_invalid_definitions():
    with pytest.raises(ValueError):
        Window(time(9), time(9))
    with pytest.raises(ValueError):
        Window(time(9, tzinfo=UTC), time(17))
    with pytest.raises(ValueError):
        BankCalendar("Mars/Olympus_Mons", SUN_THU, (Window(time(9), time(17)),))
    with pytest.raises(ValueError):
        BankCalendar("Asia/Dubai", {0, 1}, (Window(time(9), time(17)),))
    # Iterables are frozen, so calendars are hashable values.
    calendar = BankCalendar("Asia/Dubai", [1, 2], [Window(time(9), time(17))], [date(2026, 1, 1)])
    assert calendar.weekdays == frozenset({1, 2}) and isinstance(calendar.windows, tuple)
    assert hash(calendar) == hash(BankCalendar("Asia/Dubai", {2, 1}, (Window(time(9), time(17)),), {date(2026, 1, 1)}))


# --------------------------------------------------------------------------- properties

ZONES = [
    "Asia/Jerusalem",
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Asia/Dubai",
    "America/Santiago",
    "UTC",
]
LOW, HIGH = datetime(2025, 1, 1), datetime(2027, 12, 31, 23, 59)

# Times biased towards the DST transition hours (00:00-03:30) and the quarter hours.
times = st.one_of(
    st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])),
    st.builds(time, st.integers(0, 3), st.integers(0, 59)),
    st.builds(time, st.integers(0, 23), st.integers(0, 59)),
)
windows = st.tuples(times, times).filter(lambda pair: pair[0] != pair[1]).map(lambda pair: Window(*pair))
instants = st.datetimes(min_value=LOW, max_value=HIGH).map(lambda value: value.replace(tzinfo=UTC))


@st.composite
def calendars(draw, near=None):
    zone = draw(st.sampled_from(ZONES))
    weekdays = draw(st.frozensets(st.integers(1, 7), min_size=1))
    wins = tuple(draw(st.lists(windows, min_size=1, max_size=2)))
    base = near.date() if near is not None else draw(st.dates(LOW.date(), HIGH.date()))
    holidays = draw(st.frozensets(st.integers(-3, 20).map(lambda n: base + timedelta(days=n)), max_size=6))
    return BankCalendar(zone, weekdays, wins, holidays)


@st.composite
def calendar_and_instant(draw):
    at = draw(instants)
    return draw(calendars(near=at)), at


PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _samples_between(low, high, step=timedelta(minutes=15), cap=3000):
    """Instants strictly between ``low`` and ``high``: every ``step`` (coarser if too many), plus a few just before."""
    if high <= low:
        return []
    span = high - low
    step = max(step, span / cap)
    out, t = [], low + step
    while t < high:
        out.append(t)
        t += step
    out += [x for x in (high - TICK, high - timedelta(seconds=1), high - MINUTE) if x > low]
    return out


def _wall_clock_open(calendar, at):
    """An independent oracle, valid where the zone's offset is constant around ``at``: read it on the wall clock."""
    zone = ZoneInfo(calendar.timezone)
    wall = at.astimezone(zone).replace(tzinfo=None)
    for opening_day in (wall.date() - timedelta(days=1), wall.date()):
        if opening_day.isoweekday() not in calendar.weekdays or opening_day in calendar.holidays:
            continue
        for w in calendar.windows:
            opens = datetime.combine(opening_day, w.opens)
            closes = datetime.combine(opening_day + timedelta(days=1 if w.closes < w.opens else 0), w.closes)
            if opens <= wall < closes:
                return True
    return False


@PROPERTY
@given(calendar_and_instant())
def test_property_next_opening_is_the_first_open_instant(case):
    calendar, at = case
    try:
        opening = next_opening(calendar, at)
    except NoOpening:
        assert open_intervals(calendar, at, at + HORIZON + TICK) == []
        return
    assert opening >= at and opening.tzinfo is UTC
    assert opening - at <= HORIZON
    assert is_open(calendar, opening)
    if is_open(calendar, at):
        assert opening == at
    for t in _samples_between(at, opening):
        assert not is_open(calendar, t), t
    first = open_intervals(calendar, at, opening + timedelta(days=2))[0]
    assert first[0] == opening
    closing = None
    try:
        closing = next_closing(calendar, at)
    except NoClosing:
        assert first == (opening, opening + timedelta(days=2))
    if closing is not None:
        assert closing > opening
        assert not is_open(calendar, closing) and is_open(calendar, closing - TICK)
        (interval,) = [iv for iv in open_intervals(calendar, at, closing + timedelta(days=1)) if iv[0] == opening]
        assert interval == (opening, closing)


@PROPERTY
@given(calendar_and_instant(), st.integers(-3 * 24 * 60, 3 * 24 * 60))
def test_property_is_open_agrees_with_open_intervals(case, minutes):
    calendar, at = case
    at = at + timedelta(minutes=minutes)
    span = timedelta(days=3)
    intervals = open_intervals(calendar, at - span, at + span)
    assert is_open(calendar, at) == any(s <= at < e for s, e in intervals)
    # Well formed: UTC, non-empty, sorted, separated by gaps, inside the requested range.
    for s, e in intervals:
        assert s.tzinfo is UTC and e.tzinfo is UTC and at - span <= s < e <= at + span
    for (_, e1), (s2, _) in zip(intervals, intervals[1:], strict=False):
        assert e1 < s2
    # Boundaries: open at an opening, closed at a closing and just before an opening.
    for s, e in intervals:
        assert is_open(calendar, s) and is_open(calendar, e - TICK)
        if s > at - span:
            assert not is_open(calendar, s - TICK)
        if e < at + span:
            assert not is_open(calendar, e)
    # Where the UTC offset is constant for two days around, the wall clock is an independent oracle.
    zone = ZoneInfo(calendar.timezone)
    offsets = {(at + timedelta(hours=h)).astimezone(zone).utcoffset() for h in range(-50, 51)}
    if len(offsets) == 1:
        assert is_open(calendar, at) == _wall_clock_open(calendar, at)


def _intersect(first, second):
    """Intersection of two sorted lists of disjoint intervals (two-pointer sweep)."""
    out, i, j = [], 0, 0
    while i < len(first) and j < len(second):
        low, high = max(first[i][0], second[j][0]), min(first[i][1], second[j][1])
        if low < high:
            out.append((low, high))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return out


@PROPERTY
@given(st.data())
def test_property_joint_opening(data):
    at = data.draw(instants)
    group = data.draw(st.lists(calendars(near=at), min_size=2, max_size=3))

    def common_intervals(end):
        # Oracle: intersect the open intervals of all calendars over [at, end).
        common = open_intervals(group[0], at, end)
        for calendar in group[1:]:
            common = _intersect(common, open_intervals(calendar, at, end))
        return common

    try:
        joint = joint_opening(group, at)
    except NoOpening:
        assert common_intervals(at + HORIZON + TICK) == []
        return
    assert joint >= at and joint.tzinfo is UTC
    assert joint - at <= HORIZON
    assert all(is_open(calendar, joint) for calendar in group)
    common = common_intervals(joint + timedelta(days=1))
    assert common and common[0][0] == joint


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calendar_and_instant())
def test_property_joint_opening_of_one_calendar_is_next_opening(case):
    calendar, at = case
    try:
        expected = next_opening(calendar, at)
    except NoOpening:
        with pytest.raises(NoOpening):
            joint_opening([calendar], at)
        return
    assert joint_opening([calendar], at) == expected == joint_opening([calendar, calendar], at)
