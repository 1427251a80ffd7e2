"""Template helpers for payment pages: amounts in their currency's minor units, bank names, masked accounts."""

from decimal import Decimal

from django import template

from deltran.crypto import mask_account, mask_iban
from settlement.selectors import participant_directory

register = template.Library()


@register.filter
def bank_name(banks: dict, bic: str) -> str:
    bank = banks.get(bic) if banks else None
    return bank.name if bank else ""


@register.filter
def money(value, currency: str = "") -> str:
    """1234567.5000 USD → 1,234,567.50; 1500 JPY → 1,500."""
    if value is None or value == "":
        return ""
    ref = participant_directory().currencies.get(currency)
    places = ref.minor_units if ref else 2
    return f"{Decimal(value):,.{places}f}"


@register.filter
def iban_shown(value: str, may_see: bool) -> str:
    """A party's IBAN in full for roles with payments.view_accounts, else masked (DE89 **** **** 3000)."""
    return value if may_see else mask_iban(value or "")


@register.filter
def account_shown(value: str, may_see: bool) -> str:
    """A party's account number in full for roles with payments.view_accounts, else its last four."""
    return value if may_see else mask_account(value or "")
