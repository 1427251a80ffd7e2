"""Template helpers for the review pages: amounts in their currency's minor units, bank names, spans of time."""

from datetime import timedelta
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


@register.filter
def span(value: timedelta | None) -> str:
    """A span for people in a hurry: "2 d 3 h", "3 h 12 min", "12 min", "under a minute"."""
    if value is None:
        return ""
    minutes = int(abs(value.total_seconds()) // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else "under a minute"


@register.filter
def humanise(value: str) -> str:
    """A code as words: "sender_bank" → "Sender bank", "sanctions_critical" → "Sanctions critical"."""
    text = str(value or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


DECIDED = {"approve": "approved", "reject": "rejected", "escalate": "escalated"}


@register.filter
def decided(decision: str) -> str:
    """A decision as the case status it led to: "reject" → "rejected"."""
    return DECIDED.get(decision, decision)
