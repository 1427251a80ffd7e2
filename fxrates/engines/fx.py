"""FX maths: rate tables and their history, conversion, and the volatility simulation.

Pure Python (stdlib and ``deltran.money`` only, no Django).

Rates
-----
* A ``Quote`` says 1 ``base`` = ``rate`` ``quote`` at an aware instant ``at``.
* ``RateTable.rate(source, target)`` finds 1 source = x target: the direct quote
  (source, target) if there is one, else the inverse of (target, source), else a
  cross through the pivot (USD): source -> pivot -> target, each leg direct or
  inverse. The exact ratio of the quotes used is rounded once, to
  ``FX_RATE_PLACES`` (8 places) with ``deltran.money.ROUNDING`` (half-even); legs
  are never rounded on their own, so AED->INR is exactly 83.25 / 3.6725 rounded.
* Same currency: ``Decimal(1)``, whatever the currency (no rate is needed).
* A currency the table does not know raises ``UnknownCurrency``; a known currency
  with no quote path (or, in a history, no quote yet at that instant) raises
  ``NoRate``. The known currencies are those of the quotes plus the pivot, or the
  ``currencies`` given: pass the set of active currencies to have a currency with
  no rate reported as ``NoRate`` rather than ``UnknownCurrency``.
* Several quotes for one pair in a table: the latest ``at`` wins (a tie: the later
  in the iterable). ``RateHistory`` keeps them all; the rate in force at an instant
  is the latest quote at or before it.

Conversion
----------
``convert`` multiplies exactly and rounds once, with ``deltran.money.quantize_amount``.

Simulation
----------
A mean-reverting random walk (discrete Ornstein-Uhlenbeck) of each pair around its
base rate ``b``, with jumps::

    r' = r + theta * (b - r) + b * volatility * scale * Z        Z ~ N(0, 1)
    r' = r' * (1 + s * m)     with probability p (a spike; s = +1 or -1, equally likely)
    r' = max(round8(r'), floor)    floor = 1% of b (never <= 0)

``volatility`` is the pair's daily volatility (``FxBaseRate.volatility``: 0.015 is
1.5%). ``scale`` turns it into a per-step sigma by the square root of time: for a
step every 5 seconds (``FX_SIMULATION_INTERVAL_SECONDS``), sqrt(5 / 86,400) ~= 0.0076.
With theta = 0.05 (half-life ln 2 / 0.05 ~= 14 steps, about a minute at 5 s), the
deviation from base settles to a stationary standard deviation of
``volatility * scale / sqrt(2 theta - theta^2)`` ~= 0.024 x the daily volatility
(USD/PKR at 2.5%: about 0.06%, i.e. 278.50 +/- 0.17): tick-level noise, while a
spike of +/-5% stands out and decays back to base within a few minutes.

The random stream is consumed in a fixed order (one ``gauss``, one ``random``, and
one more ``random`` for a spike's sign), so a seeded ``random.Random`` replays the
same path.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_05UP, Decimal, localcontext

from deltran.money import FX_RATE_PLACES, ROUNDING, quantize_amount

__all__ = [
    "NoRate",
    "PairState",
    "Quote",
    "RateHistory",
    "RateTable",
    "SimulationParams",
    "Tick",
    "UnknownCurrency",
    "convert",
    "simulate_step",
]

SECONDS_PER_DAY = 86_400
# A simulated rate never falls below this fraction of its base rate.
RATE_FLOOR_FRACTION = Decimal("0.01")
_ONE = Decimal(1)
_HALF = 0.5


class UnknownCurrency(ValueError):
    """The currency is not one the rate table knows."""

    code = "unknown_currency"


class NoRate(ValueError):
    """No rate between two known currencies: no quote path, or no quote yet at that instant."""

    code = "no_rate"


def _require_aware(at: datetime, what: str) -> None:
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {at!r}")


def _require_positive_decimal(value: Decimal, what: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise ValueError(f"{what} must be a positive finite Decimal, got {value!r}")


@dataclass(frozen=True)
class Quote:
    """1 ``base`` = ``rate`` ``quote``, as quoted at ``at`` (aware, UTC)."""

    base: str
    quote: str
    rate: Decimal
    at: datetime

    def __post_init__(self) -> None:
        if self.base == self.quote:
            raise ValueError(f"A quote needs two currencies, got {self.base}/{self.quote}")
        _require_positive_decimal(self.rate, f"Rate {self.base}/{self.quote}")
        _require_aware(self.at, f"Quote time of {self.base}/{self.quote}")


def _round_ratio(numerators: list[Decimal], denominators: list[Decimal]) -> Decimal:
    """prod(numerators) / prod(denominators), rounded once to FX_RATE_PLACES with ROUNDING."""
    with localcontext() as ctx:
        # Products of exact decimals are exact with this many digits.
        ctx.prec = sum(len(d.as_tuple().digits) for d in numerators + denominators) + 2
        numerator = _ONE
        for factor in numerators:
            numerator *= factor
        denominator = _ONE
        for factor in denominators:
            denominator *= factor
        # The quotient to two guard digits past the 8th place, with ROUND_05UP: an inexact
        # quotient never ends in 0 or 5, so it cannot pose as a half-way case, and the one
        # rounding below decides as the exact ratio would (no double rounding).
        ctx.prec = max(1, numerator.adjusted() - denominator.adjusted() + 1) + 8 + 2
        ctx.rounding = ROUND_05UP
        return (numerator / denominator).quantize(FX_RATE_PLACES, rounding=ROUNDING)


# A leg of a path: the quote used and whether it is used inverted (1 / rate).
_Leg = tuple[Quote, bool]


class RateTable:
    """Current or historical rates keyed by (base, quote); USD is the pivot."""

    def __init__(
        self,
        quotes: Iterable[Quote],
        *,
        pivot: str = "USD",
        currencies: Iterable[str] | None = None,
        as_of: datetime | None = None,
    ):
        self.pivot = pivot
        self._quotes: dict[tuple[str, str], Quote] = {}
        for quote in quotes:
            key = (quote.base, quote.quote)
            held = self._quotes.get(key)
            if held is None or quote.at >= held.at:
                self._quotes[key] = quote
        if currencies is None:
            codes = {code for pair in self._quotes for code in pair}
        else:
            codes = set(currencies)
        codes.add(pivot)
        self.currencies: frozenset[str] = frozenset(codes)
        if as_of is not None:
            _require_aware(as_of, "as_of")
        elif self._quotes:
            as_of = max(quote.at for quote in self._quotes.values())
        # The instant the table stands for: given, or its newest quote.
        self.as_of = as_of

    def __repr__(self) -> str:
        return f"<RateTable pivot={self.pivot} pairs={len(self._quotes)} as_of={self.as_of}>"

    def quotes(self) -> list[Quote]:
        return list(self._quotes.values())

    def _leg(self, source: str, target: str) -> _Leg | None:
        quote = self._quotes.get((source, target))
        if quote is not None:
            return quote, False
        quote = self._quotes.get((target, source))
        if quote is not None:
            return quote, True
        return None

    def _path(self, source: str, target: str) -> list[_Leg]:
        if source == target:
            return []
        for code in (source, target):
            if code not in self.currencies:
                raise UnknownCurrency(f"{code} is not a currency of this rate table.")
        leg = self._leg(source, target)
        if leg is not None:
            return [leg]
        if self.pivot not in (source, target):
            first, second = self._leg(source, self.pivot), self._leg(self.pivot, target)
            if first is not None and second is not None:
                return [first, second]
        raise NoRate(f"No rate from {source} to {target}.")

    def rate(self, source: str, target: str) -> Decimal:
        """1 source = rate target, to 8 places."""
        path = self._path(source, target)
        if not path:
            return Decimal(1)
        numerators = [quote.rate for quote, inverted in path if not inverted]
        denominators = [quote.rate for quote, inverted in path if inverted]
        return _round_ratio(numerators, denominators)

    def quote_time(self, source: str, target: str) -> datetime:
        """The oldest ``at`` among the quotes ``rate(source, target)`` uses; the table's ``as_of`` for one currency."""
        path = self._path(source, target)
        if path:
            return min(quote.at for quote, _ in path)
        if self.as_of is None:
            raise NoRate(f"An empty rate table has no quote time for {source}.")
        return self.as_of


