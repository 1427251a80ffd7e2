"""POST /api/v1/payments/initiate: a valid payment is recorded whole; bad input is a 400 with nothing written."""

import json
from decimal import Decimal

import pytest

from deltran.models import AuditEntry, OutboxEvent
from fxrates.services import fx_base_rate_ensure
from payments.choices import PaymentStatus
from payments.models import Payment, PaymentTransition
from settlement.models import Bank, SettlementAccount
from tests.conftest import payment_body

URL = "/api/v1/payments/initiate"

pytestmark = pytest.mark.django_db


def post(client, body, **headers):
    return client.post(URL, data=json.dumps(body), content_type="application/json", **headers)


def assert_nothing_written():
    assert Payment.objects.count() == 0
    assert PaymentTransition.objects.count() == 0
    assert AuditEntry.objects.filter(object_type="payment").count() == 0
    assert OutboxEvent.objects.count() == 0


def test_valid_payment_is_queued_with_timeline_audit_and_event(scenario, operator_client, users):
    response = post(operator_client, payment_body(debtor_iban="AE07 0331 2345 6789 0123 456"))
    assert response.status_code == 201, response.content
    body = response.json()
    payment = Payment.objects.get()
    assert body["id"] == str(payment.id)
    assert body["status"] == "queued"
    assert body["amount"] == "125000.50"
    assert body["sender_name"] == "Emirates National Bank"
    assert body["receiver_name"] == "State Bank of India"
    assert body["debtor_iban"] == "AE070331234567890123456"
    assert payment.amount == Decimal("125000.50")
    assert payment.sender_account == SettlementAccount.objects.get(bank__bic="ENBXAEADXXX", currency="USD")
    steps = [(t.from_status, t.to_status) for t in payment.timeline.all()]
    assert steps == [
        ("", PaymentStatus.INITIATED),
        (PaymentStatus.INITIATED, PaymentStatus.VALIDATED),
        (PaymentStatus.VALIDATED, PaymentStatus.SCREENED),
        (PaymentStatus.SCREENED, PaymentStatus.APPROVED),
        (PaymentStatus.APPROVED, PaymentStatus.QUEUED),
    ]
    assert [t["to_status"] for t in body["timeline"]] == ["initiated", "validated", "screened", "approved", "queued"]
    assert body["compliance_check"]["status"] == "passed"
    assert body["risk_score"] == payment.risk_score < 50
    assert all(t.actor_label == "t_operator" for t in payment.timeline.all())
    audit = AuditEntry.objects.get(object_type="payment")
    assert (audit.action, audit.object_id, audit.actor_label) == ("payment.initiate", str(payment.id), "t_operator")
    assert audit.payload["amount"] == "125000.50"
    event = OutboxEvent.objects.get()
    assert event.event_type == "payments.payment_update"
    assert event.payload["status"] == "queued"


def test_eight_character_bics_are_extended_and_numbers_are_exact(scenario, operator_client):
    response = post(operator_client, payment_body(sender_bic="enbxaead", receiver_bic="LUMIILIT", amount="0.1"))
    assert response.status_code == 201, response.content
    payment = Payment.objects.get()
    assert (payment.sender_bic, payment.receiver_bic) == ("ENBXAEADXXX", "LUMIILITXXX")
    assert payment.amount == Decimal("0.10")


