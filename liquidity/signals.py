"""Liquidity listens to settlement: it answers a netting cycle's question of what the pool can pay, and moves the
pool's balances by the cycle's pool legs and shortfall loans when the cycle settles (in the cycle's transaction)."""

from liquidity.services import pool_capacity_lock, pool_cycle_settle
from settlement.models import NettingCycle
from settlement.signals import cycle_settled, pool_capacity_provider_register


def _on_cycle_settled(sender, cycle, **kwargs) -> None:
    pool_cycle_settle(cycle=cycle)


def connect() -> None:
    pool_capacity_provider_register(pool_capacity_lock)
    cycle_settled.connect(_on_cycle_settled, sender=NettingCycle, dispatch_uid="liquidity-cycle-settled")
