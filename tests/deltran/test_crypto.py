"""Parties' accounts encrypted at rest: every ORM write path, reads, refused lookups, key rotation, the migration."""

import importlib
import io
import json
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from deltran.crypto import check_field_key, decrypt_text, encrypt_if_plain, mask_account, mask_iban
from deltran.models import IdempotencyRecord
from payments.models import InboundMessage, Payment
from tests.conftest import payment_body

pytestmark = pytest.mark.django_db

IBAN = "AE070331234567890123456"
CREDITOR_IBAN = "DE89370400440532013000"
COLUMNS = ("debtor_iban", "debtor_account", "creditor_iban", "creditor_account")
migration = importlib.import_module("payments.migrations.0007_parties_accounts_encrypted")
idempotency_migration = importlib.import_module("deltran.migrations.0008_idempotency_response_encrypted")


def stored(payment_id) -> dict:
    """The columns as the database holds them, read past the ORM."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(COLUMNS)} FROM payments_payment WHERE id = %s",
            [Payment._meta.pk.get_db_prep_value(payment_id, connection)],
        )
        return dict(zip(COLUMNS, cursor.fetchone(), strict=True))


def initiate(client, **fields) -> Payment:
    response = client.post(
        "/api/v1/payments/initiate", data=json.dumps(payment_body(**fields)), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return Payment.objects.get(pk=response.json()["id"])


def test_initiation_stores_cipher_text_and_reads_plain_text(scenario, operator_client):
    payment = initiate(operator_client, debtor_iban=IBAN, creditor_account="0099-1234567")
    raw = stored(payment.pk)
    assert raw["debtor_iban"].startswith("gAAAAA") and IBAN not in raw["debtor_iban"]
    assert raw["creditor_account"].startswith("gAAAAA") and "1234567" not in raw["creditor_account"]
    # No account given: stored empty, not as cipher text.
    assert raw["creditor_iban"] == "" and raw["debtor_account"] == ""
    assert (payment.debtor_iban, payment.creditor_account) == (IBAN, "0099-1234567")
    assert Payment.objects.values_list("debtor_iban", flat=True).get() == IBAN


def test_update_and_bulk_update_encrypt(scenario, operator_client):
    payment = initiate(operator_client)
    Payment.objects.filter(pk=payment.pk).update(creditor_iban=CREDITOR_IBAN)
    assert decrypt_text(stored(payment.pk)["creditor_iban"]) == CREDITOR_IBAN
    payment.refresh_from_db()
    payment.debtor_account = "12345678"
    Payment.objects.bulk_update([payment], ["debtor_account"])
    raw = stored(payment.pk)
    assert raw["debtor_account"].startswith("gAAAAA") and decrypt_text(raw["debtor_account"]) == "12345678"
    payment.debtor_iban = IBAN
    payment.save(update_fields=["debtor_iban"])
    assert stored(payment.pk)["debtor_iban"].startswith("gAAAAA")
    assert Payment.objects.get(pk=payment.pk).debtor_iban == IBAN


def test_equal_values_have_different_cipher_texts_and_cannot_be_filtered(scenario, operator_client):
    first, second = initiate(operator_client, debtor_iban=IBAN), initiate(operator_client, debtor_iban=IBAN)
    assert stored(first.pk)["debtor_iban"] != stored(second.pk)["debtor_iban"]
    with pytest.raises(FieldError):
        Payment.objects.filter(debtor_iban=IBAN).count()
    with pytest.raises(FieldError):
        Payment.objects.filter(debtor_iban__startswith="AE").count()
    assert Payment.objects.filter(debtor_iban__isnull=False).count() == 2


def test_keys_rotate_without_losing_a_value(scenario, operator_client, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.DELTRAN_FIELD_KEYS = [old]
    payment = initiate(operator_client, debtor_iban=IBAN)
    before = stored(payment.pk)["debtor_iban"]
    # The new key first, the old one still there: old rows read, new writes use the new key.
    settings.DELTRAN_FIELD_KEYS = [new, old]
    assert Payment.objects.get(pk=payment.pk).debtor_iban == IBAN
    call_command("field_keys_rotate", stdout=io.StringIO())
    after = stored(payment.pk)["debtor_iban"]
    assert after != before and Fernet(new.encode()).decrypt(after.encode()).decode() == IBAN
    # Only the new key left: everything still reads.
    settings.DELTRAN_FIELD_KEYS = [new]
    assert Payment.objects.get(pk=payment.pk).debtor_iban == IBAN
    # Another installation's key reads nothing, and says why, instead of returning cipher text.
    settings.DELTRAN_FIELD_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ImproperlyConfigured, match="could not be decrypted"):
        Payment.objects.get(pk=payment.pk)


def test_the_development_key_is_derived_from_secret_key_with_a_warning(settings):
    settings.DELTRAN_FIELD_KEYS = []
    assert [message.id for message in check_field_key()] == ["deltran.W001"]
    token = encrypt_if_plain("DE89370400440532013000")
    settings.SECRET_KEY = "another-" + settings.SECRET_KEY
    with pytest.raises(ImproperlyConfigured):
        decrypt_text(token)
    settings.DELTRAN_FIELD_KEYS = [Fernet.generate_key().decode()]
    assert check_field_key() == []
    settings.DELTRAN_FIELD_KEYS = ["not-a-key"]
    assert [message.id for message in check_field_key()] == ["deltran.E001"]


def test_the_migration_encrypts_rows_written_before_it_and_backwards_decrypts(scenario, operator_client):
    legacy, current = initiate(operator_client), initiate(operator_client, creditor_iban=CREDITOR_IBAN)
    current_token = stored(current.pk)["creditor_iban"]
    with connection.cursor() as cursor:  # a row as the old, plain-text columns held it
        cursor.execute(
            "UPDATE payments_payment SET debtor_iban = %s, creditor_account = %s WHERE id = %s",
            [IBAN, "0099-1234567", Payment._meta.pk.get_db_prep_value(legacy.pk, connection)],
        )
    editor = SimpleNamespace(connection=connection)
    migration.rewrite(encrypt_if_plain)(apps, editor)
    raw = stored(legacy.pk)
    assert raw["debtor_iban"].startswith("gAAAAA") and raw["creditor_account"].startswith("gAAAAA")
    assert stored(current.pk)["creditor_iban"] == current_token, "an encrypted value is left as it is"
    legacy.refresh_from_db()
    assert (legacy.debtor_iban, legacy.creditor_account) == (IBAN, "0099-1234567")
    migration.rewrite(decrypt_text)(apps, editor)
    assert stored(legacy.pk)["debtor_iban"] == IBAN and stored(current.pk)["creditor_iban"] == CREDITOR_IBAN


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("DE89370400440532013000", "DE89 **** **** 3000"),
        ("AE07 0331 2345 6789 0123 456", "AE07 **** **** 3456"),
        ("GB82WEST", "****"),
        ("", ""),
    ],
)
def test_iban_mask(value, masked):
    assert mask_iban(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"), [("0099-1234567", "**** 4567"), ("123456", "**** 56"), ("1234", "****"), ("", "")]
)
def test_account_mask(value, masked):
    assert mask_account(value) == masked


def test_the_stored_first_response_of_an_idempotent_request_is_encrypted(scenario, operator_client):
    body = json.dumps(payment_body(debtor_iban=IBAN))
    headers = {"content_type": "application/json", "HTTP_IDEMPOTENCY_KEY": "inv-2026-114"}
    first = operator_client.post("/api/v1/payments/initiate", data=body, **headers)
    assert first.status_code == 201
    with connection.cursor() as cursor:
        cursor.execute("SELECT response_body FROM deltran_idempotencyrecord")
        (raw,) = cursor.fetchone()
    assert raw.startswith("gAAAAA") and IBAN not in raw
    replay = operator_client.post("/api/v1/payments/initiate", data=body, **headers)
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json() and replay.json()["debtor_iban"] == IBAN
    assert IdempotencyRecord.objects.get().response_body["debtor_iban"] == IBAN


def test_the_idempotency_migration_encrypts_plain_json_rows(db):
    record = IdempotencyRecord.objects.create(
        scope="ENBXAEADXXX",
        key="k1",
        request_hash="h",
        response_status=201,
        response_body={"debtor_iban": IBAN},
        created_at=timezone.now(),
    )
    with connection.cursor() as cursor:  # as the JSON column held it before
        cursor.execute(
            "UPDATE deltran_idempotencyrecord SET response_body = %s WHERE id = %s",
            [json.dumps({"debtor_iban": IBAN, "amount": "1.00"}), record.pk],
        )
    assert IdempotencyRecord.objects.get().response_body == {"debtor_iban": IBAN, "amount": "1.00"}
    idempotency_migration.rewrite(encrypt_if_plain)(apps, SimpleNamespace(connection=connection))
    with connection.cursor() as cursor:
        cursor.execute("SELECT response_body FROM deltran_idempotencyrecord")
        assert cursor.fetchone()[0].startswith("gAAAAA")
    assert IdempotencyRecord.objects.get().response_body == {"debtor_iban": IBAN, "amount": "1.00"}


def test_inbound_messages_are_encrypted_at_rest(scenario, operator_client):
    batch = {"payments": [payment_body(debtor_iban=IBAN)]}
    response = operator_client.post("/api/v1/payments/batch", data=json.dumps(batch), content_type="application/json")
    assert response.status_code in (200, 201, 207), response.content
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM payments_inboundmessage")
        (raw,) = cursor.fetchone()
    assert raw.startswith("gAAAAA") and IBAN not in raw
    assert IBAN in InboundMessage.objects.values_list("content", flat=True).get()
