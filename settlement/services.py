"""Writes of participant reference data."""

from datetime import time
from decimal import Decimal

import holidays as holiday_calendars
from django.db import transaction

from deltran.errors import ValidationFailed
from settlement.models import Bank, ClearingWindow, Holiday, SettlementAccount


@transaction.atomic
def bank_ensure(
    *,
    bic: str,
    name: str,
    country: str,
    timezone: str,
    primary_currency: str,
    secondary_currencies: list[str],
    daily_liquidity_limit_usd: Decimal,
    risk_rating: str,
    kyc_status: str,
    active_weekdays: list[int],
    accounts: dict[str, Decimal],
    clearing_window: tuple[time, time],
) -> tuple[Bank, bool]:
    """Create a bank with its accounts and clearing window if it is not there; an existing bank is left as is."""
    bank = Bank.objects.filter(bic=bic).first()
    if bank is not None:
        return bank, False
    bank = Bank(
        bic=bic,
        name=name,
        country=country,
        timezone=timezone,
        primary_currency_id=primary_currency,
        daily_liquidity_limit_usd=daily_liquidity_limit_usd,
        risk_rating=risk_rating,
        kyc_status=kyc_status,
        active_weekdays=active_weekdays,
    )
    bank.full_clean()
    bank.save()
    bank.secondary_currencies.set(secondary_currencies)
    for currency, balance in accounts.items():
        account = SettlementAccount(
            bank=bank, currency_id=currency, account_number=f"DLT{bic[:8]}{currency}", balance=balance
        )
        account.full_clean()
        account.save()
    opens_at, closes_at = clearing_window
    window = ClearingWindow(bank=bank, opens_at=opens_at, closes_at=closes_at)
    window.full_clean()
    window.save()
    return bank, True


@transaction.atomic
def holidays_import(*, country: str, year: int, source_name: str = "holidays") -> int:
    """Create the country's public holidays for a year from the `holidays` package; existing dates are kept."""
    country = country.strip().upper()
    try:
        calendar = holiday_calendars.country_holidays(country, years=year)
    except NotImplementedError as exc:
        raise ValidationFailed(
            f"No holiday calendar is known for country {country!r}.", code="unknown_country"
        ) from exc
    existing = set(
        Holiday.objects.filter(country=country, bank__isnull=True, date__year=year).values_list("date", flat=True)
    )
    created = [
        Holiday(country=country, date=day, name=name[:128], source=f"{source_name} {holiday_calendars.__version__}")
        for day, name in sorted(calendar.items())
        if day not in existing
    ]
    Holiday.objects.bulk_create(created)
    return len(created)
