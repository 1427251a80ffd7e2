"""deltran.bulk: many rows by COPY, a few by one INSERT; either way the values come back as written."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from deltran import bulk
from deltran.crypto import is_encrypted
from deltran.models import IdempotencyRecord, OutboxEvent
from payments.models import Payment
from tests.payments.factories import make_payment

AWKWARD = [
    "tab\there",
    "new\nline and carriage\rreturn",
    "back\\slash and \\N and \\t literally",
    "quotes ' \" and {braces}",
    "unicode: Zürich, Δέλτα, 北京, emoji \U0001f4b8",
    "",
]
# Below COPY_FROM_ROWS the rows go as one INSERT; from it on, by COPY.
SIZES = [3, bulk.COPY_FROM_ROWS + 7]


def _events(count: int, at: datetime) -> list[tuple]:
    return [
        (
            f"topic\t{i}",
            AWKWARD[i % len(AWKWARD)],
            {"i": i, "text": AWKWARD[i % len(AWKWARD)], "nested": [None, True, 1.5, {"amount": "10.01"}]},
            at + timedelta(microseconds=i),
        )
        for i in range(count)
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("count", SIZES)
def test_rows_come_back_as_written(count):
    at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    rows = _events(count, at)
    with transaction.atomic():
        bulk.rows_insert(OutboxEvent, ("topic", "event_type", "payload", "created_at"), rows)
    stored = OutboxEvent.objects.order_by("created_at").values_list("topic", "event_type", "payload", "created_at")
    stored = list(stored)
    assert stored == rows


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("count", SIZES)
def test_encrypted_and_typed_columns_are_prepared_by_their_fields(count):
    at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    rows = [
        ("ENBXAEADXXX", f"key-{i}", "f" * 64, 201, {"id": i, "debtor_iban": "AE070331234567890123456"}, at)
        for i in range(count)
    ]
    with transaction.atomic():
        bulk.rows_insert(
            IdempotencyRecord, ("scope", "key", "request_hash", "response_status", "response_body", "created_at"), rows
        )
    stored = [
        (r.scope, r.key, r.request_hash, r.response_status, r.response_body, r.created_at)
        for r in IdempotencyRecord.objects.all()
    ]
    assert sorted(stored, key=lambda row: row[1]) == sorted(rows, key=lambda row: row[1])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT response_body FROM {IdempotencyRecord._meta.db_table}")
        raw = [row[0] for row in cursor.fetchall()]
    assert len(raw) == count and all(is_encrypted(value) for value in raw)
    assert not any("AE0703" in value for value in raw)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_payments_copied_with_decimals_uuids_choices_and_flags(scenario):
    template = make_payment(amount=Decimal("1234.56"), debtor_account="ACC-\t-001")
    fields = [f.attname for f in Payment._meta.concrete_fields]
    copies = []
    for i in range(bulk.COPY_FROM_ROWS):
        payment = Payment(**{name: getattr(template, name) for name in fields if name != "id"})
        payment.payment_reference = f"{template.payment_reference[:20]}-{i}"
        payment.end_to_end_id = f"E2E-{i}"
        payment.amount = Decimal("0.01") * (i + 1)
        payment.awaiting_liquidity = bool(i % 2)
        copies.append(payment)
    with transaction.atomic():
        bulk.objects_insert(copies)
    assert all(not p._state.adding and p._state.db == connection.alias for p in copies)
    stored = Payment.objects.in_bulk([p.pk for p in copies])
    assert len(stored) == len(copies)
    for payment in copies:
        found = stored[payment.pk]
        assert found.amount == payment.amount and found.awaiting_liquidity == payment.awaiting_liquidity
        assert found.status == template.status and found.debtor_account == "ACC-\t-001"
        assert found.created_at == template.created_at
    with connection.cursor() as cursor:
        cursor.execute("SELECT debtor_account FROM payments_payment WHERE id = ANY(%s)", [[p.pk for p in copies]])
        stored_accounts = [row[0] for row in cursor.fetchall()]
    assert len(stored_accounts) == len(copies) and all(is_encrypted(value) for value in stored_accounts)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_objects_get_ascending_keys_from_the_sequence():
    at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    events = [
        OutboxEvent(topic="t", event_type=f"e{i}", payload={"i": i}, created_at=at)
        for i in range(bulk.COPY_FROM_ROWS + 1)
    ]
    with transaction.atomic():
        bulk.objects_insert(events)
    keys = [event.pk for event in events]
    assert None not in keys and keys == sorted(keys) and len(set(keys)) == len(keys)
    by_key = dict(OutboxEvent.objects.values_list("pk", "event_type"))
    assert [by_key[key] for key in keys] == [f"e{i}" for i in range(len(events))]
    # The sequence moved past them: the next ordinary insert does not collide.
    with transaction.atomic():
        later = OutboxEvent.objects.create(topic="t", event_type="later", payload={}, created_at=at)
    assert later.pk > keys[-1]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("count", SIZES)
def test_a_duplicate_fails_the_whole_statement_with_integrity_error(count):
    at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    rows = [("ENBXAEADXXX", f"key-{i}", "f" * 64, 201, {}, at) for i in range(count)]
    rows.append(rows[0])
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.rows_insert(
            IdempotencyRecord, ("scope", "key", "request_hash", "response_status", "response_body", "created_at"), rows
        )
    assert IdempotencyRecord.objects.count() == 0


def test_copy_text_refuses_what_it_cannot_write():
    assert bulk._copy_text(None) == "\\N"
    assert bulk._copy_text("a\tb\\c\nd") == "a\\tb\\\\c\\nd"
    assert bulk._copy_text(True) == "t" and bulk._copy_text(Decimal("1.10")) == "1.10"
    with pytest.raises(TypeError, match="cannot write a bytes"):
        bulk._copy_text(b"raw")


def test_instance_build_gives_what_the_constructor_gives():
    at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    built = bulk.instance_build(OutboxEvent, {"topic": "t", "event_type": "e", "created_at": at})
    made = OutboxEvent(topic="t", event_type="e", created_at=at)
    names = [field.attname for field in OutboxEvent._meta.concrete_fields]
    assert {name: getattr(built, name) for name in names} == {name: getattr(made, name) for name in names}
    assert built._state.adding and built.pk is None
    # Callable defaults are called for each instance, not shared.
    first, second = (bulk.instance_build(IdempotencyRecord, {}) for _ in range(2))
    assert first.response_status is None and first.scope == "" and second.scope == ""
    with pytest.raises(TypeError, match="no fields"):
        bulk.instance_build(OutboxEvent, {"topic": "t", "not_a_field": 1})


@pytest.mark.django_db
def test_built_instances_save_like_constructed_ones():
    at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    event = bulk.instance_build(OutboxEvent, {"topic": "t", "event_type": "e", "payload": {"a": 1}, "created_at": at})
    event.save()
    assert OutboxEvent.objects.get(pk=event.pk).payload == {"a": 1}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("count", SIZES)
def test_json_text_is_written_as_the_json_it_holds(count):
    at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    text = bulk.JsonText('{"amount": "10.01", "tab": "a\\tb", "list": [1, null]}')
    with transaction.atomic():
        bulk.rows_insert(OutboxEvent, ("topic", "event_type", "payload", "created_at"), [("t", "e", text, at)] * count)
        events = [OutboxEvent(topic="o", event_type="e", payload=text, created_at=at) for _ in range(count)]
        bulk.objects_insert(events)
    payloads = list(OutboxEvent.objects.values_list("payload", flat=True))
    assert payloads == [{"amount": "10.01", "tab": "a\tb", "list": [1, None]}] * (2 * count)
