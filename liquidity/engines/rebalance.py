"""Pool rebalancing: the FX moves that bring the liquidity pool's currencies back toward their targets.

Pure Python (stdlib and ``deltran.money`` only, no Django).

When
----
A currency is *beyond the threshold* when ``|available - target| > threshold x target`` (the issue's
``|available - target| / target > threshold``, written without the division so that a target of 0 works:
any non-zero balance is then beyond). Exactly at the threshold is within it. When no currency is beyond the
threshold the plan has no moves.

What moves
----------
* Sinks are currencies below target; sources are currencies above target (their *surplus* is
  ``available - target``).
* A source gives at most its surplus above **target** (not merely above its minimum): rebalancing moves the
  pool toward its targets, so it never takes a currency below its target, and hence never below its minimum
  (``minimum <= target``). A sink receives at most its shortfall to target, so it never ends above its target,
  and hence never above its maximum (``target <= maximum``).
* Only what is out of bounds is corrected, to spare FX cost: a sink beyond the threshold is filled from any
  source; a sink within the threshold is filled only from sources beyond it (which is how a currency far above
  its target comes back down). A move between two currencies that are both within the threshold never happens.
* Sinks are filled in turn: beyond-threshold sinks first, each group largest shortfall (in USD) first; each
  from the source with the largest remaining surplus (in USD) first, moving on to the next source while the
  shortfall lasts. When the surplus runs out the remaining shortfall stays (fill what you can). Ties go to the
  smaller currency code, so plans are deterministic.

Valuation, FX cost and rounding
-------------------------------
* A currency's USD value is ``amount x rates.rate(currency, "USD")`` -- the convention payments use for their
  USD equivalent -- computed exactly (not rounded to cents); ``u(c)`` below is that rate. The pool's values
  before and after, the FX costs and the rounding are exact decimals.
* A move sells ``source_amount`` S, worth ``S x u(source)`` USD. Its FX cost is ``fx_spread x S x u(source)``
  (exact, USD); the *proceeds* ``S x u(source) - fx_cost`` buy the sink's currency at the USD valuation rates.
  ``rate`` records the rate the move is priced at, ``u(source) / u(target)`` rounded once to 8 places (half-even);
  the amounts come from the exact USD values, not from that rounded rate. (An 8-place rate of a currency worth
  little per unit has few significant digits -- 1 PKR = 0.00359066 USD -- so pricing through these valuation
  rates can differ from the table's direct cross rate by that rounding; it keeps the USD books exact.)
* Sizing, on each currency's minor-unit grid (``deltran.money.quantize_amount``, stepped one unit when the house
  rounding went the wrong way for a limit, and checked with exact products):

  - when the source's surplus suffices, S is the *smallest* amount whose proceeds cover the sink's shortfall,
    and the sink receives exactly its shortfall: it lands on its target;
  - otherwise S is the whole surplus (the source lands on its target) and the sink receives the proceeds
    rounded *down* to its minor units.

* **Rounding bound.** ``rounding_usd = value_before_usd - value_after_usd - fx_cost_usd``, exactly. It is the
  sum over moves of ``proceeds - target_amount x u(target)``, and by the sizing above each term is ``>= 0`` and
  below one minor unit of the move's source (first case) or target (second case) currency, valued in USD. So
  ``0 <= rounding_usd < sum over moves of max(unit(source) x u(source), unit(target) x u(target))``: value is
  conserved up to the FX cost and less than one minor unit per move, and a rebalance never creates money.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_05UP, Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow, localcontext
from typing import Protocol

from deltran.money import FX_RATE_PLACES, ROUNDING, minor_unit_exponent, quantize_amount

__all__ = [
    "DEFAULT_FX_SPREAD",
    "DEFAULT_THRESHOLD",
    "VALUATION_CURRENCY",
    "Move",
    "PoolCurrency",
    "RateSource",
    "RebalancePlan",
    "plan_rebalance",
]

VALUATION_CURRENCY = "USD"
DEFAULT_THRESHOLD = Decimal("0.20")
DEFAULT_FX_SPREAD = Decimal("0.0005")
_ZERO = Decimal(0)
_ONE = Decimal(1)
# Sums and products of amounts and 8-place rates fit easily in 80 digits, so they are exact (Inexact trapped
# where exactness is claimed); divisions are rounded at the 80th digit, then once more by the house rule.
_PRECISION = 80
_EXACT = Context(prec=_PRECISION, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
_WIDE = Context(prec=_PRECISION, rounding=ROUNDING, traps=[InvalidOperation, DivisionByZero, Overflow])


class RateSource(Protocol):
    """What the planner needs of a rate table (``fxrates.engines.fx.RateTable``): 1 source = rate target."""

    def rate(self, source: str, target: str) -> Decimal: ...


@dataclass(frozen=True)
class PoolCurrency:
    """The pool's balance of one currency and its thresholds (``minimum <= target <= maximum``)."""

    currency: str
    available: Decimal
    minimum: Decimal
    target: Decimal
    maximum: Decimal
    minor_units: int

    def __post_init__(self) -> None:
        for name in ("available", "minimum", "target", "maximum"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite():
                raise ValueError(f"{self.currency} {name} must be a finite Decimal, got {value!r}")
        if not _ZERO <= self.minimum <= self.target <= self.maximum:
            raise ValueError(
                f"{self.currency}: thresholds must satisfy 0 <= minimum <= target <= maximum, "
                f"got {self.minimum} / {self.target} / {self.maximum}"
            )
        if not isinstance(self.minor_units, int) or self.minor_units < 0:
            raise ValueError(f"{self.currency}: minor units must be an int >= 0, got {self.minor_units!r}")

    def is_beyond(self, threshold: Decimal) -> bool:
        """More than ``threshold`` (a fraction of target) away from target."""
        with localcontext(_EXACT):
            return abs(self.available - self.target) > threshold * self.target


@dataclass(frozen=True)
class Move:
    """Sell ``source_amount`` of ``source`` for ``target_amount`` of ``target``; ``fx_cost`` in USD."""

    source: str
    target: str
    source_amount: Decimal
    target_amount: Decimal
    rate: Decimal
    fx_cost: Decimal


@dataclass(frozen=True)
class RebalancePlan:
    """The moves, the balances before and after them, and the pool's USD value (see the module docstring)."""

    moves: tuple[Move, ...]
    before: dict[str, Decimal]
    after: dict[str, Decimal]
    value_before_usd: Decimal
    value_after_usd: Decimal
    fx_cost_usd: Decimal
    # value_before_usd - value_after_usd - fx_cost_usd, exactly: what the proceeds exceeded the amounts booked by
    # (0 <= rounding_usd < one minor unit per move, see the module docstring).
    rounding_usd: Decimal = _ZERO
    # The currencies that were beyond the threshold (what triggered the plan), by code.
    beyond_threshold: tuple[str, ...] = ()

    @property
    def is_noop(self) -> bool:
        return not self.moves


def _at_most(limit: Decimal, minor_units: int) -> Decimal:
    """The largest multiple of the minor unit not above ``limit``: the house rounding, stepped down if it went up."""
    with localcontext(_WIDE):
        amount = quantize_amount(limit, minor_units)
        return amount - minor_unit_exponent(minor_units) if amount > limit else amount


def _at_least(limit: Decimal, minor_units: int) -> Decimal:
    """The smallest multiple of the minor unit not below ``limit``: the house rounding, stepped up if it went down."""
    with localcontext(_WIDE):
        amount = quantize_amount(limit, minor_units)
        return amount + minor_unit_exponent(minor_units) if amount < limit else amount


def _quotient(numerator: Decimal, denominator: Decimal) -> Decimal:
    """An approximate quotient (80 digits); callers check their result with exact products."""
    with localcontext(_WIDE):
        return numerator / denominator


def _priced_rate(source_usd: Decimal, target_usd: Decimal) -> Decimal:
    """``source_usd / target_usd`` rounded once to 8 places (two guard digits with ROUND_05UP, as fxrates does)."""
    digits = max(1, source_usd.adjusted() - target_usd.adjusted() + 1) + 8 + 2
    with localcontext(Context(prec=digits, rounding=ROUND_05UP)):
        ratio = source_usd / target_usd
    with localcontext(_WIDE):
        return ratio.quantize(FX_RATE_PLACES, rounding=ROUNDING)


def _pool_value(amounts: dict[str, Decimal], usd: dict[str, Decimal]) -> Decimal:
    with localcontext(_EXACT):
        return sum((amount * usd[code] for code, amount in amounts.items()), _ZERO)


def plan_rebalance(
    balances: Sequence[PoolCurrency],
    rates: RateSource,
    *,
    threshold: Decimal = DEFAULT_THRESHOLD,
    fx_spread: Decimal = DEFAULT_FX_SPREAD,
) -> RebalancePlan:
    """The moves that bring the pool back toward its targets (rules in the module docstring).

    ``rates.rate(currency, "USD")`` must answer for every currency of the pool (its errors propagate).
    """
    if not isinstance(threshold, Decimal) or not threshold.is_finite() or threshold < 0:
        raise ValueError(f"threshold must be a Decimal >= 0, got {threshold!r}")
    if not isinstance(fx_spread, Decimal) or not _ZERO <= fx_spread < _ONE:
        raise ValueError(f"fx_spread must be a Decimal in [0, 1), got {fx_spread!r}")
    pool = {}
    for balance in balances:
        if balance.currency in pool:
            raise ValueError(f"{balance.currency} appears twice in the pool.")
        pool[balance.currency] = balance
    pool = dict(sorted(pool.items()))

    usd = {code: rates.rate(code, VALUATION_CURRENCY) for code in pool}
    before = {code: balance.available for code, balance in pool.items()}
    value_before = _pool_value(before, usd)
    beyond = tuple(code for code, balance in pool.items() if balance.is_beyond(threshold))

    moves: list[Move] = []
    available = dict(before)
    if beyond:
        with localcontext(_EXACT):
            moves = _fill(pool, usd, available, frozenset(beyond), fx_spread)

    value_after = _pool_value(available, usd)
    with localcontext(_EXACT):
        fx_cost = sum((move.fx_cost for move in moves), _ZERO)
        rounding = value_before - value_after - fx_cost
    return RebalancePlan(
        moves=tuple(moves),
        before=before,
        after=available,
        value_before_usd=value_before,
        value_after_usd=value_after,
        fx_cost_usd=fx_cost,
        rounding_usd=rounding,
        beyond_threshold=beyond,
    )


def _fill(
    pool: dict[str, PoolCurrency],
    usd: dict[str, Decimal],
    available: dict[str, Decimal],
    beyond: frozenset[str],
    fx_spread: Decimal,
) -> list[Move]:
    """Greedy filling of the sinks from the sources; updates ``available`` in place (exact arithmetic throughout)."""

    def surplus(code: str) -> Decimal:
        return available[code] - pool[code].target

    def shortfall(code: str) -> Decimal:
        return pool[code].target - available[code]

    sources = [code for code in pool if surplus(code) > 0]
    sinks = [code for code in pool if shortfall(code) > 0]
    # Beyond-threshold sinks first; within each group the largest USD shortfall first; then by code.
    sinks.sort(key=lambda code: (code not in beyond, -shortfall(code) * usd[code], code))
    keep = _ONE - fx_spread
    moves: list[Move] = []
    for sink in sinks:
        sink_units = pool[sink].minor_units
        # Sources whose whole surplus has gone to this sink, or whose whole surplus buys less than one minor unit
        # of it (such a source stays a candidate for the next sinks).
        spent: set[str] = set()
        while True:
            need = _at_most(shortfall(sink), sink_units)
            candidates = [
                code
                for code in sources
                if code not in spent
                and (sink in beyond or code in beyond)
                and _at_most(surplus(code), pool[code].minor_units) > 0
            ]
            if need <= 0 or not candidates:
                break
            source = min(candidates, key=lambda code: (-surplus(code) * usd[code], code))
            source_units = pool[source].minor_units
            give = _at_most(surplus(source), source_units)
            # The smallest source amount whose proceeds after the spread cover the need (checked exactly: the
            # quotient is approximate).
            wanted = _at_least(_quotient(need * usd[sink], keep * usd[source]), source_units)
            while wanted * usd[source] * keep < need * usd[sink]:
                wanted += minor_unit_exponent(source_units)
            if wanted <= give:
                # The need is met exactly; what the proceeds exceed it by (under one source minor unit) is rounding.
                source_amount, target_amount = wanted, need
            else:
                # The whole surplus; the proceeds rounded down to the sink's minor units (checked exactly).
                source_amount = give
                proceeds = source_amount * usd[source] * keep
                target_amount = _at_most(_quotient(proceeds, usd[sink]), sink_units)
                while target_amount * usd[sink] > proceeds:
                    target_amount -= minor_unit_exponent(sink_units)
                spent.add(source)
            if source_amount > 0 and target_amount > 0:
                moves.append(
                    Move(
                        source=source,
                        target=sink,
                        source_amount=source_amount,
                        target_amount=target_amount,
                        rate=_priced_rate(usd[source], usd[sink]),
                        fx_cost=source_amount * usd[source] * fx_spread,
                    )
                )
                available[source] -= source_amount
                available[sink] += target_amount
            if source not in spent:
                break  # the shortfall is met
    return moves
