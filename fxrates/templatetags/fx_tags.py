"""Template helpers for FX pages: signed percentages."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def signed_percent(value, places: int = 3) -> str:
    """Decimal('0.125') → '+0.125%'; a percentage already, shown with its sign."""
    if value is None or value == "":
        return "—"
    value = Decimal(value)
    return f"{value:+.{int(places)}f}%" if value else f"{0:.{int(places)}f}%"


@register.filter
def fraction_percent(value, places: int = 2) -> str:
    """A signed fraction as a percentage: Decimal('-0.05') → '-5.00%'."""
    if value is None or value == "":
        return "—"
    return signed_percent(Decimal(value) * 100, places)
