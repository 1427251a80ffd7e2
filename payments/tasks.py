"""Periodic payment work: release payments waiting for liquidity when a new business day makes room."""

from celery import shared_task

from deltran.taskbase import periodic_task
from payments.metrics import metrics_rollup
from payments.services import payments_liquidity_release


@periodic_task(name="payments.liquidity_release")
def liquidity_release_task() -> int:
    return payments_liquidity_release()


@shared_task(name="payments.metrics_rollup")
def metrics_rollup_task() -> int:
    """Every METRICS_ROLLUP_SECONDS; safe to run twice at once (the runs queue on the watermark row's lock)."""
    return metrics_rollup()
