"""Idempotency keys on payment initiation: replays, conflicts, scope per sender bank, concurrent repeats, pruning."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from deltran.audit import audit_verify
from deltran.idempotency import MAX_KEY_LENGTH, idempotency_prune
from deltran.models import AuditEntry, IdempotencyRecord, OutboxEvent
from deltran.roles import OPERATOR
from payments.models import Payment
from tests.conftest import jwt_client, payment_body

INITIATE_URL = "/api/v1/payments/initiate"
ERROR_KEYS = {"code", "message", "fields"}


def initiate(client, body, key=None):
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(INITIATE_URL, body, format="json", **extra)


def written() -> tuple[int, int, int, int]:
    return (
        Payment.objects.count(),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
        IdempotencyRecord.objects.count(),
    )


# --- Replay and conflict ---------------------------------------------------------------


def test_a_repeat_with_the_same_body_replays_the_first_response(scenario, operator_client):
    first = initiate(operator_client, payment_body(), key="order-1001")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first.headers
    after_first = written()

    second = initiate(operator_client, payment_body(), key="order-1001")
    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert second.json() == first.json()
    assert written() == after_first
    assert Payment.objects.filter(idempotency_key="order-1001").count() == 1
    assert Payment.objects.get().id.hex == first.json()["id"].replace("-", "")


def test_the_body_is_compared_by_content_not_by_key_order(scenario, operator_client):
    body = payment_body()
    first = initiate(operator_client, body, key="reordered")
    reordered = dict(reversed(list(body.items())))
    second = initiate(operator_client, reordered, key="reordered")
    assert second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json()["id"] == first.json()["id"]
    assert Payment.objects.count() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "125000.51"},
        {"amount": "125000.5"},  # the same number written differently is another request
        {"remittance_info": "Invoice 2026-115"},
        {"remittance_info": None},
    ],
)
def test_a_repeat_with_another_body_is_refused_with_409(scenario, operator_client, change):
    first = initiate(operator_client, payment_body(), key="order-1002")
    assert first.status_code == 201
    after_first = written()

    second = initiate(operator_client, payment_body(**change), key="order-1002")
    assert second.status_code == 409
    body = second.json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == "idempotency_conflict"
    assert "Idempotency-Key" in body["fields"]
    assert "Idempotent-Replayed" not in second.headers
    assert written() == after_first
    assert Payment.objects.get().amount == Decimal("125000.50")


def test_the_same_key_from_two_sender_banks_makes_two_payments(scenario, operator_client):
    from_dubai = initiate(operator_client, payment_body(sender_bic="ENBXAEADXXX"), key="shared-key")
    from_tel_aviv = initiate(operator_client, payment_body(sender_bic="LUMIILITXXX"), key="shared-key")
    assert from_dubai.status_code == from_tel_aviv.status_code == 201
    assert "Idempotent-Replayed" not in from_tel_aviv.headers
    assert from_dubai.json()["id"] != from_tel_aviv.json()["id"]
    assert sorted(Payment.objects.filter(idempotency_key="shared-key").values_list("sender_bic", flat=True)) == [
        "ENBXAEADXXX",
        "LUMIILITXXX",
    ]
    assert sorted(IdempotencyRecord.objects.values_list("scope", flat=True)) == ["ENBXAEADXXX", "LUMIILITXXX"]

    # And each bank's repeat replays its own payment.
    again = initiate(operator_client, payment_body(sender_bic="LUMIILITXXX"), key="shared-key")
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == from_tel_aviv.json()["id"]
    assert Payment.objects.count() == 2


def test_the_scope_is_the_normalised_bic(scenario, operator_client):
    # "enbxaead" is ENBXAEADXXX: the same bank, so the same key space.
    first = initiate(operator_client, payment_body(sender_bic="ENBXAEADXXX"), key="k-8")
    second = initiate(operator_client, payment_body(sender_bic="enbxaead"), key="k-8")
    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["code"] == "idempotency_conflict"
    assert Payment.objects.count() == 1


def test_without_a_key_every_request_makes_a_payment(scenario, operator_client):
    first = initiate(operator_client, payment_body())
    second = initiate(operator_client, payment_body())
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert Payment.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_a_refused_request_does_not_take_the_key(scenario, operator_client):
    bad = initiate(operator_client, payment_body(currency="XYZ"), key="retry-after-fix")
    assert bad.status_code == 400
    assert not IdempotencyRecord.objects.exists()
    fixed = initiate(operator_client, payment_body(), key="retry-after-fix")
    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed.headers
    assert Payment.objects.count() == 1


# --- Invalid keys ---------------------------------------------------------------------


def test_a_key_of_the_maximum_length_is_accepted(scenario, operator_client):
    key = "k" * MAX_KEY_LENGTH
    assert MAX_KEY_LENGTH == 255
    response = initiate(operator_client, payment_body(), key=key)
    assert response.status_code == 201
    assert IdempotencyRecord.objects.get().key == key
    assert Payment.objects.get().idempotency_key == key


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("k" * (MAX_KEY_LENGTH + 1), id="256-chars"),
        pytest.param("k" * 5000, id="5000-chars"),
        pytest.param("abc\x01def", id="SOH"),
        pytest.param("abc\x00def", id="NUL"),
        pytest.param("abc\x7fdef", id="DEL"),
        pytest.param("abc\ndef", id="newline"),
        pytest.param("abc\tdef", id="tab"),
        pytest.param("abc\x1bdef", id="ESC"),
    ],
)
def test_an_invalid_key_is_refused_with_400_and_nothing_written(scenario, operator_client, key):
    before = written()
    response = initiate(operator_client, payment_body(), key=key)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == "invalid_idempotency_key"
    assert "Idempotency-Key" in body["fields"]
    assert written() == before


# --- Concurrent repeats (PostgreSQL: real concurrent writers) -----------------------------

THREADS = 20


def race(users, bodies: list[dict], key: str) -> list:
    """Send bodies[i] from thread i, all released at once; return (status, json, replayed) or the exception."""
    clients = [jwt_client(users[OPERATOR]) for _ in bodies]
    barrier = threading.Barrier(len(bodies))
    results: list = [None] * len(bodies)

    def send(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            response = initiate(clients[index], bodies[index], key=key)
            results[index] = (response.status_code, response.json(), response.headers.get("Idempotent-Replayed"))
        except BaseException as exc:  # recorded and asserted on in the main thread
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(index,)) for index in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    errors = [result for result in results if isinstance(result, BaseException)]
    assert not errors, errors
    assert not [result for result in results if result[0] >= 500], results
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_with_one_key_create_one_payment(scenario, users):
    audit_before, events_before = AuditEntry.objects.count(), OutboxEvent.objects.count()
    results = race(users, [payment_body()] * THREADS, key="race-1")

    assert [status for status, _, _ in results] == [201] * THREADS
    assert len({body["id"] for _, body, _ in results}) == 1
    assert sum(replayed != "true" for _, _, replayed in results) == 1
    assert Payment.objects.count() == 1
    assert str(Payment.objects.get().id) == results[0][1]["id"]
    assert IdempotencyRecord.objects.count() == 1
    # The losers rolled back everything they wrote: one audit entry, one event, and the chain holds.
    assert AuditEntry.objects.count() == audit_before + 1
    assert OutboxEvent.objects.count() == events_before + 1
    assert audit_verify().ok


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_and_two_bodies_create_one_payment(scenario, users):
    body_a = payment_body(amount="100.00")
    body_b = payment_body(amount="200.00")
    bodies = [body_a if index % 2 else body_b for index in range(THREADS)]
    results = race(users, bodies, key="race-2")

    assert Payment.objects.count() == 1
    payment = Payment.objects.get()
    winner = body_a if payment.amount == Decimal("100") else body_b
    for body, (status, response, _) in zip(bodies, results, strict=True):
        if body is winner:
            assert status == 201, response
            assert response["id"] == str(payment.id)
        else:
            assert status == 409, response
            assert set(response) == ERROR_KEYS
            assert response["code"] == "idempotency_conflict"
    assert sum(replayed != "true" and status == 201 for status, _, replayed in results) == 1
    assert IdempotencyRecord.objects.count() == 1


# --- Pruning ---------------------------------------------------------------------------------


def _record(key: str, created_at) -> IdempotencyRecord:
    return IdempotencyRecord.objects.create(
        scope="ENBXAEADXXX",
        key=key,
        request_hash="0" * 64,
        response_status=201,
        response_body={"id": key},
        created_at=created_at,
    )


def test_prune_deletes_only_records_older_than_the_retention(db):
    now = timezone.now()
    retention = settings.IDEMPOTENCY_RETENTION
    _record("expired-long-ago", now - retention - timedelta(days=30))
    _record("expired-just", now - retention - timedelta(seconds=1))
    _record("at-the-line", now - retention)
    _record("recent", now - timedelta(minutes=5))
    _record("future", now + timedelta(minutes=5))

    assert idempotency_prune(now=now) == 2
    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == ["at-the-line", "future", "recent"]
    assert idempotency_prune(now=now) == 0


def test_prune_follows_the_retention_setting(db, settings):
    settings.IDEMPOTENCY_RETENTION = timedelta(hours=1)
    now = timezone.now()
    _record("two-hours", now - timedelta(hours=2))
    _record("half-hour", now - timedelta(minutes=30))
    assert idempotency_prune(now=now) == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["half-hour"]


def test_prune_defaults_to_the_current_time(db):
    _record("old", timezone.now() - settings.IDEMPOTENCY_RETENTION - timedelta(minutes=1))
    _record("new", timezone.now())
    assert idempotency_prune() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_after_pruning_a_key_can_be_used_again(scenario, operator_client):
    first = initiate(operator_client, payment_body(), key="reused-later")
    assert idempotency_prune(now=timezone.now() + settings.IDEMPOTENCY_RETENTION + timedelta(seconds=1)) == 1
    second = initiate(operator_client, payment_body(), key="reused-later")
    assert second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert second.json()["id"] != first.json()["id"]
    assert Payment.objects.count() == 2
