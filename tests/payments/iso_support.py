"""Shared pieces of the message intake tests: the public sample data and network banks for the samples' BICs."""

from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from fxrates.selectors import fx_cache_clear
from fxrates.services import fx_base_rate_ensure
from settlement.choices import KycStatus, RiskRating
from settlement.selectors import participant_directory_clear
from settlement.services import bank_ensure

SHARED_DATA = Path(settings.BASE_DIR).parent / "shared" / "data"
SAMPLES = SHARED_DATA / "iso20022" / "samples"
XSD_DIR = SHARED_DATA / "iso20022" / "xsd"
MT103_DIR = SHARED_DATA / "swift_mt103"

needs_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} is not there")

# Currencies the samples settle in that the scenario has no rate for.
EXTRA_RATES = [("USD", "RON", Decimal("4.6000")), ("USD", "CHF", Decimal("0.8800")), ("USD", "TRY", Decimal("32.0"))]


def network_banks_ensure(bics: set[str], currencies: set[str]) -> None:
    """Banks of the network for the BICs a sample uses: open round the clock, with accounts in its currencies."""
    for base, quote, rate in EXTRA_RATES:
        fx_base_rate_ensure(base=base, quote=quote, rate=rate, volatility=Decimal("0.001"))
    accounts = {code: Decimal("1000000000") for code in currencies | {"USD"}}
    for bic in sorted(bics):
        bank_ensure(
            bic=bic,
            name=f"Sample bank {bic}",
            country=bic[4:6],
            timezone="UTC",
            primary_currency="USD",
            secondary_currencies=sorted(currencies),
            daily_liquidity_limit_usd=Decimal("100000000000"),
            risk_rating=RiskRating.LOW,
            kyc_status=KycStatus.VERIFIED,
            active_weekdays=[1, 2, 3, 4, 5, 6, 7],
            accounts=accounts,
            clearing_window=(time(0, 0), time(23, 59)),
        )
    participant_directory_clear()
    fx_cache_clear()