def test_json_number_amount_is_parsed_exactly(scenario, operator_client):
    raw = '{"sender_bic":"ENBXAEADXXX","receiver_bic":"SBININBBXXX","amount":1234567.89,"currency":"USD",' \
          '"debtor_name":"A","creditor_name":"B"}'
    response = operator_client.post(URL, data=raw, content_type="application/json")
    assert response.status_code == 201, response.content
    assert Payment.objects.get().amount == Decimal("1234567.89")


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"sender_bic": "ENBX"}, "sender_bic", "invalid_bic"),
        ({"sender_bic": 12345678}, "sender_bic", "invalid"),
        ({"currency": ["USD"]}, "currency", "invalid"),
        ({"sender_bic": "ENB1AEADXXX"}, "sender_bic", "invalid_bic"),
        ({"receiver_bic": "ZZZZAEADXXX"}, "receiver_bic", "unknown_bank"),
        ({"currency": "usd"}, "currency", "invalid"),
        ({"currency": "QQQ"}, "currency", "unknown_currency"),
        ({"currency": "XAU"}, "currency", "unknown_currency"),
        ({"currency": "PKR"}, "currency", "no_settlement_account"),
        ({"amount": "-5.00"}, "amount", "amount_not_positive"),
        ({"amount": "0"}, "amount", "amount_not_positive"),
        ({"amount": "10.005"}, "amount", "amount_precision"),
        ({"amount": "ten"}, "amount", "invalid"),
        ({"amount": True}, "amount", "invalid"),
        ({"amount": "1e30"}, "amount", "invalid"),
        ({"amount": "1_000.00"}, "amount", "invalid"),
        ({"amount": "١٢٣"}, "amount", "invalid"),
        ({"amount": "1000000000000000000.00"}, "amount", "max_digits"),
        ({"amount": None}, "amount", "required"),
        ({"debtor_name": ""}, "debtor_name", "blank"),
        ({"debtor_name": "x" * 141}, "debtor_name", "max_length"),
        ({"creditor_name": "Bad\x00Name"}, "creditor_name", "control_characters"),
        ({"creditor_name": 42}, "creditor_name", "invalid"),
        ({"debtor_iban": "AE070331234567890123457"}, "debtor_iban", "invalid_iban"),
        ({"payment_reference": "ref with {braces}"}, "payment_reference", "invalid"),
        ({"ammount": "1.00"}, "ammount", "unknown_field"),
    ],
)
def test_each_validation_error_is_a_400_with_field_code_and_nothing_written(
    scenario, operator_client, overrides, field, code
):
    response = post(operator_client, payment_body(**overrides))
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == "validation_error"
    assert field in body["fields"], body
    assert code in [issue["code"] for issue in body["fields"][field]], body
    assert body["message"]
    assert_nothing_written()


def test_zero_decimal_currency_refuses_cents(scenario, operator_client):
    fx_base_rate_ensure(base="USD", quote="JPY", rate=Decimal("155.20"), volatility=Decimal("0.01"))
    for bic in ("ENBXAEADXXX", "SBININBBXXX"):
        SettlementAccount.objects.create(bank=Bank.objects.get(bic=bic), currency_id="JPY", account_number=f"T{bic}JPY")
    unpriced = post(operator_client, payment_body(currency="CHF", amount="10"))
    assert unpriced.status_code == 400  # no account, no rate: refused before anything is written
    refused = post(operator_client, payment_body(currency="JPY", amount="1500.5"))
    assert refused.status_code == 400
    assert refused.json()["fields"]["amount"][0]["code"] == "amount_precision"
    accepted = post(operator_client, payment_body(currency="JPY", amount="1500"))
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["amount"] == "1500"


def test_inactive_bank_is_refused(scenario, operator_client):
    Bank.objects.filter(bic="SBININBBXXX").update(is_active=False)
    response = post(operator_client, payment_body())
    assert response.status_code == 400
    assert response.json()["fields"]["receiver_bic"][0]["code"] == "inactive_bank"
    assert_nothing_written()


def test_inactive_account_is_refused(scenario, operator_client):
    SettlementAccount.objects.filter(bank__bic="ENBXAEADXXX", currency="USD").update(is_active=False)
    response = post(operator_client, payment_body())
    assert response.status_code == 400
    assert response.json()["fields"]["currency"][0]["code"] == "no_settlement_account"


@pytest.mark.parametrize("raw", ['{"sender_bic": ', "[1, 2]", '"just a string"', "null", '{"amount": NaN}'])
def test_malformed_or_wrongly_shaped_json_is_a_400(scenario, operator_client, raw):
    response = operator_client.post(URL, data=raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"malformed_request", "validation_error"}
    assert_nothing_written()


def test_oversized_body_is_refused(scenario, operator_client, settings):
    response = post(operator_client, payment_body(remittance_info="x" * (settings.API_MAX_BODY_BYTES + 10)))
    assert response.status_code == 400
    assert response.json()["code"] == "payload_too_large"
    assert_nothing_written()
