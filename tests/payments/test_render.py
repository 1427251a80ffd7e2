"""The plain renderers and parser on the hot path say what the documented serializers say."""

import json

import pytest

from payments.api.intake import FIELDS, parse_instruction
from payments.api.render import payment_detail_body, payment_list_item
from payments.api.serializers import PaymentDetailSerializer, PaymentInitiateSerializer, PaymentListItemSerializer
from payments.selectors import payment_detail, payment_screening, payment_timeline
from tests.conftest import payment_body
from tests.payments.factories import make_payment

pytestmark = pytest.mark.django_db


def test_list_item_and_detail_match_their_serializers(scenario):
    payment = payment_detail(make_payment(settlement_currency="INR", amount="1000.00").pk)
    payment.screening = payment_screening(payment)
    assert payment_list_item(payment) == PaymentListItemSerializer(payment).data
    detail = payment_detail_body(payment, timeline=payment_timeline(payment), screening=payment.screening)
    documented = json.loads(json.dumps(PaymentDetailSerializer(payment).data, default=str))
    assert set(detail) == set(documented)
    for key in (
        "id",
        "amount",
        "settlement_amount",
        "settlement_currency",
        "status",
        "sender_account_id",
        "receiver_account_id",
        "compliance_check",
        "created_at",
        "scheduled_for",
    ):
        assert detail[key] == documented[key], key
    assert [step["to_status"] for step in detail["timeline"]] == [step["to_status"] for step in documented["timeline"]]


def test_the_parser_accepts_exactly_the_documented_fields():
    assert FIELDS == set(PaymentInitiateSerializer().fields)
    instruction = parse_instruction(payment_body(debtor_iban="ae07 0331 2345 6789 0123 456"))
    serializer = PaymentInitiateSerializer(data=payment_body(debtor_iban="ae07 0331 2345 6789 0123 456"))
    assert serializer.is_valid(), serializer.errors
    assert instruction == serializer.to_instruction()
