"""Template helpers for payment pages: amounts in their currency's minor units, bank names."""

from decimal import Decimal

from django import template

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
