"""Payment metrics: the rollup of the timeline into counters, and the metrics API read from them."""

import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, connections, transaction
from django.utils import timezone

from deltran.models import OutboxEvent
from deltran.relay import gaps_after_read
from payments.choices import PaymentStatus
from payments.metrics import metrics_daily, metrics_realtime, metrics_rollup, processing_histogram, status_counts
from payments.models import MetricsRollupState, Payment, PaymentStatusCount, PaymentTransition
from tests.conftest import payment_body
from tests.payments.factories import make_payment

pytestmark = pytest.mark.django_db

S = PaymentStatus


def step(payment: Payment, from_status: str, to_status: str, *, at=None, pk=None) -> PaymentTransition:
    """A timeline row as the settlement side writes it (INSERT … SELECT, no model logic)."""
    return PaymentTransition.objects.create(
        pk=pk,
        payment=payment,
        from_status=from_status,
        to_status=to_status,
        actor_label="system",
        reason="test step",
        occurred_at=at or timezone.now(),
    )


def settle(payment: Payment, *, at=None) -> None:
    step(payment, S.QUEUED, S.SETTLING, at=at)
    step(payment, S.SETTLING, S.SETTLED, at=at)
    Payment.objects.filter(pk=payment.pk).update(status=S.SETTLED)


def test_realtime_counts_payments_received_through_the_api(scenario, operator_client):
    for amount in ("100.00", "250.50"):
        assert operator_client.post(
            "/api/v1/payments/initiate", data=json.dumps(payment_body(amount=amount)), content_type="application/json"
        ).status_code == 201
    eur = payment_body(amount="99.99", currency="EUR", sender_bic="LUMIILITXXX", receiver_bic="ENBXAEADXXX")
    assert operator_client.post(
        "/api/v1/payments/initiate", data=json.dumps(eur), content_type="application/json"
    ).status_code == 201

    response = operator_client.get("/api/v1/metrics/realtime")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["volume_24h"] == {"EUR": "99.99", "USD": "350.50"}
    assert body["count_24h"] == {"EUR": 1, "USD": 2}
    assert body["pending_count"] == 3
    assert body["queue_depth"] == 3
    assert body["processing_count"] == 0
    assert body["status_counts"]["queued"] == 3
    assert body["tps"] == pytest.approx(3 / 60, abs=0.01)
    assert body["active_banks"] == 4
    assert body["success_rate"] is None
    assert set(body) >= {
        "tps",
        "volume_24h",
        "success_rate",
        "pending_count",
        "processing_count",
        "queue_depth",
        "average_processing_seconds",
        "failed_last_1h",
        "settled_today",
        "active_banks",
        "compliance_review",
        "timestamp",
    }


def test_metrics_need_a_login_and_refuse_bad_days(scenario, client, viewer_client):
    assert client.get("/api/v1/metrics/realtime").status_code == 401
    for days in ("0", "367", "abc", "-3"):
        response = viewer_client.get(f"/api/v1/metrics/daily?days={days}")
        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert response.json()["fields"]["days"][0]["code"] == "invalid_days"
    assert viewer_client.get("/api/v1/metrics/banks?days=x").status_code == 400
    assert viewer_client.get("/api/v1/metrics/daily?days=7").json()["days"] == 7


def test_a_second_rollup_counts_nothing_twice(scenario):
    make_payment()
    first = metrics_rollup()
    again = metrics_rollup()
    assert first > 0
    assert again == 0
    assert status_counts()[S.QUEUED] == 1
    assert sum(PaymentStatusCount.objects.values_list("count", flat=True)) == 1


def test_settled_failed_and_processing_time(scenario):
    now = timezone.now()
    fast, slow, rejected = make_payment(), make_payment(), make_payment()
    Payment.objects.filter(pk=slow.pk).update(created_at=now - timedelta(seconds=100))
    slow.refresh_from_db()
    settle(fast)
    settle(slow, at=slow.created_at + timedelta(seconds=100))
    step(rejected, S.QUEUED, S.FAILED)
    metrics_rollup()

    figures = metrics_realtime()

    assert figures["settled_today"] == 2
    assert figures["success_rate"] == pytest.approx(66.67)
    assert figures["failed_last_1h"] == 1
    assert figures["pending_count"] == 0
    assert figures["status_counts"]["settled"] == 2
    assert figures["status_counts"]["failed"] == 1
    assert 50 <= figures["average_processing_seconds"] <= 51
    buckets, count, total = processing_histogram()
    assert count == 2
    assert 100 <= total <= 101
    assert dict(buckets)[1.0] == 1  # the fast one
    assert dict(buckets)[60.0] == 1
    assert dict(buckets)[300.0] == 2  # cumulative


def test_daily_figures_fill_every_day_and_rate_per_day(scenario):
    today = timezone.now().date()
    with time_machine.travel(timezone.now() - timedelta(days=2), tick=False):
        old = make_payment(amount="10.00")
        step(old, S.QUEUED, S.CANCELLED)
    settle(make_payment(amount="20.00"))
    metrics_rollup()

    days = metrics_daily(days=3)

    assert [d["date"] for d in days] == [today - timedelta(days=2), today - timedelta(days=1), today]
    assert days[0]["payment_count"] == 1
    assert days[0]["total_volume"] == {"USD": "10.00"}
    assert days[0]["success_rate"] == 0.0
    assert days[1]["payment_count"] == 0
    assert days[1]["success_rate"] is None
    assert days[2]["success_rate"] == 100.0


