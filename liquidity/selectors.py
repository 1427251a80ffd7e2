"""Reads of the liquidity pool: its balances against their thresholds in USD, recent movements, rebalances."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet

from fxrates.engines.fx import NoRate, RateTable, UnknownCurrency
from fxrates.models import Currency
from fxrates.selectors import current_rate_table
from liquidity.choices import BalanceState
from liquidity.engines.rebalance import VALUATION_CURRENCY, PoolCurrency
from liquidity.models import LiquidityPool, PoolBalance, PoolMovement, Rebalance

LATEST_MOVEMENTS = 50
LATEST_REBALANCES = 20
CENTS = Decimal("0.01")
DEVIATION_PLACES = Decimal("0.000001")


def pool_get(pool_id: int | None = None) -> LiquidityPool | None:
    """The pool with this id; without one, the primary pool (the first created, as the scenario loads it)."""
    pools = LiquidityPool.objects.all()
    return pools.filter(pk=pool_id).first() if pool_id is not None else pools.order_by("pk").first()


def pool_ids_auto_rebalance() -> list[int]:
    return list(LiquidityPool.objects.filter(auto_rebalance=True).order_by("pk").values_list("pk", flat=True))


def currency_minor_units(codes) -> dict[str, int]:
    return dict(Currency.objects.filter(code__in=list(codes)).values_list("code", "minor_units"))


def balance_state(balance: PoolCurrency, threshold: Decimal) -> BalanceState:
    """Below its minimum, above its maximum, beyond the rebalancing threshold, or within it (worst first)."""
    if balance.available < balance.minimum:
        return BalanceState.BELOW_MINIMUM
    if balance.available > balance.maximum:
        return BalanceState.ABOVE_MAXIMUM
    if balance.is_beyond(threshold):
        return BalanceState.BEYOND_THRESHOLD
    return BalanceState.OK


@dataclass(frozen=True)
class BalanceRow:
    """One currency of the pool as the page and the API show it."""

    currency: str
    name: str
    minor_units: int
    available: Decimal
    minimum: Decimal
    target: Decimal
    maximum: Decimal
    # 1 unit of the currency in USD (None when no rate is known), and the balance and target valued at it (cents).
    usd_rate: Decimal | None
    available_usd: Decimal | None
    target_usd: Decimal | None
    # (available - target) / target, to 6 places; None for a target of 0.
    deviation: Decimal | None
    state: BalanceState

    @property
    def deviation_pct(self) -> Decimal | None:
        return None if self.deviation is None else (self.deviation * 100).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class PoolOverview:
    pool: LiquidityPool
    rows: list[BalanceRow]
    # The pool's USD value (None when a currency has no rate), and when the rates it uses were set.
    total_usd: Decimal | None
    rates_as_of: datetime | None
    movements: list[PoolMovement]
    rebalances: list[Rebalance]

    @property
    def minor_units(self) -> dict[str, int]:
        return {row.currency: row.minor_units for row in self.rows}

    @property
    def counts(self) -> dict[str, int]:
        counts = {state: 0 for state in BalanceState.values}
        for row in self.rows:
            counts[row.state] += 1
        return counts


def _usd_rate(rates: RateTable, code: str) -> Decimal | None:
    try:
        return rates.rate(code, VALUATION_CURRENCY)
    except (NoRate, UnknownCurrency):
        return None


def balance_rows(pool: LiquidityPool, *, rates: RateTable | None = None) -> list[BalanceRow]:
    rates = rates or current_rate_table()
    balances = list(PoolBalance.objects.filter(pool=pool).select_related("currency").order_by("currency_id"))
    rows = []
    for balance in balances:
        currency = balance.currency
        usd_rate = _usd_rate(rates, currency.code)
        inputs = PoolCurrency(
            currency=currency.code,
            available=balance.available,
            minimum=balance.minimum,
            target=balance.target,
            maximum=balance.maximum,
            minor_units=currency.minor_units,
        )
        rows.append(
            BalanceRow(
                currency=currency.code,
                name=currency.name,
                minor_units=currency.minor_units,
                available=balance.available,
                minimum=balance.minimum,
                target=balance.target,
                maximum=balance.maximum,
                usd_rate=usd_rate,
                available_usd=None if usd_rate is None else (balance.available * usd_rate).quantize(CENTS),
                target_usd=None if usd_rate is None else (balance.target * usd_rate).quantize(CENTS),
                deviation=(
                    ((balance.available - balance.target) / balance.target).quantize(DEVIATION_PLACES)
                    if balance.target
                    else None
                ),
                state=balance_state(inputs, pool.rebalance_threshold),
            )
        )
    return rows


def pool_movements(pool: LiquidityPool) -> QuerySet[PoolMovement]:
    return PoolMovement.objects.filter(pool=pool).order_by("-id")


def pool_rebalances(pool: LiquidityPool) -> QuerySet[Rebalance]:
    return Rebalance.objects.filter(pool=pool).select_related("run_by").order_by("-id")


def pool_overview(
    pool: LiquidityPool,
    *,
    movements: int = LATEST_MOVEMENTS,
    rebalances: int = LATEST_REBALANCES,
    rates: RateTable | None = None,
) -> PoolOverview:
    """Everything the pool page and ``GET /api/v1/liquidity/pool`` show, in four queries (and the rate table's)."""
    rates = rates or current_rate_table()
    rows = balance_rows(pool, rates=rates)
    values = [row.available_usd for row in rows]
    return PoolOverview(
        pool=pool,
        rows=rows,
        total_usd=None if None in values else sum(values, Decimal(0)),
        rates_as_of=rates.as_of,
        movements=list(pool_movements(pool)[:movements]),
        rebalances=list(pool_rebalances(pool)[:rebalances]),
    )
