"""Template helpers for the calendar page: working days, window hours, instants in UTC and local time."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django import template

from deltran.charts import utc_offset_label, zone_abbreviation
from settlement.charts import describe_instant

register = template.Library()

WEEKDAY_NAMES = {1: "Mon", 2: "Tue", 3: "Wed", 4: "Thu", 5: "Fri", 6: "Sat", 7: "Sun"}


@register.filter
def weekdays_label(days) -> str:
    """{7, 1, 2, 3, 4} → 'Sun–Thu'; {1, 3, 5} → 'Mon, Wed, Fri'; all seven → 'Every day'."""
    days = set(days)
    if not days:
        return "None"
    if len(days) == 7:
        return "Every day"
    runs = []
    # Start each run at a day whose previous day is not in the set, so Sun–Thu stays one run across the week's end.
    for first in sorted(day for day in days if (day - 2) % 7 + 1 not in days):
        last = first
        while last % 7 + 1 in days:
            last = last % 7 + 1
        runs.append((first, last))
    labels = []
    for first, last in runs:
        length = (last - first) % 7 + 1
        if length >= 3:
            labels.append(f"{WEEKDAY_NAMES[first]}–{WEEKDAY_NAMES[last]}")
        else:
            labels.extend(WEEKDAY_NAMES[(first - 1 + i) % 7 + 1] for i in range(length))
    return ", ".join(labels)


@register.filter
def window_hours(windows) -> str:
    """Daily windows in local time: '10:00–18:00', or 'always open' when there are none."""
    if not windows:
        return "always open"
    return ", ".join(f"{w.opens:%H:%M}–{w.closes:%H:%M}" for w in windows)


@register.filter
def at_bank(at: datetime | None, zone_name: str) -> str:
    """'Mon 23 Nov 04:30 UTC (10:00 IST)'."""
    if at is None:
        return "—"
    return describe_instant(at, ZoneInfo(zone_name))


@register.filter
def zone_now(zone_name: str, at: datetime) -> str:
    """'UTC+05:30 (IST)' for the zone at an instant."""
    zone = ZoneInfo(zone_name)
    offset, abbr = utc_offset_label(at, zone), zone_abbreviation(at, zone)
    return offset if abbr == offset or abbr.startswith("UTC") else f"{offset}, {abbr}"
