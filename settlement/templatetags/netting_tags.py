"""Template helpers for the netting pages: amounts in their currency's minor units, participants by name, percents."""

from decimal import Decimal

from django import template

from settlement.charts import percent_label
from settlement.choices import POOL, CycleTrigger
from settlement.selectors import participant_directory

register = template.Library()


def _places(currency: str) -> int:
    ref = participant_directory().currencies.get(currency)
    return ref.minor_units if ref else 2


@register.filter
def ccy_amount(value, currency: str = "") -> str:
    """Decimal("1234.5000") USD → "1,234.50"; None → "—"."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(value):,.{_places(currency)}f}"


@register.filter
def signed_ccy_amount(value, currency: str = "") -> str:
    """+1,000.00 / −1,000.00 (a true minus sign) / 0.00."""
    if value is None or value == "":
        return "—"
    value = Decimal(value)
    text = f"{abs(value):,.{_places(currency)}f}"
    return f"+{text}" if value > 0 else f"−{text}" if value < 0 else text


@register.filter
def percent(value) -> str:
    if value is None or value == "":
        return "—"
    return percent_label(value)


@register.filter
def participant_name(code: str) -> str:
    """A bank's name for its BIC; the liquidity pool for POOL."""
    if code == POOL:
        return "Liquidity pool"
    bank = participant_directory().banks.get(code)
    return bank.name if bank else ""


# The stored label of an operator's run says "(API)"; pages run cycles too, so they name the trigger plainly.
TRIGGER_LABELS = {CycleTrigger.OPERATOR: "Operator"}


@register.filter
def trigger_label(cycle) -> str:
    return TRIGGER_LABELS.get(cycle.trigger, cycle.get_trigger_display())
