"""FX stage: a cross-currency payment carries its locked rate and its settlement amount in the target's units."""

import json
from decimal import Decimal

import pytest

from fxrates.models import FxBaseRate
from fxrates.selectors import fx_cache_clear
from payments.models import Payment
from settlement.models import Bank, SettlementAccount
from tests.conftest import payment_body

pytestmark = pytest.mark.django_db


def initiate(client, **overrides):
    return client.post(
        "/api/v1/payments/initiate", data=json.dumps(payment_body(**overrides)), content_type="application/json"
    )


@pytest.fixture(autouse=True)
def _fresh_rates():
    fx_cache_clear()
    yield
    fx_cache_clear()


def test_cross_currency_payment_locks_the_rate_and_converts(scenario, operator_client):
    # Dubai pays 1,000.00 USD; Mumbai is credited in INR at 83.25.
    response = initiate(operator_client, amount="1000.00", currency="USD", settlement_currency="INR")
    assert response.status_code == 201, response.content
    body = response.json()
    payment = Payment.objects.get(pk=body["id"])
    assert payment.fx_rate == Decimal("83.25")
    assert payment.settlement_amount == Decimal("83250.00")
    assert payment.receiver_account == SettlementAccount.objects.get(bank__bic="SBININBBXXX", currency="INR")
    assert payment.fx_rate_at is not None
    assert (body["settlement_currency"], body["settlement_amount"]) == ("INR", "83250.00")
    assert body["fx_rate"] == "83.25000000"
    assert "83.25" in payment.timeline.order_by("-id").first().reason


def test_cross_rate_through_usd_and_rounding_to_target_minor_units(scenario, operator_client):
    # AED -> INR goes through USD: 83.25 / 3.6725 = 22.66848196 (8 places); 100.01 AED -> 2267.07 INR.
    response = initiate(operator_client, sender_bic="ENBXAEADXXX", amount="100.01", currency="AED",
                        settlement_currency="INR")
    assert response.status_code == 201, response.content
    payment = Payment.objects.get(pk=response.json()["id"])
    assert payment.fx_rate == (Decimal("83.25") / Decimal("3.6725")).quantize(Decimal("0.00000001"))
    assert payment.settlement_amount == (Decimal("100.01") * payment.fx_rate).quantize(Decimal("0.01"))


def test_the_locked_rate_does_not_move_with_the_market(scenario, operator_client):
    first = initiate(operator_client, amount="1000.00", currency="USD", settlement_currency="INR").json()
    FxBaseRate.objects.filter(quote_currency="INR").update(current_rate=Decimal("90"))
    fx_cache_clear()
    second = initiate(operator_client, amount="1000.00", currency="USD", settlement_currency="INR").json()
    assert Payment.objects.get(pk=first["id"]).fx_rate == Decimal("83.25")
    assert Payment.objects.get(pk=second["id"]).fx_rate == Decimal("90")
    assert second["settlement_amount"] == "90000.00"


def test_receiver_without_an_account_in_the_settlement_currency_is_refused(scenario, operator_client):
    response = initiate(operator_client, settlement_currency="PKR")
    assert response.status_code == 400
    assert response.json()["fields"]["settlement_currency"][0]["code"] == "no_settlement_account"
    assert Payment.objects.count() == 0


def test_no_rate_for_the_pair_is_refused(scenario, operator_client):
    bank = Bank.objects.get(bic="SBININBBXXX")
    SettlementAccount.objects.create(bank=bank, currency_id="CHF", account_number="TSBININCHF")
    response = initiate(operator_client, settlement_currency="CHF")
    assert response.status_code == 400
    assert response.json()["fields"]["settlement_currency"][0]["code"] == "no_rate"
