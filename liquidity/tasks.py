"""Periodic pool work: rebalance every pool that has automatic rebalancing on."""

import logging

from deltran.errors import DomainError
from deltran.taskbase import periodic_task
from liquidity.choices import RebalanceTrigger
from liquidity.selectors import pool_ids_auto_rebalance
from liquidity.services import pool_rebalance

logger = logging.getLogger(__name__)


@periodic_task(name="liquidity.rebalance")
def pool_rebalance_task(pool_id: int | None = None) -> int:
    """Rebalance the given pool, or every auto-rebalancing one; how many rebalances moved money.

    Safe to run twice: a second run finds the pool within its threshold (or nothing to move) and records nothing.
    """
    applied = 0
    for each in [pool_id] if pool_id is not None else pool_ids_auto_rebalance():
        try:
            rebalance = pool_rebalance(pool_id=each, trigger=RebalanceTrigger.BEAT)
        except DomainError as exc:
            # One pool that cannot be valued (a missing rate) must not stop the others.
            logger.warning("Pool %s was not rebalanced: %s (%s)", each, exc.message, exc.code)
            continue
        applied += rebalance is not None
    return applied
