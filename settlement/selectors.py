"""Reads of participant reference data.

Banks, their accounts and currencies change rarely and are read on every
payment, so each process keeps a directory of them for a few seconds
(REFERENCE_DATA_TTL_SECONDS); saving any of them clears this process's copy.
"""

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.utils import timezone

from deltran.money import amount_str, quantize_amount
from fxrates.models import Currency
from settlement.engines.calendar import (
    BankCalendar,
    NoClosing,
    NoOpening,
    Window,
    is_open,
    next_closing,
    next_opening,
    open_intervals,
)
from settlement.models import (
    Bank,
    BankPosition,
    ClearingWindow,
    CyclePosition,
    Holiday,
    LedgerPosting,
    NettingCycle,
    SettlementAccount,
    SettlementInstruction,
)


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
    # The same banks by primary key.
    banks_by_id: dict[int, BankRef] = field(default_factory=dict)


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
    directory = ParticipantDirectory(
        banks=banks, currencies=currencies, banks_by_id={bank.id: bank for bank in banks.values()}
    )
    _cache["directory"] = (now, directory)
    return directory


def bank_by_bic(bic: str) -> BankRef | None:
    return participant_directory().banks.get(bic)


def settlement_currencies() -> list[str]:
    """The currencies active banks hold settlement accounts in."""
    banks = participant_directory().banks.values()
    return sorted({code for bank in banks if bank.is_active for code in bank.accounts})


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
    first_day, last_day = _local_span(bank, start, end)
    names = dict(
        Holiday.objects.filter(date__gte=first_day, date__lte=last_day)
        .filter(models.Q(bank_id=bank.id) | models.Q(bank__isnull=True, country=bank.country))
        .values_list("date", "name")
    )
    return _calendar_days(bank, _bank_calendar(bank, currency), start=start, end=end, names=names, now=timezone.now())


def _bank_calendar(bank: BankRef, currency: str | None) -> BankCalendar | None:
    return bank.calendar(currency) if currency else bank.calendar_any()


def _local_span(bank: BankRef, start: datetime, end: datetime) -> tuple[date, date]:
    zone = ZoneInfo(bank.timezone)
    return start.astimezone(zone).date(), end.astimezone(zone).date()


def _calendar_days(
    bank: BankRef,
    calendar: BankCalendar | None,
    *,
    start: datetime,
    end: datetime,
    names: dict[date, str],
    now: datetime,
) -> CalendarDays:
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


@dataclass(frozen=True)
class BankCalendarRow:
    """One bank on the calendar page: its open intervals, holidays and closed days in the span, now and next."""

    bank: BankRef
    calendar: BankCalendar | None
    days: CalendarDays
    # Local dates in the span on which no window opens because they are not working days (holidays apart).
    closed_days: list[date]
    # When the open interval the bank is in now ends (None when closed, or never closing within the horizon).
    closes_at: datetime | None

    @property
    def windows(self) -> tuple[Window, ...]:
        return self.calendar.windows if self.calendar else ()


@dataclass(frozen=True)
class CalendarOverview:
    start: datetime
    end: datetime
    currency: str | None
    now: datetime
    rows: list[BankCalendarRow]