class RateHistory:
    """Per-pair time series; the rate in force at an instant is the latest quote at or before it."""

    def __init__(self, quotes: Iterable[Quote], *, pivot: str = "USD", currencies: Iterable[str] | None = None):
        self.pivot = pivot
        series: dict[tuple[str, str], list[Quote]] = {}
        for quote in quotes:
            series.setdefault((quote.base, quote.quote), []).append(quote)
        for pair_quotes in series.values():
            pair_quotes.sort(key=lambda quote: quote.at)  # stable: equal times keep input order, the last wins
        self._series = series
        self._times = {pair: [quote.at for quote in pair_quotes] for pair, pair_quotes in series.items()}
        codes = {code for pair in series for code in pair} if currencies is None else set(currencies)
        codes.add(pivot)
        self.currencies: frozenset[str] = frozenset(codes)

    def __repr__(self) -> str:
        return f"<RateHistory pivot={self.pivot} pairs={len(self._series)}>"

    def quote_at(self, base: str, quote: str, at: datetime) -> Quote | None:
        """The quote of the pair (base, quote) in force at ``at``, or None before its first quote."""
        _require_aware(at, "at")
        times = self._times.get((base, quote))
        if not times:
            return None
        index = bisect_right(times, at)
        return self._series[(base, quote)][index - 1] if index else None

    def table_at(self, at: datetime) -> RateTable:
        """The rates in force at ``at``; a pair not yet quoted then is absent, so ``rate()`` raises NoRate."""
        _require_aware(at, "at")
        in_force = []
        for pair, times in self._times.items():
            index = bisect_right(times, at)
            if index:
                in_force.append(self._series[pair][index - 1])
        return RateTable(in_force, pivot=self.pivot, currencies=self.currencies, as_of=at)

    def rate_at(self, source: str, target: str, at: datetime) -> Decimal:
        return self.table_at(at).rate(source, target)


