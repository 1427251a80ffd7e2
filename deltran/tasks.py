"""Periodic platform housekeeping."""

from deltran.events import events_prune
from deltran.idempotency import idempotency_prune
from deltran.taskbase import periodic_task


@periodic_task(name="deltran.idempotency_prune")
def idempotency_prune_task() -> int:
    return idempotency_prune()


@periodic_task(name="deltran.outbox_prune")
def outbox_prune_task() -> int:
    return events_prune()
