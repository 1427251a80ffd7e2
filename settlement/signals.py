"""Keep each process's participant directory fresh when reference data is saved here."""

from django.db.models.signals import post_delete, post_save

from fxrates.models import Currency
from settlement.models import Bank, ClearingWindow, Holiday, SettlementAccount
from settlement.selectors import participant_directory_clear


def _clear(**kwargs) -> None:
    participant_directory_clear()


def connect() -> None:
    for model in (Bank, SettlementAccount, Currency, ClearingWindow, Holiday):
        post_save.connect(_clear, sender=model, dispatch_uid=f"directory-clear-save-{model.__name__}")
        post_delete.connect(_clear, sender=model, dispatch_uid=f"directory-clear-delete-{model.__name__}")