def convert(amount: Decimal, rate: Decimal, target_minor_units: int) -> Decimal:
    """amount x rate in the target currency, rounded once to its minor units by ``quantize_amount``."""
    with localcontext() as ctx:
        # Exact product (digits add up), and room for the quantised result's places.
        ctx.prec = len(amount.as_tuple().digits) + len(rate.as_tuple().digits) + max(target_minor_units, 0) + 2
        return quantize_amount(amount * rate, target_minor_units)


# --- Volatility simulation -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairState:
    """The simulator's state for one pair: its base rate, daily volatility and current rate."""

    base: str
    quote: str
    base_rate: Decimal
    volatility: Decimal
    rate: Decimal

    def __post_init__(self) -> None:
        if not self.base_rate > 0:
            raise ValueError(f"Base rate of {self.base}/{self.quote} must be positive, got {self.base_rate!r}")
        if not self.volatility >= 0:
            raise ValueError(f"Volatility of {self.base}/{self.quote} must be >= 0, got {self.volatility!r}")


@dataclass(frozen=True)
class Tick:
    """One simulated update of a pair; ``spike_size`` is the signed jump (Decimal("0.05") is +5%)."""

    base: str
    quote: str
    rate: Decimal
    previous: Decimal
    is_spike: bool
    spike_size: Decimal | None


@dataclass(frozen=True)
class SimulationParams:
    """How the simulator moves every pair; the defaults are the seed's spikes at a 5-second step."""

    mean_reversion: Decimal = Decimal("0.05")  # fraction of the gap to base closed per step
    # Per-step sigma = daily volatility x this: sqrt(5 s / 86,400 s) ~= 0.0076 for a step every 5 seconds
    # (FX_SIMULATION_INTERVAL_SECONDS). Use ``for_interval`` for another step length.
    step_volatility_scale: Decimal = Decimal("0.0076")
    spike_probability: Decimal = Decimal("0.001")  # the seed: 0.1% per update
    spike_magnitude: Decimal = Decimal("0.05")  # the seed: +/-5%
    # The probability as a float, to compare with rng.random() without a float-to-Decimal conversion per step.
    _spike_threshold: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not Decimal(0) < self.mean_reversion <= 1:
            raise ValueError(f"mean_reversion must be in (0, 1], got {self.mean_reversion}")
        if not self.step_volatility_scale >= 0:
            raise ValueError(f"step_volatility_scale must be >= 0, got {self.step_volatility_scale}")
        if not Decimal(0) <= self.spike_probability <= 1:
            raise ValueError(f"spike_probability must be in [0, 1], got {self.spike_probability}")
        if not Decimal(0) <= self.spike_magnitude < 1:
            raise ValueError(f"spike_magnitude must be in [0, 1), got {self.spike_magnitude}")
        object.__setattr__(self, "_spike_threshold", float(self.spike_probability))

    @classmethod
    def for_interval(cls, seconds: float | Decimal, **overrides) -> SimulationParams:
        """Parameters for a step every ``seconds``: the daily volatility scaled by sqrt(seconds / 1 day)."""
        scale = (Decimal(str(seconds)) / SECONDS_PER_DAY).sqrt().quantize(Decimal("0.00000001"), rounding=ROUNDING)
        return cls(step_volatility_scale=scale, **overrides)


def _rate_floor(base_rate: Decimal) -> Decimal:
    return max((base_rate * RATE_FLOOR_FRACTION).quantize(FX_RATE_PLACES, rounding=ROUNDING), FX_RATE_PLACES)


def simulate_step(state: PairState, rng: random.Random, params: SimulationParams) -> tuple[PairState, Tick]:
    """One update of a pair: mean reversion, a shock scaled by its volatility, and maybe a spike."""
    base_rate = state.base_rate
    previous = state.rate
    shock = Decimal(repr(rng.gauss(0.0, 1.0)))
    rate = (
        previous
        + params.mean_reversion * (base_rate - previous)
        + base_rate * state.volatility * params.step_volatility_scale * shock
    )
    spike_size = None
    if rng.random() < params._spike_threshold:
        spike_size = params.spike_magnitude if rng.random() < _HALF else -params.spike_magnitude
        rate += rate * spike_size
    rate = rate.quantize(FX_RATE_PLACES, rounding=ROUNDING)
    # The floor is at most 1% of base plus one unit of the 8th place: only below that is it worth computing.
    if rate < base_rate * RATE_FLOOR_FRACTION + FX_RATE_PLACES:
        rate = max(rate, _rate_floor(base_rate))
    new_state = PairState(state.base, state.quote, base_rate, state.volatility, rate)
    tick = Tick(state.base, state.quote, rate, previous, spike_size is not None, spike_size)
    return new_state, tick
