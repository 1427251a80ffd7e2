"""FX reads: the current rate table (kept per process for FX_CACHE_SECONDS), past rates, history for charts."""

import time
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet

from fxrates.engines.fx import NoRate, Quote, RateHistory, RateTable, UnknownCurrency
from fxrates.models import Currency, FxBaseRate, FxRateHistory

_cache: dict[str, tuple[float, RateTable]] = {}


def fx_cache_clear() -> None:
    _cache.clear()


def current_quotes() -> list[Quote]:
    quotes = []
    for pair in FxBaseRate.objects.all():
        rate = pair.current_rate if pair.current_rate is not None else pair.rate
        at = pair.current_rate_at or pair.updated_at
        quotes.append(Quote(base=pair.base_currency_id, quote=pair.quote_currency_id, rate=rate, at=at))
    return quotes


def current_rate_table() -> RateTable:
    ttl = getattr(settings, "FX_CACHE_SECONDS", 1)
    cached = _cache.get("current")
    now = time.monotonic()
    if cached is not None and now - cached[0] < ttl:
        return cached[1]
    # Every active currency is known, so a currency without a quoted pair gives NoRate, not UnknownCurrency.
    table = RateTable(
        current_quotes(), currencies=set(Currency.objects.filter(is_active=True).values_list("code", flat=True))
    )
    _cache["current"] = (now, table)
    return table


def rate_history_at(at: datetime, pairs: list[tuple[str, str]] | None = None) -> RateHistory:
    """The quotes needed to know every pair's rate at `at`: for each pair, the latest at or before it."""
    pairs = pairs or list(FxBaseRate.objects.values_list("base_currency_id", "quote_currency_id"))
    quotes = []
    for base, quote in pairs:
        row = (
            FxRateHistory.objects.filter(base_currency_id=base, quote_currency_id=quote, recorded_at__lte=at)
            .order_by("-recorded_at")
            .values_list("rate", "recorded_at")
            .first()
        )
        if row is not None:
            quotes.append(Quote(base=base, quote=quote, rate=row[0], at=row[1]))
    return RateHistory(quotes, currencies={code for pair in pairs for code in pair})


def fx_rate(source: str, target: str, at: datetime | None = None) -> tuple[Decimal, datetime]:
    """1 source = rate target, in force now (or at a past instant), and when that rate was set."""
    known = set(Currency.objects.filter(code__in=[source, target], is_active=True).values_list("code", flat=True))
    for code in (source, target):
        if code not in known:
            raise UnknownCurrency(f"{code} is not a known active currency.")
    table = current_rate_table() if at is None else rate_history_at(at).table_at(at)
    try:
        return table.rate(source, target), table.quote_time(source, target)
    except UnknownCurrency as exc:
        # Both currencies exist, so the table lacks a quote for them: none at that time.
        raise NoRate(f"No {source}/{target} rate is known at {at or 'this time'}.") from exc


def rate_history(*, base: str, quote: str, start: datetime, end: datetime) -> QuerySet[FxRateHistory]:
    return FxRateHistory.objects.filter(
        base_currency_id=base, quote_currency_id=quote, recorded_at__gte=start, recorded_at__lte=end
    ).order_by("recorded_at")


def pairs() -> QuerySet[FxBaseRate]:
    return FxBaseRate.objects.select_related("base_currency", "quote_currency").order_by("quote_currency")
