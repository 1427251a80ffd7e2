"""Periodic platform housekeeping."""

from deltran.idempotency import idempotency_prune
from deltran.taskbase import periodic_task


@periodic_task(name="deltran.idempotency_prune")
def idempotency_prune_task() -> int:
    return idempotency_prune()
