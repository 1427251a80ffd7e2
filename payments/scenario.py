"""The 4-bank scenario of the seed: banks, accounts, clearing windows, the pool, FX base rates, demo users.

Loading is idempotent: what exists is left as it is, so a second run changes nothing.
"""

from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal as D

from django.conf import settings
from django.utils import timezone

from compliance.demo import demo_lists_load
from deltran.accounts import roles_ensure, user_ensure
from deltran.otp import totp_device_ensure
from deltran.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, OPERATOR, VIEWER
from fxrates.services import currency_load_iso4217, fx_base_rate_ensure
from liquidity.services import pool_ensure
from settlement.choices import KycStatus, RiskRating
from settlement.services import bank_ensure, holidays_import

SUN, MON, TUE, WED, THU, FRI, SAT = 7, 1, 2, 3, 4, 5, 6

BANKS = [
    {
        "bic": "ENBXAEADXXX",
        "name": "Emirates National Bank",
        "country": "AE",
        "timezone": "Asia/Dubai",
        "primary_currency": "AED",
        "secondary_currencies": ["USD", "EUR", "SAR"],
        "daily_liquidity_limit_usd": D("500000000"),
        "risk_rating": RiskRating.LOW,
        "kyc_status": KycStatus.VERIFIED,
        "active_weekdays": [SUN, MON, TUE, WED, THU],
        "accounts": {"AED": D("500000000.00"), "USD": D("100000000.00"), "EUR": D("50000000.00")},
        "clearing_window": (time(8), time(16)),
    },
    {
        "bic": "LUMIILITXXX",
        "name": "Bank Leumi Israel",
        "country": "IL",
        "timezone": "Asia/Jerusalem",
        "primary_currency": "ILS",
        "secondary_currencies": ["USD", "EUR", "GBP"],
        "daily_liquidity_limit_usd": D("300000000"),
        "risk_rating": RiskRating.LOW,
        "kyc_status": KycStatus.VERIFIED,
        "active_weekdays": [SUN, MON, TUE, WED, THU],
        "accounts": {"ILS": D("300000000.00"), "USD": D("80000000.00"), "EUR": D("40000000.00")},
        "clearing_window": (time(9), time(17)),
    },
    {
        "bic": "HABBPKKKXXX",
        "name": "Habib Bank Limited",
        "country": "PK",
        "timezone": "Asia/Karachi",
        "primary_currency": "PKR",
        "secondary_currencies": ["USD", "AED", "SAR"],
        "daily_liquidity_limit_usd": D("200000000"),
        "risk_rating": RiskRating.MEDIUM,
        "kyc_status": KycStatus.VERIFIED,
        "active_weekdays": [MON, TUE, WED, THU, FRI],
        "accounts": {"PKR": D("30000000000.00"), "USD": D("100000000.00")},
        "clearing_window": (time(9), time(17)),
    },
    {
        "bic": "SBININBBXXX",
        "name": "State Bank of India",
        "country": "IN",
        "timezone": "Asia/Kolkata",
        "primary_currency": "INR",
        "secondary_currencies": ["USD", "EUR", "AED"],
        "daily_liquidity_limit_usd": D("800000000"),
        "risk_rating": RiskRating.LOW,
        "kyc_status": KycStatus.VERIFIED,
        "active_weekdays": [MON, TUE, WED, THU, FRI, SAT],
        "accounts": {"INR": D("40000000000.00"), "USD": D("150000000.00")},
        "clearing_window": (time(10), time(18)),
    },
]

POOL = {
    "name": "Primary Liquidity Pool",
    "rebalance_threshold": D("0.20"),
    "auto_rebalance": True,
    # currency: (available, minimum, target, maximum)
    "balances": {
        "USD": (D("2000000000"), D("500000000"), D("1000000000"), D("3000000000")),
        "EUR": (D("500000000"), D("100000000"), D("250000000"), D("750000000")),
        "GBP": (D("300000000"), D("75000000"), D("150000000"), D("450000000")),
        "AED": (D("1000000000"), D("250000000"), D("500000000"), D("1500000000")),
        "ILS": (D("500000000"), D("125000000"), D("250000000"), D("750000000")),
        "PKR": (D("50000000000"), D("12500000000"), D("25000000000"), D("75000000000")),
        "INR": (D("60000000000"), D("15000000000"), D("30000000000"), D("90000000000")),
    },
}

# USD base rates and their volatilities (fractions: 0.1% is 0.001).
FX_BASE_RATES = [
    ("USD", "AED", D("3.6725"), D("0.001")),
    ("USD", "ILS", D("3.6500"), D("0.015")),
    ("USD", "PKR", D("278.5000"), D("0.025")),
    ("USD", "INR", D("83.2500"), D("0.018")),
    ("USD", "EUR", D("0.9200"), D("0.012")),
    ("USD", "GBP", D("0.7900"), D("0.013")),
    ("USD", "SAR", D("3.7500"), D("0.001")),
]

# Demo logins, one per role. For a local demo only: production creates its own users.
DEMO_USERS = [
    ("admin", "deltran-admin", ADMIN),
    ("operator", "deltran-operator", OPERATOR),
    ("compliance", "deltran-compliance", COMPLIANCE_OFFICER),
    ("auditor", "deltran-auditor", AUDITOR),
    ("viewer", "deltran-viewer", VIEWER),
]


@dataclass
class ScenarioReport:
    currencies_created: int = 0
    banks_created: list[str] = field(default_factory=list)
    pool_balances_created: int = 0
    fx_rates_created: int = 0
    holidays_created: int = 0
    lists_imported: int = 0
    users_created: list[str] = field(default_factory=list)
    # Demo users whose role requires a second factor have an authenticator; {username: device}.
    authenticators: dict = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(
            self.currencies_created
            or self.banks_created
            or self.pool_balances_created
            or self.fx_rates_created
            or self.holidays_created
            or self.lists_imported
            or self.users_created
        )


def scenario_load(*, with_users: bool = True) -> ScenarioReport:
    report = ScenarioReport()
    report.currencies_created = currency_load_iso4217()
    roles_ensure()
    for spec in BANKS:
        bank, created = bank_ensure(**spec)
        if created:
            report.banks_created.append(bank.bic)
    _, report.pool_balances_created = pool_ensure(**POOL)
    for base, quote, rate, volatility in FX_BASE_RATES:
        report.fx_rates_created += fx_base_rate_ensure(base=base, quote=quote, rate=rate, volatility=volatility)
    this_year = timezone.now().year
    for country in sorted({spec["country"] for spec in BANKS}):
        for year in (this_year, this_year + 1):
            report.holidays_created += holidays_import(country=country, year=year)
    report.lists_imported = demo_lists_load()
    if with_users:
        for username, password, role in DEMO_USERS:
            user, created = user_ensure(username=username, password=password, role=role)
            if created:
                report.users_created.append(username)
            if role in settings.OTP_REQUIRED_ROLES:
                report.authenticators[username], _ = totp_device_ensure(user=user, name="demo authenticator")
    return report
