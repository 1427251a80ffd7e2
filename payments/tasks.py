"""Periodic payment work: release payments waiting for liquidity when a new business day makes room."""

from celery import shared_task

from payments.services import payments_liquidity_release


@shared_task(name="payments.liquidity_release")
def liquidity_release_task() -> int:
    return payments_liquidity_release()
