"""Writes of currencies and base rates."""

from decimal import Decimal

import pycountry
from django.db import transaction

from fxrates.iso4217 import NOT_MONEY, minor_units
from fxrates.models import Currency, FxBaseRate


@transaction.atomic
def currency_load_iso4217() -> int:
    """Create every ISO 4217 currency that is missing; existing rows are left as an admin set them."""
    existing = set(Currency.objects.values_list("code", flat=True))
    created = [
        Currency(
            code=c.alpha_3,
            name=c.name,
            numeric_code=getattr(c, "numeric", ""),
            minor_units=minor_units(c.alpha_3),
            is_active=c.alpha_3 not in NOT_MONEY,
        )
        for c in pycountry.currencies
        if c.alpha_3 not in existing
    ]
    Currency.objects.bulk_create(created)
    return len(created)


def fx_base_rate_ensure(*, base: str, quote: str, rate: Decimal, volatility: Decimal, source: str = "Internal") -> bool:
    """Create the pair's base rate if it has none; True when created."""
    _, created = FxBaseRate.objects.get_or_create(
        base_currency_id=base,
        quote_currency_id=quote,
        defaults={"rate": rate, "volatility": volatility, "source": source},
    )
    return created
