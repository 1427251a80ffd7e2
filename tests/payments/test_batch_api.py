"""POST /api/v1/payments/batch: a JSON array of payments, each answered on its own."""

import json
from decimal import Decimal

import pytest

from deltran.roles import AUDITOR, VIEWER
from payments.choices import Channel, PaymentStatus
from payments.models import InboundMessage, Payment
from tests.conftest import payment_body

pytestmark = pytest.mark.django_db

URL = "/api/v1/payments/batch"


def post(client, data):
    return client.post(URL, data=json.dumps(data), content_type="application/json")


def test_each_item_is_answered_and_bad_ones_reject_only_themselves(scenario, operator_client):
    items = [
        payment_body(amount="100.00"),
        payment_body(amount="1.001"),
        {**payment_body(), "colour": "blue"},
        payment_body(sender_bic="NOPEXXXXXXX"),
        payment_body(debtor_name="Vostok Shadow Shipping LLC", amount="900.00"),
        "not an object",
        {"sender_bic": "ENBXAEADXXX"},
    ]
    response = post(operator_client, items)
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["accepted"], body["rejected"]) == (7, 2, 5)
    answers = body["items"]
    assert [a["index"] for a in answers] == list(range(7))
    assert answers[0]["status"] == PaymentStatus.QUEUED and answers[4]["status"] == PaymentStatus.COMPLIANCE_REVIEW
    for answer in answers[1:4] + answers[5:]:
        assert answer["status"] == "rejected"
        assert set(answer["error"]) == {"code", "message", "fields"}
    assert answers[1]["error"]["fields"]["amount"][0]["code"] == "amount_precision"
    assert answers[2]["error"]["fields"]["colour"][0]["code"] == "unknown_field"
    assert answers[3]["error"]["fields"]["sender_bic"][0]["code"] == "unknown_bank"
    assert answers[6]["error"]["fields"]["amount"][0]["code"] == "required"
    payments = Payment.objects.filter(channel=Channel.BATCH)
    assert {str(p.pk) for p in payments} == {answers[0]["id"], answers[4]["id"]}
    assert Payment.objects.get(pk=answers[0]["id"]).amount == Decimal("100.00")
    message = InboundMessage.objects.get()
    assert (message.transactions, message.accepted, message.rejected) == (7, 2, 5)
    assert json.loads(message.content)[0]["amount"] == "100.00"
    assert sorted(link.position for link in message.payments.all()) == [0, 4]


def test_item_idempotency_keys(scenario, operator_client):
    first = post(operator_client, [{**payment_body(), "idempotency_key": "inv-1"}]).json()["items"][0]
    again = post(
        operator_client,
        [{**payment_body(), "idempotency_key": "inv-1"}, {**payment_body(amount="5.00"), "idempotency_key": "inv-1"}],
    ).json()["items"]
    assert again[0]["replayed"] and again[0]["id"] == first["id"]
    assert again[1]["error"]["code"] == "idempotency_conflict"
    assert Payment.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "code"),
    [([], "batch_size"), ({"a": 1}, "validation_error"), ("text", "validation_error")],
)
def test_body_must_be_a_non_empty_array(data, code, scenario, operator_client):
    response = post(operator_client, data)
    assert response.status_code == 400 and response.json()["code"] == code
    assert not InboundMessage.objects.exists()


def test_at_most_the_configured_number_of_items(settings, scenario, operator_client):
    settings.BATCH_MAX_ITEMS = 3
    response = post(operator_client, [payment_body()] * 4)
    assert response.status_code == 400 and response.json()["code"] == "batch_size"
    assert not Payment.objects.exists()


def test_body_limit(settings, scenario, operator_client):
    settings.BATCH_MAX_BODY_BYTES = 1000
    response = post(operator_client, [payment_body()] * 10)
    assert response.status_code == 400 and response.json()["code"] == "payload_too_large"


def test_roles(scenario, client_for):
    for role in (VIEWER, AUDITOR):
        assert post(client_for(role), [payment_body()]).status_code == 403
    assert not Payment.objects.exists()
