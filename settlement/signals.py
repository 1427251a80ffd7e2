"""Signals settlement sends to the apps above it, the pool hook liquidity fills, and the directory refresh on
reference data saves."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal

from fxrates.models import Currency
from settlement.models import Bank, ClearingWindow, Holiday, SettlementAccount
from settlement.selectors import participant_directory_clear

# Sent inside a netting cycle's settle transaction: kwargs cycle (NettingCycle), payment_ids (sorted list of the
# UUIDs of payments with an obligation settled in the cycle). Payments subscribes and moves them QUEUED →
# SETTLING → SETTLED in the same transaction; liquidity subscribes and moves the pool's balances by the pool's
# cycle positions (CyclePosition rows with participant POOL, already written) and by the shortfall loans the cycle
# records in ``cycle.fundings``. A receiver that raises fails the whole cycle (nothing is posted).
cycle_settled = Signal()


# --- The pool hook -------------------------------------------------------------------------------------------------
#
# Settlement may not import liquidity, yet a cycle must know what the pool can pay before it posts. Liquidity
# registers one provider in its ready(); a cycle calls it once, after it has locked the settlement accounts, with
# every currency it nets. Without a provider (liquidity not installed) the pool is not constrained and lends nothing.


@dataclass(frozen=True)
class PoolCapacity:
    """What the pool holds in the cycle's currencies, locked until the cycle's transaction ends.

    ``available``: currency → balance, for the currencies the pool holds (a currency missing here cannot be paid or
    received by the pool: its pool legs are deferred). ``funds_shortfalls``: may the pool lend a bank the shortfall
    that would take its settlement account below zero.
    """

    pool_id: int
    pool_name: str
    available: dict[str, Decimal]
    funds_shortfalls: bool


# currencies (sorted) → the pool's capacity with those balances locked, or None when there is no pool.
PoolCapacityProvider = Callable[[Sequence[str]], PoolCapacity | None]

_pool_capacity_provider: PoolCapacityProvider | None = None


def pool_capacity_provider_register(provider: PoolCapacityProvider | None) -> None:
    """Set (or, with None, clear) the one function that answers ``pool_capacity``; liquidity calls it in ready()."""
    global _pool_capacity_provider
    _pool_capacity_provider = provider


def pool_capacity_provider() -> PoolCapacityProvider | None:
    return _pool_capacity_provider


def _clear(**kwargs) -> None:
    participant_directory_clear()


def connect() -> None:
    for model in (Bank, SettlementAccount, Currency, ClearingWindow, Holiday):
        post_save.connect(_clear, sender=model, dispatch_uid=f"directory-clear-save-{model.__name__}")
        post_delete.connect(_clear, sender=model, dispatch_uid=f"directory-clear-delete-{model.__name__}")
