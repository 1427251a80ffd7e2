"""payments_initiate_many: a batch runs every payment through the pipeline, writes in chunks, rejects per item."""

from decimal import Decimal

import pytest

from compliance.models import ScreeningCheck
from deltran.audit import audit_verify
from deltran.errors import IdempotencyConflict, ValidationFailed
from deltran.idempotency import request_fingerprint
from deltran.models import AuditEntry, IdempotencyRecord, OutboxEvent
from deltran.roles import OPERATOR
from payments import services
from payments.api.intake import parse_instruction
from payments.choices import Channel, PaymentStatus
from payments.models import Payment, PaymentTransition
from payments.services import BatchItem, payments_initiate_many
from settlement.models import Obligation
from tests.concurrency import in_threads
from tests.conftest import payment_body

pytestmark = pytest.mark.django_db


def item(key: str = "", **overrides) -> BatchItem:
    body = payment_body(**overrides)
    return BatchItem(instruction=parse_instruction(body), idempotency_key=key, fingerprint=request_fingerprint(body))


def test_each_item_becomes_a_payment_through_the_whole_pipeline(scenario, users):
    items = [item(amount=f"{100 + i}.00", remittance_info=f"b{i}") for i in range(5)]
    items.append(item(debtor_name="Vostok Shadow Shipping LLC", amount="900.00"))
    outcomes = payments_initiate_many(actor=users[OPERATOR], items=items, channel=Channel.BATCH)
    assert [o.error for o in outcomes] == [None] * 6
    assert [o.payment.status for o in outcomes] == [PaymentStatus.QUEUED] * 5 + [PaymentStatus.COMPLIANCE_REVIEW]
    stored = {p.pk: p for p in Payment.objects.all()}
    assert set(stored) == {o.payment.pk for o in outcomes}
    assert all(p.channel == Channel.BATCH for p in stored.values())
    assert stored[outcomes[0].payment.pk].amount == Decimal("100.00")
    # Timeline, audit entry and event per payment; obligations only for the approved ones.
    assert PaymentTransition.objects.filter(to_status=PaymentStatus.QUEUED).count() == 5
    assert AuditEntry.objects.filter(action="payment.initiate").count() == 6
    assert OutboxEvent.objects.filter(event_type="payments.payment_update").count() == 6
    assert Obligation.objects.count() == 5
    assert audit_verify().ok


def test_one_bad_item_rejects_only_itself(scenario, users):
    items = [item(), item(amount="-5"), item(sender_bic="NOPEXXXXXXX"), item(amount="1.001")]
    outcomes = payments_initiate_many(actor=users[OPERATOR], items=items, channel=Channel.BATCH)
    assert outcomes[0].payment is not None and outcomes[0].error is None
    assert [type(o.error) for o in outcomes[1:]] == [ValidationFailed] * 3
    assert outcomes[1].error.fields["amount"][0]["code"] == "amount_not_positive"
    assert outcomes[2].error.fields["sender_bic"][0]["code"] == "unknown_bank"
    assert outcomes[3].error.fields["amount"][0]["code"] == "amount_precision"
    assert Payment.objects.count() == 1


def test_a_repeated_key_returns_the_first_payment_and_other_content_is_a_conflict(scenario, users):
    first = payments_initiate_many(actor=users[OPERATOR], items=[item("k-1"), item("k-2")], channel=Channel.BATCH)
    again = payments_initiate_many(
        actor=users[OPERATOR],
        items=[item("k-1"), item("k-2", amount="7.00"), item("k-3")],
        channel=Channel.BATCH,
    )
    assert again[0].replayed and again[0].payment.pk == first[0].payment.pk
    assert isinstance(again[1].error, IdempotencyConflict) and again[1].error.code == "idempotency_conflict"
    assert again[2].payment is not None and not again[2].replayed
    assert Payment.objects.count() == 3
    assert IdempotencyRecord.objects.count() == 3


def test_a_key_twice_in_one_batch(scenario, users):
    outcomes = payments_initiate_many(
        actor=users[OPERATOR],
        items=[item("dup"), item("dup"), item("dup", amount="3.00"), item("bad", amount="0"), item("bad", amount="0")],
        channel=Channel.BATCH,
    )
    assert outcomes[1].replayed and outcomes[1].payment.pk == outcomes[0].payment.pk
    assert isinstance(outcomes[2].error, IdempotencyConflict)
    assert isinstance(outcomes[3].error, ValidationFailed) and isinstance(outcomes[4].error, ValidationFailed)
    assert Payment.objects.count() == 1


def test_velocity_counts_the_batch_own_earlier_payments(scenario, users):
    items = [item(debtor_name="Harbour Logistics", amount="9500.00", remittance_info=f"s{i}") for i in range(4)]
    outcomes = payments_initiate_many(actor=users[OPERATOR], items=items, channel=Channel.BATCH)
    first, last = (o.payment.pk for o in (outcomes[0], outcomes[-1]))
    reasons = {c.payment_id: {r["rule"] for r in c.reasons} for c in ScreeningCheck.objects.all()}
    assert "structuring" not in reasons[first]
    assert "structuring" in reasons[last]


def test_a_batch_larger_than_a_chunk_is_written_whole(scenario, users, monkeypatch):
    monkeypatch.setattr(services, "BATCH_CHUNK", 3)
    items = [item(f"c{i}", remittance_info=f"c{i}") for i in range(7)]
    outcomes = payments_initiate_many(actor=users[OPERATOR], items=items, channel=Channel.BATCH)
    assert all(o.payment is not None for o in outcomes)
    assert Payment.objects.count() == 7
    assert audit_verify().ok


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_with_one_key_record_one_payment(scenario, users):
    def send(_):
        outcomes = payments_initiate_many(actor=users[OPERATOR], items=[item("race")], channel=Channel.BATCH)
        return outcomes[0]

    results = in_threads(8, send)
    assert Payment.objects.count() == 1
    ids = {r.payment.pk for r in results if r.payment is not None}
    assert len(ids) == 1
    assert sum(1 for r in results if r.payment is not None and not r.replayed) == 1
