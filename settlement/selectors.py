"""Reads of participant reference data.

Banks, their accounts and currencies change rarely and are read on every
payment, so each process keeps a directory of them for a few seconds
(REFERENCE_DATA_TTL_SECONDS); saving any of them clears this process's copy.
"""

import time
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from fxrates.models import Currency
from settlement.models import Bank, SettlementAccount


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


def bank_list():
    return Bank.objects.select_related("primary_currency").prefetch_related("accounts", "clearing_windows")
