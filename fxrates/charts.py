"""The FX page's line charts: a pair's last hours of rates, its base rate and its spikes, as inline SVG.

Presentation only (no queries). The line is drawn in a nested SVG stretched to the
chart's width (x in 0..1000 units, y in pixels); markers and text sit in the outer
SVG at percentage x and pixel y, so they keep their shape at any width.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from deltran.charts import TimeScale, pct
from fxrates.selectors import RateBoardRow, RatePoint

HEIGHT = 210
PLOT_TOP = 16
PLOT_HEIGHT = 160
LINE_WIDTH_UNITS = 1000
# Beyond this many points a chart draws every n-th one and its spikes (unless they too are more than this).
MAX_DRAWN_POINTS = 900


@dataclass(frozen=True)
class Marker:
    x: str  # percent
    y: float  # pixels
    up: bool
    title: str


@dataclass(frozen=True)
class Gridline:
    y: float
    label: str


@dataclass(frozen=True)
class TimeTick:
    x: str
    label: str
    anchor: str


@dataclass(frozen=True)
class RateChart:
    code: str
    slug: str
    height: int
    plot_top: int
    plot_height: int
    plot_bottom: int
    polyline: str
    gridlines: list[Gridline]
    base_y: float
    base_label: str
    ticks: list[TimeTick]
    spikes: list[Marker]
    last: Marker | None
    summary: str
    empty: bool


def rate_places(low: Decimal, high: Decimal) -> int:
    """Decimal places that tell the gridlines apart: 2 for a wide range, up to 8 for a very narrow one."""
    spread = high - low
    if spread <= 0:
        return 4
    return min(8, max(2, 1 - spread.adjusted()))


def _fmt(value: Decimal, places: int) -> str:
    return f"{value:,.{places}f}"


def _thin(points: list[RatePoint]) -> list[RatePoint]:
    if len(points) <= MAX_DRAWN_POINTS:
        return points
    step = -(-len(points) // MAX_DRAWN_POINTS)
    last = len(points) - 1
    keep_spikes = sum(p.is_spike for p in points) <= MAX_DRAWN_POINTS
    return [p for i, p in enumerate(points) if i % step == 0 or i == last or (keep_spikes and p.is_spike)]


def spike_title(code: str, spike_size: Decimal | None, rate: Decimal, at: datetime) -> str:
    size = f"{spike_size * 100:+.2f}%" if spike_size is not None else "spike"
    return f"{code} spike {size} to {rate} at {at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def rate_chart(row: RateBoardRow, *, start: datetime, end: datetime) -> RateChart:
    scale = TimeScale(start, end)
    points = _thin(row.points)
    code = row.code
    empty = not points
    if empty:
        # No movement in the window: the rate in force is flat across it.
        points = [RatePoint(start, row.rate, False, None), RatePoint(end, row.rate, False, None)]
    values = [p.rate for p in points] + [row.pair.rate]
    low, high = min(values), max(values)
    pad = (high - low) * Decimal("0.08") or (high * Decimal("0.001")) or Decimal("0.0001")
    low, high = low - pad, high + pad
    span = high - low

    def y(rate: Decimal) -> float:
        return round(PLOT_TOP + float((high - rate) / span) * PLOT_HEIGHT, 2)

    def x_units(at: datetime) -> float:
        return round(min(max(scale.fraction(at), 0.0), 1.0) * LINE_WIDTH_UNITS, 2)

    coords = [(x_units(p.at), y(p.rate)) for p in points]
    if coords[-1][0] < LINE_WIDTH_UNITS * 0.99:
        coords.append((LINE_WIDTH_UNITS, coords[-1][1]))  # the last rate stays in force until now
    # The nested SVG's own y runs from 0 at the plot's top.
    polyline = " ".join(f"{cx},{round(cy - PLOT_TOP, 2)}" for cx, cy in coords)

    places = rate_places(low, high)
    gridlines = [
        Gridline(y(value), _fmt(value, places)) for value in (high - span / 10, low + span / 2, low + span / 10)
    ]
    ticks = []
    for tick in scale.ticks(timedelta(hours=6)):
        fraction = scale.fraction(tick)
        anchor = "start" if fraction < 0.06 else "end" if fraction > 0.94 else "middle"
        ticks.append(TimeTick(pct(fraction), f"{tick.astimezone(UTC):%H:%M}", anchor))

    spike_markers = [
        Marker(scale.x(p.at), y(p.rate), (p.spike_size or 0) >= 0, spike_title(code, p.spike_size, p.rate, p.at))
        for p in points
        if p.is_spike
    ]
    last_point = None
    if not empty:
        latest = points[-1]
        last_point = Marker(
            scale.x(latest.at),
            y(latest.rate),
            True,
            f"{code} {latest.rate} at {latest.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
        )
    drawn = [p.rate for p in points]
    summary = (
        f"{code} over the last {round(scale.span_seconds / 3600)} hours: "
        + (
            f"no change, {row.rate}"
            if empty
            else f"from {drawn[0]} to {drawn[-1]}, low {min(drawn)}, high {max(drawn)}, "
            f"{len(spike_markers)} spike{'s' if len(spike_markers) != 1 else ''}"
        )
        + f"; base rate {row.pair.rate}."
    )
    return RateChart(
        code=code,
        slug=row.slug,
        height=HEIGHT,
        plot_top=PLOT_TOP,
        plot_height=PLOT_HEIGHT,
        plot_bottom=PLOT_TOP + PLOT_HEIGHT,
        polyline=polyline,
        gridlines=gridlines,
        base_y=y(row.pair.rate),
        base_label=f"base {_fmt(row.pair.rate, places)}",
        ticks=ticks,
        spikes=spike_markers,
        last=last_point,
        summary=summary,
        empty=empty,
    )
