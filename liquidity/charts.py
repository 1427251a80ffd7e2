"""The pool page's balance bars (inline SVG geometry) and the words that describe balances and rebalances.

Presentation only (no queries). Each currency gets its own scale, from 0 to a little beyond the larger of its
maximum and its balance; positions are percentages of the bar's width, so a bar stretches to any screen while its
marks and text keep their size.
"""

from dataclasses import dataclass
from decimal import Decimal

from deltran.charts import pct
from liquidity.choices import BalanceState, RebalanceStatus
from liquidity.models import Rebalance
from liquidity.selectors import BalanceRow

# Room to the right of the larger of maximum and balance, as a fraction of it.
HEADROOM = Decimal("0.06")
# Marks closer than this (percent of the width) would print their labels over each other: the target keeps its own.
LABEL_GAP = 9.0


def amount_text(value: Decimal, places: int | None = None) -> str:
    """1234567.5 → "1,234,567.50" at 2 places; without places, as many as the value carries."""
    value = Decimal(value)
    if places is None:
        exponent = value.as_tuple().exponent
        places = max(0, -exponent) if isinstance(exponent, int) else 0
    return f"{value:,.{places}f}"


def percent_text(fraction: Decimal) -> str:
    """Decimal("0.2") → "20%"; Decimal("0.0005") → "0.05%"."""
    return f"{(Decimal(fraction) * 100).quantize(Decimal('0.01')).normalize():f}%"


@dataclass(frozen=True)
class Mark:
    x: str  # percent
    label: str
    anchor: str
    show_label: bool


@dataclass(frozen=True)
class BalanceBar:
    currency: str
    state: str
    state_label: str
    bar_width: str  # percent
    band_x: str
    band_width: str
    minimum: Mark
    target: Mark
    maximum: Mark
    summary: str

    @property
    def marks(self) -> list[Mark]:
        return [self.minimum, self.target, self.maximum]


def _anchor(x: float) -> str:
    return "start" if x < 4 else "end" if x > 96 else "middle"


def balance_bar(row: BalanceRow, threshold: Decimal) -> BalanceBar:
    scale = max(row.maximum, row.available, row.target) * (1 + HEADROOM) or Decimal(1)

    def fraction(value: Decimal) -> float:
        return float(min(max(value, Decimal(0)), scale) / scale)

    min_x, target_x, max_x = (fraction(v) * 100 for v in (row.minimum, row.target, row.maximum))
    band_low, band_high = row.target * (1 - threshold), row.target * (1 + threshold)
    places = row.minor_units
    if row.deviation is None:
        where = "with a target of 0"
    elif row.deviation == 0:
        where = "exactly on its target"
    else:
        where = f"{abs(row.deviation_pct)}% {'above' if row.deviation > 0 else 'below'} its target"
    summary = (
        f"{row.currency}: {amount_text(row.available, places)} available, {where} of "
        f"{amount_text(row.target, places)}; minimum {amount_text(row.minimum, places)}, maximum "
        f"{amount_text(row.maximum, places)}. {BalanceState(row.state).label} "
        f"(rebalancing threshold {percent_text(threshold)} of target)."
    )
    return BalanceBar(
        currency=row.currency,
        state=row.state,
        state_label=BalanceState(row.state).label,
        bar_width=pct(fraction(row.available)),
        band_x=pct(fraction(band_low)),
        band_width=pct(fraction(band_high) - fraction(band_low)),
        minimum=Mark(pct(min_x / 100), "min", _anchor(min_x), target_x - min_x >= LABEL_GAP),
        target=Mark(pct(target_x / 100), "target", _anchor(target_x), True),
        maximum=Mark(pct(max_x / 100), "max", _anchor(max_x), max_x - target_x >= LABEL_GAP),
        summary=summary,
    )


def move_text(move: dict) -> str:
    """A recorded move: "217,391,413.05 USD → 200,000,000.00 EUR"."""
    return (
        f"{amount_text(Decimal(move['source_amount']))} {move['source']} → "
        f"{amount_text(Decimal(move['target_amount']))} {move['target']}"
    )


def rebalance_summary(rebalance: Rebalance) -> str:
    """What a rebalance did, in a sentence for the operator who asked for it."""
    if rebalance.status == RebalanceStatus.APPLIED:
        sold = "; ".join(
            f"sold {amount_text(Decimal(m['source_amount']))} {m['source']} for "
            f"{amount_text(Decimal(m['target_amount']))} {m['target']} at 1 {m['source']} = {m['rate']} {m['target']}"
            for m in rebalance.moves
        )
        return f"Rebalance {rebalance.pk} applied: {sold}. FX cost {amount_text(rebalance.fx_cost_usd, 2)} USD."
    threshold = percent_text(rebalance.threshold)
    if not rebalance.beyond_threshold:
        return f"Rebalance {rebalance.pk}: nothing to move, every currency is within {threshold} of its target."
    codes = ", ".join(rebalance.beyond_threshold)
    verb = "is" if len(rebalance.beyond_threshold) == 1 else "are"
    return (
        f"Rebalance {rebalance.pk}: nothing moved. {codes} {verb} more than {threshold} from target, but no currency "
        "on the other side of its target can trade with "
        f"{'it' if len(rebalance.beyond_threshold) == 1 else 'them'}."
    )
