"""Periodic platform housekeeping."""

from celery import shared_task

from deltran.idempotency import idempotency_prune


@shared_task(name="deltran.idempotency_prune")
def idempotency_prune_task() -> int:
    return idempotency_prune()
