"""MT103 intake (public samples, field-level errors), MT103 and pacs.008 output, and the two round trips."""

import re
from decimal import Decimal

import pytest
from lxml import etree

from deltran.roles import AUDITOR, VIEWER
from payments.choices import Channel
from payments.messages.mt103 import X_CHARACTERS, mt103_read
from payments.messages.pacs008 import pacs008_read
from payments.messages.xml import xsd_for
from payments.models import InboundMessage, Payment
from tests.conftest import payment_body
from tests.payments.iso_support import MT103_DIR, XSD_DIR, needs_shared_data, network_banks_ensure

pytestmark = [pytest.mark.django_db, needs_shared_data]

URL = "/api/v1/swift/mt103"
FIXTURES = MT103_DIR / "dedmoo_parser_fixtures"

# Deliberately invalid block-4 bodies and the field and code each must be refused for.
INVALID = {
    "duplicate-20.txt": ("20", "duplicate"),
    "invalid-20-charset.txt": ("20", "invalid"),
    "invalid-32a-currency.txt": ("32A", "unknown_currency"),
    "invalid-32a-date.txt": ("32A", "invalid_date"),
    "invalid-32a-format.txt": ("32A", "invalid"),
    "invalid-32a-jpy-scale.txt": ("32A", "amount_precision"),
    "invalid-52a-bic.txt": ("52A", "invalid_bic"),
    "missing-20.txt": ("20", "required"),
    "missing-59.txt": ("59a", "required"),
}


def post(client, text: str | bytes):
    return client.post(URL, data=text, content_type="text/plain")


def rje_messages(name: str) -> list[str]:
    """The MT103s of an RJE file ('$'-separated), without the F21 acknowledgements."""
    text = (MT103_DIR / "prowide_core" / name).read_text()
    found = []
    for part in text.split("$"):
        start = part.find("{1:F01")
        if start >= 0:
            found.append(part[start:].strip())
    return found


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_samples_are_refused_for_the_right_field(name, scenario, operator_client):
    tag, code = INVALID[name]
    response = post(operator_client, (FIXTURES / name).read_text())
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert code in [issue["code"] for issue in body["fields"].get(tag, [])], body["fields"]
    assert not Payment.objects.exists()


def test_body_only_samples_are_refused_for_their_missing_envelope(scenario, operator_client):
    for name in ("valid-plain.txt", "valid-59a.txt", "valid-optional-tags.txt"):
        body = post(operator_client, (FIXTURES / name).read_text()).json()
        assert body["fields"]["block1"][0]["code"] == "required", name
        assert body["fields"]["block2"][0]["code"] == "required", name
        # The text block itself was read: no error on 20 or 32A.
        assert "20" not in body["fields"] and "32A" not in body["fields"], name
    # SWIFT amounts always carry the decimal comma ("1000," in 32A); the sample's "JPY1000" lacks it.
    body = post(operator_client, (FIXTURES / "valid-jpy.txt").read_text()).json()
    assert body["fields"]["32A"][0]["code"] == "invalid"


def test_the_sample_with_envelope_becomes_a_payment(scenario, operator_client):
    network_banks_ensure({"BANKTRISXXX", "BANKDEFFXXX"}, {"EUR"})
    text = (FIXTURES / "valid-envelope.txt").read_text()
    response = post(operator_client, text)
    assert response.status_code == 201, response.json()
    payment = Payment.objects.get(pk=response.json()["id"])
    assert (payment.sender_bic, payment.receiver_bic) == ("BANKTRISXXX", "BANKDEFFXXX")
    assert (payment.amount, payment.currency_id) == (Decimal("12345.67"), "EUR")
    assert payment.debtor_name == "ACME EXPORT LTD" and payment.creditor_name == "MUELLER GMBH"
    assert payment.debtor_account == "TR000000000000000000000000"
    assert payment.payment_reference == "ENVELOPEREF01" and payment.channel == Channel.MT103
    assert payment.inbound_message.message.content == text
    again = post(operator_client, text)
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == str(payment.pk) and Payment.objects.count() == 1


def test_every_output_message_of_the_rje_samples_is_read(scenario, operator_client):
    messages = rje_messages("MT103-out-ack.rje") + rje_messages("MT103-bulk-with-ack.rje")
    assert len(messages) == 16
    parsed = [mt103_read(text) for text in messages]
    assert [m.errors for m, _ in parsed] == [{}] * 16
    first, instruction = parsed[0]
    # Output message: the sender is in block 2's input reference, the receiver is block 1's terminal.
    assert (instruction.sender_bic, instruction.receiver_bic) == ("BBBBUS3NXXX", "BICFOOYYXXX")
    assert (instruction.amount, instruction.currency) == (Decimal("1814.28"), "USD")
    assert instruction.debtor_name == "FOO CAPITAL MARKETS LP"
    assert instruction.creditor_account == "00123456789012345678"
    bics = {i.sender_bic for _, i in parsed} | {i.receiver_bic for _, i in parsed}
    network_banks_ensure(bics, {i.currency for _, i in parsed})
    statuses = [post(operator_client, text).status_code for text in messages]
    # Two messages of the file repeat a reference (field 20) with other content: refused as conflicts.
    assert statuses.count(201) + statuses.count(409) + statuses.count(200) == 16
    assert statuses.count(201) >= 12
    assert InboundMessage.objects.count() == statuses.count(201)


