"""Signals settlement sends to the apps above it, and the directory refresh on reference data saves."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal

from fxrates.models import Currency
from settlement.models import Bank, ClearingWindow, Holiday, SettlementAccount
from settlement.selectors import participant_directory_clear

# Sent inside a netting cycle's settle transaction: kwargs cycle (NettingCycle), payment_ids (sorted list of the
# UUIDs of payments with an obligation settled in the cycle). Payments subscribes and moves them QUEUED →
# SETTLING → SETTLED in the same transaction; a receiver that raises fails the whole cycle (nothing is posted).
cycle_settled = Signal()


def _clear(**kwargs) -> None:
    participant_directory_clear()


def connect() -> None:
    for model in (Bank, SettlementAccount, Currency, ClearingWindow, Holiday):
        post_save.connect(_clear, sender=model, dispatch_uid=f"directory-clear-save-{model.__name__}")
        post_delete.connect(_clear, sender=model, dispatch_uid=f"directory-clear-delete-{model.__name__}")