def calendar_overview(*, start: datetime, end: datetime, currency: str | None = None) -> CalendarOverview:
    """Every active bank's calendar between two instants, with the holiday names of all of them in one query."""
    banks = sorted((b for b in participant_directory().banks.values() if b.is_active), key=lambda b: b.name)
    now = timezone.now()
    spans = {bank.id: _local_span(bank, start, end) for bank in banks}
    names: dict[int, dict[date, str]] = {bank.id: {} for bank in banks}
    if banks:
        first_day = min(first for first, _ in spans.values())
        last_day = max(last for _, last in spans.values())
        by_country: dict[str, dict[date, str]] = {}
        by_bank: dict[int, dict[date, str]] = {}
        own = models.Q(bank_id__in=[b.id for b in banks])
        national = models.Q(bank__isnull=True, country__in={b.country for b in banks})
        holidays = Holiday.objects.filter(own | national, date__gte=first_day, date__lte=last_day)
        for bank_id, country, day, name in holidays.values_list("bank_id", "country", "date", "name"):
            if bank_id:
                by_bank.setdefault(bank_id, {})[day] = name
            else:
                by_country.setdefault(country, {})[day] = name
        for bank in banks:
            first, last = spans[bank.id]
            # A bank's own holiday names the day when its country also has one.
            merged = {**by_country.get(bank.country, {}), **by_bank.get(bank.id, {})}
            names[bank.id] = {day: name for day, name in merged.items() if first <= day <= last}
    rows = []
    for bank in banks:
        calendar = _bank_calendar(bank, currency)
        days = _calendar_days(bank, calendar, start=start, end=end, names=names[bank.id], now=now)
        first, last = spans[bank.id]
        closed = []
        if calendar is not None:
            day = first
            while day <= last:
                if day.isoweekday() not in calendar.weekdays and day not in names[bank.id]:
                    closed.append(day)
                day += timedelta(days=1)
        closes_at = None
        if calendar is not None and days.open_now:
            try:
                closes_at = next_closing(calendar, now)
            except (NoOpening, NoClosing):
                closes_at = None
        rows.append(BankCalendarRow(bank=bank, calendar=calendar, days=days, closed_days=closed, closes_at=closes_at))
    return CalendarOverview(start=start, end=end, currency=currency, now=now, rows=rows)


# --- Netting cycles and positions -----------------------------------------------------------


def currency_amount(amount: Decimal, currency: str) -> Decimal:
    """The amount quantised to its currency's minor units (a Decimal: CSV exports keep a sign as a number)."""
    ref = participant_directory().currencies.get(currency)
    return quantize_amount(amount, ref.minor_units) if ref else amount.normalize()


def currency_amount_str(amount: Decimal, currency: str) -> str:
    """The amount with exactly its currency's minor units, as the API shows it."""
    ref = participant_directory().currencies.get(currency)
    return amount_str(amount, ref.minor_units) if ref else format(amount.normalize(), "f")


def netting_cycle_list() -> models.QuerySet[NettingCycle]:
    """Newest first."""
    return NettingCycle.objects.order_by("-started_at", "-id")


def netting_cycle_detail(cycle_id: int) -> NettingCycle:
    """A cycle with its positions, instructions and postings (three queries besides the cycle's)."""
    return NettingCycle.objects.prefetch_related(
        models.Prefetch("positions", queryset=CyclePosition.objects.order_by("currency_id", "participant_code")),
        models.Prefetch("instructions", queryset=SettlementInstruction.objects.order_by("currency_id", "id")),
        models.Prefetch("postings", queryset=LedgerPosting.objects.order_by("id")),
    ).get(pk=cycle_id)


def cycle_position_rows(cycle_id: int):
    return (
        CyclePosition.objects.filter(cycle_id=cycle_id)
        .order_by("currency_id", "participant_code")
        .values_list("participant_code", "currency_id", "position")
    )


def cycle_instruction_rows(cycle_id: int):
    return (
        SettlementInstruction.objects.filter(cycle_id=cycle_id)
        .order_by("currency_id", "id")
        .values_list("payer_code", "payee_code", "currency_id", "amount")
    )


def bank_position_today(bank: BankRef, *, now: datetime | None = None) -> BankPosition | None:
    """The bank's position for its current business day (its local date), if it has one yet."""
    day = (now or timezone.now()).astimezone(ZoneInfo(bank.timezone)).date()
    return BankPosition.objects.filter(bank_id=bank.id, business_date=day).first()


def netting_cycle_page(cycle_id: int) -> NettingCycle:
    """A cycle with its positions and instructions (postings are read apart, capped: cycle_postings)."""
    return NettingCycle.objects.prefetch_related(
        models.Prefetch("positions", queryset=CyclePosition.objects.order_by("currency_id", "participant_code")),
        models.Prefetch("instructions", queryset=SettlementInstruction.objects.order_by("currency_id", "id")),
    ).get(pk=cycle_id)


def cycle_postings(cycle_id: int, *, limit: int) -> tuple[list[LedgerPosting], int]:
    """A cycle's first ``limit`` ledger postings in the order they were written, and how many it has."""
    postings = LedgerPosting.objects.filter(cycle_id=cycle_id).order_by("id")
    shown = list(postings[:limit])
    total = len(shown) if len(shown) < limit else postings.count()
    return shown, total
