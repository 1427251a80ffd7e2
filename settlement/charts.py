"""Charts drawn as inline SVG: the clearing calendar (one lane per bank on a shared UTC time axis) and a netting
cycle's gross against its bilateral and multilateral net, per currency.

Presentation only (no queries): they turn selector results into positions and hover
texts. Horizontal positions are percentages of the chart width, vertical ones pixels.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from deltran.charts import TimeScale, pct, zone_abbreviation
from settlement.selectors import BankCalendarRow, CalendarOverview

HEADER_HEIGHT = 40  # day labels
LANE_LABEL_HEIGHT = 20  # the bank's name above its lane
LANE_HEIGHT = 24
LANE_GAP = 12
FOOTER_HEIGHT = 22  # the "now" label
ROW_HEIGHT = LANE_LABEL_HEIGHT + LANE_HEIGHT + LANE_GAP


@dataclass(frozen=True)
class Span:
    """A rectangle on a lane: x and width in percent; its text, and the hover title naming the bank."""

    x: str
    width: str
    text: str
    title: str


@dataclass(frozen=True)
class Lane:
    bic: str
    name: str
    label_y: int
    y: int
    bars: list[Span]
    closed: list[Span]
    holidays: list[Span]


@dataclass(frozen=True)
class DayColumn:
    x: str
    width: str
    centre: str
    weekday: str  # Sat
    day_month: str  # 21 Nov
    weekday_short: str  # Sa
    day_number: str  # 21
    shaded: bool


@dataclass(frozen=True)
class CalendarChart:
    height: int
    lanes_top: int
    lanes_bottom: int
    days: list[DayColumn]
    lanes: list[Lane]
    now_x: str | None
    now_label: str
    now_anchor: str


def _day(at: datetime) -> str:
    return f"{at:%a} {at.day} {at:%b}"


def describe_interval(opens: datetime, closes: datetime, zone: ZoneInfo) -> str:
    """'Mon 23 Nov 10:00–18:00 IST (04:30–12:30 UTC)'; dates repeat where a side crosses midnight."""
    local_open, local_close = opens.astimezone(zone), closes.astimezone(zone)
    utc_open, utc_close = opens.astimezone(UTC), closes.astimezone(UTC)
    abbr = zone_abbreviation(opens, zone)
    if local_close.date() == local_open.date():
        local = f"{_day(local_open)} {local_open:%H:%M}–{local_close:%H:%M} {abbr}"
    else:
        local = f"{_day(local_open)} {local_open:%H:%M} – {_day(local_close)} {local_close:%H:%M} {abbr}"
    if utc_open.date() == local_open.date() and utc_close.date() == utc_open.date():
        utc = f"{utc_open:%H:%M}–{utc_close:%H:%M} UTC"
    elif utc_close.date() == utc_open.date():
        utc = f"{_day(utc_open)} {utc_open:%H:%M}–{utc_close:%H:%M} UTC"
    else:
        utc = f"{_day(utc_open)} {utc_open:%H:%M} – {_day(utc_close)} {utc_close:%H:%M} UTC"
    return f"{local} ({utc})"


def describe_instant(at: datetime, zone: ZoneInfo) -> str:
    """'Mon 23 Nov 04:30 UTC (10:00 IST)'."""
    utc, local = at.astimezone(UTC), at.astimezone(zone)
    local_day = "" if local.date() == utc.date() else f"{_day(local)} "
    return f"{_day(utc)} {utc:%H:%M} UTC ({local_day}{local:%H:%M} {zone_abbreviation(at, zone)})"


def _local_day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def _lane(row: BankCalendarRow, index: int, scale: TimeScale) -> Lane:
    bank = row.bank
    zone = ZoneInfo(bank.timezone)
    label_y = HEADER_HEIGHT + index * ROW_HEIGHT

    def span(start: datetime, end: datetime, text: str) -> Span:
        return Span(scale.x(start), scale.width(start, end), text, f"{bank.name}: {text}")

    bars = [
        span(opens, closes, f"open {describe_interval(opens, closes, zone)}") for opens, closes in row.days.intervals
    ]
    closed = []
    for day in row.closed_days:
        start, end = _local_day_bounds(day, zone)
        if end > scale.start and start < scale.end:
            closed.append(span(start, end, f"closed {day:%a} {day.day} {day:%b} (not a working day)"))
    holidays = []
    for day, name in row.days.holidays:
        start, end = _local_day_bounds(day, zone)
        if end > scale.start and start < scale.end:
            holidays.append(span(start, end, f"holiday, {name} ({day:%a} {day.day} {day:%b %Y}, closed all day)"))
    return Lane(
        bic=bank.bic,
        name=bank.name,
        label_y=label_y + 14,
        y=label_y + LANE_LABEL_HEIGHT,
        bars=bars,
        closed=closed,
        holidays=holidays,
    )


def calendar_chart(overview: CalendarOverview) -> CalendarChart:
    scale = TimeScale(overview.start, overview.end)
    days = []
    midnights = scale.ticks(timedelta(days=1))
    for number, midnight in enumerate(midnights):
        following = midnight + timedelta(days=1)
        if midnight >= scale.end:
            break
        centre = midnight + (min(following, scale.end) - midnight) / 2
        days.append(
            DayColumn(
                x=scale.x(midnight),
                width=scale.width(midnight, following),
                centre=scale.x(centre),
                weekday=f"{midnight:%a}",
                day_month=f"{midnight.day} {midnight:%b}",
                weekday_short=f"{midnight:%a}"[:2],
                day_number=str(midnight.day),
                shaded=number % 2 == 1,
            )
        )
    lanes = [_lane(row, index, scale) for index, row in enumerate(overview.rows)]
    lanes_bottom = HEADER_HEIGHT + len(lanes) * ROW_HEIGHT
    now = overview.now
    shown = scale.contains(now)
    fraction = scale.fraction(now) if shown else 0.0
    return CalendarChart(
        height=lanes_bottom + FOOTER_HEIGHT,
        lanes_top=HEADER_HEIGHT,
        lanes_bottom=lanes_bottom,
        days=days,
        lanes=lanes,
        now_x=scale.x(now) if shown else None,
        now_label=f"now {now.astimezone(UTC):%a %H:%M} UTC",
        # Keep the label inside the chart near either edge.
        now_anchor="start" if fraction < 0.15 else "end" if fraction > 0.85 else "middle",
    )


# --- Netting: gross against net --------------------------------------------------------------

NETTING_BAR_ROW = 34  # label line above a 14-pixel bar
NETTING_BAR_HEIGHT = 14


@dataclass(frozen=True)
class NettingBar:
    kind: str  # gross, bilateral, multilateral
    label: str
    amount: str  # "2,100.00 USD"
    share: str  # "19% of gross"
    width: str  # percent of the chart's width
    label_y: int
    bar_y: int


@dataclass(frozen=True)
class CurrencyNettingChart:
    currency: str
    obligations: int
    efficiency: str  # "80.95%"
    height: int
    bars: list[NettingBar]
    summary: str  # the chart's accessible title


def percent_label(fraction) -> str:
    """Decimal("0.8095") → "80.95%"; Decimal("0") → "0%"."""
    value = (Decimal(str(fraction)) * 100).quantize(Decimal("0.01"))
    return f"{value.normalize():f}%"


def _number(text, places: int) -> str:
    return f"{Decimal(text):,.{places}f}"


def netting_chart(figures: list[dict], minor_units: dict[str, int]) -> list[CurrencyNettingChart]:
    """One chart per currency of a cycle (its ``currencies`` figures): three bars on the currency's own scale,
    gross at full width, so a currency's netting reads at a glance whatever its units."""
    charts = []
    for row in figures:
        currency = row["currency"]
        places = minor_units.get(currency, 2)
        try:
            gross = Decimal(row["gross"])
            values = [
                ("gross", "Gross", gross),
                ("bilateral", "Bilateral net", Decimal(row["bilateral_net"])),
                ("multilateral", "Multilateral net", Decimal(row["net"])),
            ]
        except (KeyError, TypeError, InvalidOperation):
            continue
        bars = []
        for index, (kind, label, value) in enumerate(values):
            fraction = float(value / gross) if gross else 0.0
            share = "" if kind == "gross" else f"{percent_label(value / gross if gross else 0)} of gross"
            bars.append(
                NettingBar(
                    kind=kind,
                    label=label,
                    amount=f"{_number(value, places)} {currency}",
                    share=share,
                    width=pct(fraction),
                    label_y=index * NETTING_BAR_ROW + 12,
                    bar_y=index * NETTING_BAR_ROW + 16,
                )
            )
        efficiency = percent_label(row.get("efficiency") or 0)
        summary = (
            f"{currency}: gross {bars[0].amount}, bilateral net {bars[1].amount} ({bars[1].share}), "
            f"multilateral net {bars[2].amount} ({bars[2].share}); netting efficiency {efficiency}."
        )
        charts.append(
            CurrencyNettingChart(
                currency=currency,
                obligations=int(row.get("obligations") or 0),
                efficiency=efficiency,
                height=len(bars) * NETTING_BAR_ROW,
                bars=bars,
                summary=summary,
            )
        )
    return charts
