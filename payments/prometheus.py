"""Payment figures for /metrics, read from the metrics rollup (payments/metrics.py), never from the payments table:
payments by status and currency, the processing-time histogram, queue depths, intake rate, the rollup's own lag,
and the open WebSocket connections of every Daphne process."""

from collections.abc import Iterable
from datetime import timedelta

from django.utils import timezone
from prometheus_client.core import HistogramMetricFamily, Metric

from deltran.prometheus import DatabaseCollector, gauge
from deltran.relay import websocket_connections_open
from payments.choices import PaymentStatus
from payments.metrics import PENDING, PROCESSING, ROLLUP, processing_histogram
from payments.models import MetricsRollupState, Payment, PaymentSecondStat, PaymentStatusCount


class PaymentsCollector(DatabaseCollector):
    name = "payments"

    def metrics(self) -> Iterable[Metric]:
        by_status = gauge("deltran_payments", "Payments in each status now, per currency", ["status", "currency"])
        totals = dict.fromkeys(PaymentStatus.values, 0)
        for status, currency, count in PaymentStatusCount.objects.order_by("status", "currency").values_list(
            "status", "currency", "count"
        ):
            by_status.add_metric([status, currency], count)
            totals[status] = totals.get(status, 0) + count
        yield by_status

        queues = gauge("deltran_payment_queue_depth", "Payments waiting, by queue", ["queue"])
        queues.add_metric(["pending"], sum(totals[s] for s in PENDING))
        queues.add_metric(["settling"], sum(totals[s] for s in PROCESSING))
        queues.add_metric(["compliance_review"], totals[PaymentStatus.COMPLIANCE_REVIEW])
        # The partial index on waiting payments makes this a count of the few rows it holds.
        queues.add_metric(["awaiting_liquidity"], Payment.objects.filter(awaiting_liquidity=True).count())
        yield queues

        buckets, count, total = processing_histogram()
        histogram = HistogramMetricFamily(
            "deltran_payment_processing_seconds", "Time from a payment's receipt to its settlement"
        )
        histogram.add_metric([], [(_bound(le), n) for le, n in buckets], total)
        yield histogram

        now = timezone.now()
        received = sum(
            PaymentSecondStat.objects.filter(second__gt=now - timedelta(seconds=60)).values_list(
                "received", flat=True
            )
        )
        rate = gauge("deltran_payments_received_per_second", "Payments received per second over the last minute")
        rate.add_metric([], received / 60.0)
        yield rate

        state = MetricsRollupState.objects.filter(name=ROLLUP).first()
        lag = gauge("deltran_payment_metrics_rollup_age_seconds", "Seconds since the payment counters were rolled up")
        gaps = gauge("deltran_payment_metrics_rollup_gaps", "Timeline id ranges the rollup waits for (open or lost)")
        if state is not None:
            lag.add_metric([], (now - state.updated_at).total_seconds())
            gaps.add_metric([], len(state.gaps))
        yield from (lag, gaps)

        sockets = gauge("deltran_websocket_connections", "Open WebSocket connections over all Daphne processes")
        sockets.add_metric([], websocket_connections_open())
        yield sockets


def _bound(le: float) -> str:
    return "+Inf" if le == float("inf") else repr(le)
