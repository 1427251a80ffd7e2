"""Template helpers for the pool page: amounts with thousands separators, signed amounts and percentages."""

from decimal import Decimal

from django import template

from liquidity.charts import amount_text

register = template.Library()


@register.filter
def amount(value, places=2) -> str:
    """Decimal("1234567.5") → "1,234,567.50" at 2 places; None → "—"."""
    if value is None or value == "":
        return "—"
    return amount_text(Decimal(value), int(places))


@register.filter
def signed_amount(value, places=2) -> str:
    """+1,000.00 / −1,000.00 (a true minus sign), for movements."""
    if value is None or value == "":
        return "—"
    value = Decimal(value)
    text = amount_text(abs(value), int(places))
    return f"+{text}" if value > 0 else f"−{text}" if value < 0 else text


@register.filter
def signed_pct(value) -> str:
    """Decimal("100.0") → "+100.0%"; None → "—"."""
    if value is None or value == "":
        return "—"
    value = Decimal(value)
    return f"+{value}%" if value > 0 else f"−{abs(value)}%" if value < 0 else f"{value}%"