def test_unknown_banks_are_field_errors(scenario, operator_client):
    text = (FIXTURES / "valid-envelope.txt").read_text()
    body = post(operator_client, text).json()
    assert body["fields"]["sender_bic"][0]["code"] == "unknown_bank"
    assert not InboundMessage.objects.exists()


def test_non_ascii_and_wrong_type(scenario, operator_client):
    assert post(operator_client, "{1:F01ÄÖ}".encode()).json()["code"] == "charset"
    text = (FIXTURES / "valid-envelope.txt").read_text().replace("I103", "I202")
    assert "not_mt103" in [i["code"] for i in post(operator_client, text).json()["fields"]["block2"]]


def initiate(client, **overrides):
    response = client.post("/api/v1/payments/initiate", payment_body(**overrides), format="json")
    assert response.status_code == 201, response.json()
    return Payment.objects.get(pk=response.json()["id"])


ROUND_TRIP_FIELDS = (
    "sender_bic",
    "receiver_bic",
    "amount",
    "currency_id",
    "settlement_currency_id",
    "debtor_name",
    "creditor_name",
    "debtor_iban",
    "creditor_account",
    "remittance_info",
)


def fields(payment):
    return {name: getattr(payment, name) for name in ROUND_TRIP_FIELDS}


@pytest.mark.parametrize("cross", [False, True])
def test_round_trip_payment_mt103_payment(cross, scenario, operator_client):
    long_name = "Société Générale Trading & Export Company of the Emirates LLC"  # 61 characters, accented
    original = initiate(
        operator_client,
        debtor_name=long_name,
        debtor_iban="AE070331234567890123456",
        creditor_account="00123456789",
        settlement_currency="INR" if cross else None,
        payment_reference="INV-2026-114",
    )
    response = operator_client.get(f"/api/v1/payments/{original.pk}/mt103")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    text = response.content.decode("ascii")
    body = text[text.index("{4:") + 3 : text.index("\n-}")]
    assert X_CHARACTERS.match(body)
    tags = re.findall(r"^:(\w+):", body, re.M)
    expected = ["20", "23B", "32A", "50K", "52A", "57A", "59", "70", "71A"]
    if cross:
        expected[3:3] = ["33B", "36"]
    assert tags == expected
    assert all(len(line) <= 35 for line in body.splitlines() if not line.startswith(":"))
    again = post(operator_client, text)
    assert again.status_code == 201, again.json()
    copy = Payment.objects.get(pk=again.json()["id"])
    # Accents dropped, '&' outside the SWIFT X set replaced: the name as a correspondent sees it.
    transliterated = "Societe Generale Trading . Export Company of the Emirates LLC"
    assert fields(copy) == fields(original) | {"debtor_name": transliterated}
    assert copy.payment_reference == original.payment_reference


@pytest.mark.parametrize("cross", [False, True])
def test_round_trip_payment_pacs008_payment(cross, settings, scenario, operator_client):
    settings.ISO20022_XSD_DIR = str(XSD_DIR)
    original = initiate(
        operator_client,
        end_to_end_id="E2E-RT-1",
        debtor_iban="AE070331234567890123456",
        creditor_account="00123456789",
        settlement_currency="INR" if cross else None,
    )
    response = operator_client.get(f"/api/v1/payments/{original.pk}/pacs008")
    assert response.status_code == 200
    document = etree.fromstring(response.content)
    schema = xsd_for("pacs.008.001.08")
    assert schema.validate(document), schema.error_log
    message = pacs008_read(response.content)
    assert message.issues == [] and [t.issues for t in message.transactions] == [[]]
    answer = operator_client.post("/api/v1/iso20022/pacs008", data=response.content, content_type="application/xml")
    assert answer.status_code == 200
    copy = Payment.objects.get(inbound_message__message_id=answer["X-Inbound-Message-Id"])
    assert fields(copy) == fields(original)
    assert copy.end_to_end_id == "E2E-RT-1"


def test_outputs_need_view_role_and_an_existing_payment(scenario, operator_client, client_for):
    payment = initiate(operator_client)
    for role in (VIEWER, AUDITOR):
        assert client_for(role).get(f"/api/v1/payments/{payment.pk}/mt103").status_code == 200
    assert client_for(VIEWER).post(URL, data="x", content_type="text/plain").status_code == 403
    missing = operator_client.get("/api/v1/payments/00000000-0000-7000-8000-000000000000/pacs008")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