def test_banks_lists_every_participant(scenario, viewer_client):
    make_payment(amount="5.00")
    body = viewer_client.get("/api/v1/metrics/banks").json()
    by_bic = {row["bic"]: row for row in body["banks"]}
    assert set(by_bic) == {"ENBXAEADXXX", "LUMIILITXXX", "HABBPKKKXXX", "SBININBBXXX"}
    assert by_bic["ENBXAEADXXX"]["payment_count"] == 1
    assert by_bic["ENBXAEADXXX"]["volume"] == {"USD": "5.00"}
    assert by_bic["ENBXAEADXXX"]["name"] == "Emirates National Bank"
    assert by_bic["LUMIILITXXX"]["payment_count"] == 0


def test_a_late_commit_below_the_watermark_is_counted_once(scenario):
    """Ids are not commit-ordered: a transaction that took lower ids and commits after a read is counted later."""
    first = make_payment()
    metrics_rollup()
    top = PaymentTransition.objects.order_by("-id").values_list("id", flat=True).first()
    # Another transaction commits id top+10 first; top+1 … top+9 are still open.
    step(first, S.QUEUED, S.SETTLING, pk=top + 10)
    metrics_rollup()
    state = MetricsRollupState.objects.get()
    assert state.last_transition_id == top + 10
    # (On PostgreSQL the sequence also skipped the ids of earlier tests' rolled-back rows: gaps below ``top``.)
    assert [gap[:2] for gap in state.gaps if gap[0] > top] == [[top + 1, top + 9]]
    # The open transaction commits.
    step(first, S.SETTLING, S.SETTLED, pk=top + 3)
    metrics_rollup()
    metrics_rollup()

    assert status_counts()[S.SETTLED] == 1
    assert status_counts()[S.SETTLING] == 0
    assert status_counts()[S.QUEUED] == 0
    assert [gap[:2] for gap in MetricsRollupState.objects.get().gaps if gap[0] > top] == [
        [top + 1, top + 2],
        [top + 4, top + 9],
    ]


def test_gaps_close_when_seen_and_expire():
    after, gaps = gaps_after_read(gaps=[], after_id=10, seen=[11, 14, 15, 18], expires_at=100.0, now=0.0)
    assert after == 18
    assert gaps == [[12, 13, 100.0], [16, 17, 100.0]]
    after, gaps = gaps_after_read(gaps=gaps, after_id=after, seen=[13, 16, 17, 19], expires_at=200.0, now=50.0)
    assert after == 19
    assert gaps == [[12, 12, 100.0]]
    after, gaps = gaps_after_read(gaps=gaps, after_id=after, seen=[], expires_at=300.0, now=101.0)
    assert (after, gaps) == (19, [])


def test_metrics_update_event_at_most_once_a_second_while_something_changed(scenario):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        make_payment()
        metrics_rollup()
        make_payment()
        metrics_rollup()  # the same second: no second event
        events = list(OutboxEvent.objects.filter(event_type="payments.metrics_update"))
        assert len(events) == 1
        assert events[0].payload["pending_count"] == 1
        assert len(events[0].payload["per_second"]) == 120
        clock.shift(timedelta(seconds=1.5))
        metrics_rollup()  # the second payment is news
        clock.shift(timedelta(seconds=1.5))
        metrics_rollup()  # nothing new, but payments/s was above zero: one more, so it falls back
        clock.shift(timedelta(seconds=120))
        metrics_rollup()
        metrics_rollup()
    payloads = [e.payload for e in OutboxEvent.objects.filter(event_type="payments.metrics_update").order_by("id")]
    assert [p["pending_count"] for p in payloads] == [1, 2, 2, 2]
    assert payloads[-1]["tps"] == 0
    json.dumps(payloads)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_rollups_and_an_open_transaction_on_postgresql(scenario):
    """A rollup never counts a row twice when two run at once, and counts a transaction that commits late."""
    payment = make_payment()
    opened, release = threading.Event(), threading.Event()

    def late_writer():
        try:
            with transaction.atomic():
                step(payment, S.QUEUED, S.SETTLING)  # takes an id now, commits later
                opened.set()
                release.wait(30)
        finally:
            connections.close_all()

    writer = threading.Thread(target=late_writer)
    writer.start()
    assert opened.wait(30)
    step(make_payment(), S.QUEUED, S.FAILED)  # a higher id, committed first

    results = []

    def rollup():
        try:
            results.append(metrics_rollup())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=rollup) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert status_counts()[S.FAILED] == 1
    assert status_counts()[S.SETTLING] == 0
    release.set()
    writer.join(30)
    metrics_rollup()

    counts = status_counts()
    assert counts[S.SETTLING] == 1
    assert counts[S.QUEUED] == 0
    assert counts[S.FAILED] == 1
    assert sum(counts.values()) == 2
    assert connection.vendor == "postgresql"


def test_amounts_are_exact_decimal_strings(scenario):
    make_payment(amount=Decimal("0.10"))
    make_payment(amount=Decimal("0.20"))
    metrics_rollup()
    assert metrics_realtime()["volume_24h"] == {"USD": "0.30"}


def test_the_24_hours_are_24_hours_of_hour_and_minute_counters(scenario):
    now = timezone.now()
    for hours_ago, amount in ((25, "1.00"), (23.9, "2.00"), (0.5, "4.00")):
        with time_machine.travel(now - timedelta(hours=hours_ago), tick=False):
            make_payment(amount=amount)
    with time_machine.travel(now, tick=False):
        metrics_rollup()
        figures = metrics_realtime()
    assert figures["volume_24h"] == {"USD": "6.00"}
    assert figures["count_24h"] == {"USD": 2}
    assert figures["pending_count"] == 3
