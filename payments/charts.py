"""Geometry for the dashboard and activity charts, drawn as inline SVG by the templates.

Horizontal positions are percentages of the chart's width (the chart stretches to any screen), vertical ones
pixels. Pure Python, no Django.
"""

import math
from dataclasses import dataclass
from decimal import Decimal

from deltran.charts import pct


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^n at or above ``value`` (an axis maximum); 1 for nothing."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value * (1 - 1e-12):
            return step * magnitude
    return 10 * magnitude


def compact(value: float) -> str:
    """1234567 -> "1.2M": axis labels that fit a phone."""
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value)}"


@dataclass(frozen=True)
class Bar:
    x: str  # percent
    width: str  # percent
    y: float
    height: float
    title: str


@dataclass(frozen=True)
class Gridline:
    y: float
    label: str


@dataclass(frozen=True)
class Tick:
    x: str
    label: str
    anchor: str


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    gridlines: list[Gridline]
    ticks: list[Tick]
    height: int
    plot_top: int
    plot_bottom: int
    summary: str


PLOT_TOP, PLOT_HEIGHT, AXIS = 12, 150, 22


def bar_chart(
    points: list[tuple[str, float, str]], *, summary: str, maximum: float | None = None, tick_every: int = 7
) -> BarChart:
    """Vertical bars, one per (label, value, title); every ``tick_every``-th label (and the last) on the axis."""
    top = maximum if maximum is not None else nice_ceiling(max((v for _, v, _ in points), default=0.0))
    n = max(len(points), 1)
    slot = 1.0 / n
    bottom = PLOT_TOP + PLOT_HEIGHT
    bars, ticks = [], []
    for i, (label, value, title) in enumerate(points):
        h = PLOT_HEIGHT * min(max(value, 0.0) / top, 1.0) if top else 0.0
        bars.append(
            Bar(
                x=pct(i * slot + slot * 0.15),
                width=pct(slot * 0.7),
                y=round(bottom - h, 2),
                height=round(h, 2),
                title=title,
            )
        )
        if i == n - 1 or (i % tick_every == 0 and n - 1 - i > tick_every // 2):
            anchor = "start" if i == 0 else ("end" if i == n - 1 else "middle")
            x = pct((i + 0.5) * slot) if 0 < i < n - 1 else ("0" if i == 0 else "100")
            ticks.append(Tick(x=x, label=label, anchor=anchor))
    gridlines = [Gridline(y=round(bottom - PLOT_HEIGHT * f, 2), label=compact(top * f)) for f in (0.0, 0.5, 1.0)]
    return BarChart(
        bars=bars,
        gridlines=gridlines,
        ticks=ticks,
        height=PLOT_TOP + PLOT_HEIGHT + AXIS,
        plot_top=PLOT_TOP,
        plot_bottom=bottom,
        summary=summary,
    )


@dataclass(frozen=True)
class ShareBar:
    label: str
    value: str
    width: str  # percent of the largest
    detail: str


def share_bars(rows: list[tuple[str, Decimal, str, str]]) -> list[ShareBar]:
    """Horizontal bars scaled to the largest (label, magnitude, value text, detail)."""
    largest = max((float(m) for _, m, _, _ in rows), default=0.0)
    return [
        ShareBar(label=label, value=text, width=pct(float(m) / largest if largest else 0.0), detail=detail)
        for label, m, text, detail in rows
    ]


def sparkline_points(values: list[int], *, height: int = 100) -> tuple[str, int]:
    """SVG polyline points for a viewBox of ``len(values) - 1`` × ``height`` and the axis maximum used."""
    top = int(nice_ceiling(max(values, default=0)))
    points = " ".join(f"{i},{height - height * v / top:.1f}" for i, v in enumerate(values))
    return points, top
