"""Writes of the liquidity pool's configuration."""

from decimal import Decimal

from django.db import transaction

from liquidity.models import LiquidityPool, PoolBalance


@transaction.atomic
def pool_ensure(
    *,
    name: str,
    rebalance_threshold: Decimal,
    auto_rebalance: bool,
    balances: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]],
) -> tuple[LiquidityPool, int]:
    """Create the pool and any missing currency balances (available, minimum, target, maximum)."""
    pool, _ = LiquidityPool.objects.get_or_create(
        name=name, defaults={"rebalance_threshold": rebalance_threshold, "auto_rebalance": auto_rebalance}
    )
    existing = set(pool.balances.values_list("currency_id", flat=True))
    created = 0
    for currency, (available, minimum, target, maximum) in balances.items():
        if currency in existing:
            continue
        balance = PoolBalance(
            pool=pool, currency_id=currency, available=available, minimum=minimum, target=target, maximum=maximum
        )
        balance.full_clean()
        balance.save()
        created += 1
    return pool, created
