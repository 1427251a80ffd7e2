"""Geometry for the server-drawn SVG charts: where an instant falls on a time axis, as a percentage of its width.

The pages draw charts as inline SVG whose horizontal positions are percentages of the
chart's width and whose vertical positions are pixels, so a chart stretches to any
screen width while its text keeps its size. Pure Python, no Django.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def pct(fraction: float) -> str:
    """0.123456 -> "12.3456" (an SVG percentage without the sign, clamped to the chart)."""
    return f"{min(max(fraction, 0.0), 1.0) * 100:.4f}"


@dataclass(frozen=True)
class TimeScale:
    """A time axis from ``start`` to ``end`` (aware datetimes)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a time axis must end after it starts")

    @property
    def span_seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def fraction(self, at: datetime) -> float:
        return (at - self.start).total_seconds() / self.span_seconds

    def x(self, at: datetime) -> str:
        return pct(self.fraction(at))

    def width(self, start: datetime, end: datetime) -> str:
        """The width of [start, end) clipped to the axis, as a percentage."""
        start, end = max(start, self.start), min(end, self.end)
        return pct(max((end - start).total_seconds(), 0.0) / self.span_seconds)

    def contains(self, at: datetime) -> bool:
        return self.start <= at <= self.end

    def ticks(self, step: timedelta) -> list[datetime]:
        """Instants within the axis on whole multiples of ``step`` counted from a UTC midnight."""
        start = self.start.astimezone(UTC)
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        steps = -(-(start - midnight) // step)  # ceiling division of timedeltas
        tick = midnight + steps * step
        out = []
        while tick <= self.end:
            out.append(tick)
            tick += step
        return out


def zone_abbreviation(at: datetime, zone: ZoneInfo) -> str:
    """IST, PKT, IDT; a zone without a letter abbreviation (Asia/Dubai's "+04") reads "UTC+04"."""
    name = at.astimezone(zone).strftime("%Z")
    return f"UTC{name}" if name[:1] in "+-" else name


def utc_offset_label(at: datetime, zone: ZoneInfo) -> str:
    """UTC+05:30, UTC+02:00, UTC-03:00 at the given instant."""
    offset = at.astimezone(zone).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"
