"""Reads of participant reference data.

Banks, their accounts and currencies change rarely and are read on every
payment, so each process keeps a directory of them for a few seconds
(REFERENCE_DATA_TTL_SECONDS); saving any of them clears this process's copy.
"""

import time
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as clock_time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.utils import timezone

from fxrates.models import Currency
from settlement.engines.calendar import BankCalendar, NoOpening, Window, is_open, next_opening, open_intervals
from settlement.models import Bank, ClearingWindow, Holiday, SettlementAccount


@dataclass(frozen=True)
class AccountRef:
    id: int
    account_number: str
    is_active: bool


@dataclass(frozen=True)
class BankRef:
    id: int
    bic: str
    name: str
    country: str
    timezone: str
    is_active: bool
    risk_rating: str
    daily_liquidity_limit_usd: Decimal
    accounts: dict[str, AccountRef] = field(default_factory=dict)
    active_weekdays: frozenset[int] = frozenset()
    # (currency or None for every currency, opens, closes) in the bank's local time.
    windows: tuple[tuple[str | None, clock_time, clock_time], ...] = ()
    holidays: frozenset[date] = frozenset()
    # Built once per directory refresh: a BankCalendar caches each local day's intervals.
    _calendars: dict = field(default_factory=dict, compare=False, repr=False)

    def calendar(self, currency: str | None) -> BankCalendar | None:
        """The bank's clearing calendar for a currency; None when it has no windows (always open)."""
        if currency not in self._calendars:
            self._calendars[currency] = self._build_calendar(currency)
        return self._calendars[currency]

    def _build_calendar(self, currency: str | None) -> BankCalendar | None:
        own = tuple(Window(opens=o, closes=c) for cur, o, c in self.windows if cur == currency)
        general = tuple(Window(opens=o, closes=c) for cur, o, c in self.windows if cur is None)
        windows = own or general
        if not windows:
            return None
        return BankCalendar(
            timezone=self.timezone, weekdays=self.active_weekdays, windows=windows, holidays=self.holidays
        )

    def calendar_any(self) -> BankCalendar | None:
        """The general (every-currency) calendar, or the first currency's when only per-currency windows exist."""
        currencies = [cur for cur, _, _ in self.windows]
        if not currencies:
            return None
        return self.calendar(None if None in currencies else currencies[0])


@dataclass(frozen=True)
class CurrencyRef:
    code: str
    minor_units: int
    is_active: bool


@dataclass(frozen=True)
class ParticipantDirectory:
    banks: dict[str, BankRef]
    currencies: dict[str, CurrencyRef]


_cache: dict[str, tuple[float, ParticipantDirectory]] = {}


def participant_directory_clear() -> None:
    _cache.clear()


def participant_directory() -> ParticipantDirectory:
    ttl = getattr(settings, "REFERENCE_DATA_TTL_SECONDS", 5)
    cached = _cache.get("directory")
    now = time.monotonic()
    if cached is not None and now - cached[0] < ttl:
        return cached[1]
    accounts: dict[int, dict[str, AccountRef]] = {}
    for acc in SettlementAccount.objects.values("id", "bank_id", "currency_id", "account_number", "is_active"):
        accounts.setdefault(acc["bank_id"], {})[acc["currency_id"]] = AccountRef(
            id=acc["id"], account_number=acc["account_number"], is_active=acc["is_active"]
        )
    windows: dict[int, list] = {}
    for bank_id, currency, opens, closes in ClearingWindow.objects.values_list(
        "bank_id", "currency_id", "opens_at", "closes_at"
    ):
        windows.setdefault(bank_id, []).append((currency, opens, closes))
    bank_holidays: dict[int, set[date]] = {}
    country_holidays: dict[str, set[date]] = {}
    for bank_id, country, day in Holiday.objects.values_list("bank_id", "country", "date"):
        if bank_id:
            bank_holidays.setdefault(bank_id, set()).add(day)
        else:
            country_holidays.setdefault(country, set()).add(day)
    banks = {
        bank.bic: BankRef(
            id=bank.id,
            bic=bank.bic,
            name=bank.name,
            country=bank.country,
            timezone=bank.timezone,
            is_active=bank.is_active,
            risk_rating=bank.risk_rating,
            daily_liquidity_limit_usd=bank.daily_liquidity_limit_usd,
            accounts=accounts.get(bank.id, {}),
            active_weekdays=frozenset(bank.active_weekdays),
            windows=tuple(windows.get(bank.id, ())),
            holidays=frozenset(bank_holidays.get(bank.id, set()) | country_holidays.get(bank.country, set())),
        )
        for bank in Bank.objects.all()
    }
    currencies = {
        c["code"]: CurrencyRef(code=c["code"], minor_units=c["minor_units"], is_active=c["is_active"])
        for c in Currency.objects.values("code", "minor_units", "is_active")
    }
    directory = ParticipantDirectory(banks=banks, currencies=currencies)
    _cache["directory"] = (now, directory)
    return directory


def bank_by_bic(bic: str) -> BankRef | None:
    return participant_directory().banks.get(bic)


def bank_list():
    return Bank.objects.select_related("primary_currency").prefetch_related("accounts", "clearing_windows")


@dataclass(frozen=True)
class CalendarDays:
    intervals: list[tuple[datetime, datetime]]
    holidays: list[tuple[date, str]]
    open_now: bool
    next_opening: datetime | None


def bank_calendar_days(bank: BankRef, *, start: datetime, end: datetime, currency: str | None = None) -> CalendarDays:
    """Open intervals of a bank between two instants (UTC), its holidays in that span, and whether it is open now."""
    calendar = bank.calendar(currency) if currency else bank.calendar_any()
    now = timezone.now()
    zone = ZoneInfo(bank.timezone)
    first_day = start.astimezone(zone).date()
    last_day = end.astimezone(zone).date()
    names = dict(
        Holiday.objects.filter(date__gte=first_day, date__lte=last_day)
        .filter(models.Q(bank_id=bank.id) | models.Q(bank__isnull=True, country=bank.country))
        .values_list("date", "name")
    )
    if calendar is None:
        return CalendarDays(intervals=[(start, end)], holidays=sorted(names.items()), open_now=True, next_opening=now)
    try:
        upcoming = next_opening(calendar, now)
    except NoOpening:
        upcoming = None
    return CalendarDays(
        intervals=open_intervals(calendar, start, end),
        holidays=sorted(names.items()),
        open_now=is_open(calendar, now),
        next_opening=upcoming,
    )
