"""The 4-bank scenario loads the seed's figures, and loading it twice changes nothing."""

from datetime import time
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command

from fxrates.models import Currency, FxBaseRate
from liquidity.models import LiquidityPool, PoolBalance
from settlement.models import Bank, ClearingWindow, SettlementAccount

pytestmark = pytest.mark.django_db


def snapshot():
    return {
        "banks": list(Bank.objects.values_list("bic", "timezone", "active_weekdays", "daily_liquidity_limit_usd")),
        "accounts": list(SettlementAccount.objects.values_list("account_number", "balance")),
        "windows": list(ClearingWindow.objects.values_list("bank__bic", "opens_at", "closes_at")),
        "pool": list(PoolBalance.objects.values_list("currency", "available", "minimum", "target", "maximum")),
        "rates": list(FxBaseRate.objects.values_list("quote_currency", "rate", "volatility")),
        "users": list(get_user_model().objects.values_list("username", "password")),
        "currencies": Currency.objects.count(),
    }


def test_load_scenario_twice_changes_nothing(capsys):
    call_command("load_scenario")
    first = snapshot()
    call_command("load_scenario")
    assert "nothing changed" in capsys.readouterr().out
    assert snapshot() == first


def test_scenario_has_the_seed_figures():
    call_command("load_scenario")
    banks = {bank.bic: bank for bank in Bank.objects.all()}
    assert set(banks) == {"ENBXAEADXXX", "LUMIILITXXX", "HABBPKKKXXX", "SBININBBXXX"}
    enbx = banks["ENBXAEADXXX"]
    assert (enbx.timezone, enbx.primary_currency_id, enbx.daily_liquidity_limit_usd) == (
        "Asia/Dubai", "AED", Decimal("500000000"))
    assert sorted(enbx.active_weekdays) == [1, 2, 3, 4, 7]
    assert sorted(banks["SBININBBXXX"].active_weekdays) == [1, 2, 3, 4, 5, 6]
    assert banks["HABBPKKKXXX"].risk_rating == "medium"
    assert sorted(c.code for c in banks["LUMIILITXXX"].secondary_currencies.all()) == ["EUR", "GBP", "USD"]
    assert SettlementAccount.objects.get(bank__bic="HABBPKKKXXX", currency="PKR").balance == Decimal("30000000000")
    assert SettlementAccount.objects.filter(bank__bic="SBININBBXXX").count() == 2
    window = ClearingWindow.objects.get(bank__bic="SBININBBXXX")
    assert (window.opens_at, window.closes_at) == (time(10), time(18))
    pool = LiquidityPool.objects.get()
    assert pool.rebalance_threshold == Decimal("0.20")
    inr = PoolBalance.objects.get(currency="INR")
    assert (inr.available, inr.minimum, inr.target, inr.maximum) == (
        Decimal("60000000000"), Decimal("15000000000"), Decimal("30000000000"), Decimal("90000000000"))
    pkr = FxBaseRate.objects.get(base_currency="USD", quote_currency="PKR")
    assert (pkr.rate, pkr.volatility) == (Decimal("278.5"), Decimal("0.025"))
    assert Currency.objects.get(code="JPY").minor_units == 0
    assert Currency.objects.get(code="KWD").minor_units == 3
    assert Currency.objects.get(code="XAU").is_active is False
    roles = {u.username: [g.name for g in u.groups.all()] for u in get_user_model().objects.all()}
    assert roles == {"admin": ["Admin"], "operator": ["Operator"], "compliance": ["Compliance Officer"],
                     "auditor": ["Auditor"], "viewer": ["Viewer"]}


@pytest.mark.parametrize(
    ("field", "value"),
    [("bic", "ENBXAEAD-XX"), ("timezone", "Mars/Olympus"), ("active_weekdays", [0, 8]), ("active_weekdays", []),
     ("country", "IL")],
)
def test_bank_validation_refuses_bad_reference_data(field, value):
    call_command("load_scenario", "--no-users")
    bank = Bank.objects.get(bic="ENBXAEADXXX")
    setattr(bank, field, value)
    with pytest.raises(ValidationError) as info:
        bank.full_clean()
    assert field in info.value.message_dict


def test_admin_pages_for_reference_data_render(admin_client):
    call_command("load_scenario", "--no-users")
    bank = Bank.objects.get(bic="LUMIILITXXX")
    for url in ["/admin/settlement/bank/", f"/admin/settlement/bank/{bank.pk}/change/", "/admin/fxrates/currency/",
                "/admin/fxrates/fxbaserate/", "/admin/liquidity/liquiditypool/", "/admin/auth/user/",
                "/admin/deltran/auditentry/"]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
    page = admin_client.get(f"/admin/settlement/bank/{bank.pk}/change/").content.decode()
    assert "DLTLUMIILITILS" in page  # settlement accounts inline
    assert 'name="active_weekdays"' in page
