"""The payments collector for /metrics: figures from the rollup, the histogram, queues and open sockets."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from deltran.models import WebsocketProcess
from payments.choices import PaymentStatus
from payments.metrics import metrics_rollup
from payments.models import PaymentTransition
from tests.payments.factories import make_payment

pytestmark = pytest.mark.django_db


def scraped() -> dict[str, list]:
    families = text_string_to_metric_families(generate_latest(REGISTRY).decode())
    return {family.name: family.samples for family in families}


def value(samples, name: str, **labels) -> float:
    """The sample's value; 0 for a series never written (a status no payment of that currency has been in)."""
    found = [s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) <= 1
    return found[0] if found else 0


def test_payments_collector_exports_status_histogram_queues_and_sockets(scenario):
    settled = make_payment(amount="10.00")
    make_payment(amount="20.00", currency="EUR", sender_bic="LUMIILITXXX", receiver_bic="ENBXAEADXXX")
    now = timezone.now()
    for a, b in ((PaymentStatus.QUEUED, PaymentStatus.SETTLING), (PaymentStatus.SETTLING, PaymentStatus.SETTLED)):
        PaymentTransition.objects.create(
            payment=settled, from_status=a, to_status=b, actor_label="system", reason="test", occurred_at=now
        )
    metrics_rollup()
    WebsocketProcess.objects.create(process="daphne-a", connections=3, updated_at=now)
    WebsocketProcess.objects.create(process="daphne-b", connections=2, updated_at=now)
    WebsocketProcess.objects.create(process="daphne-gone", connections=9, updated_at=now - timedelta(minutes=5))

    metrics = scraped()

    payments = metrics["deltran_payments"]
    assert value(payments, "deltran_payments", status="settled", currency="USD") == 1
    assert value(payments, "deltran_payments", status="queued", currency="EUR") == 1
    assert value(payments, "deltran_payments", status="queued", currency="USD") == 0
    queues = metrics["deltran_payment_queue_depth"]
    assert value(queues, "deltran_payment_queue_depth", queue="pending") == 1
    assert value(queues, "deltran_payment_queue_depth", queue="awaiting_liquidity") == 0
    histogram = metrics["deltran_payment_processing_seconds"]
    assert value(histogram, "deltran_payment_processing_seconds_count") == 1
    assert value(histogram, "deltran_payment_processing_seconds_bucket", le="+Inf") == 1
    assert value(histogram, "deltran_payment_processing_seconds_bucket", le="5.0") == 1
    assert value(metrics["deltran_payments_received_per_second"], "deltran_payments_received_per_second") == 2 / 60
    assert value(metrics["deltran_websocket_connections"], "deltran_websocket_connections") == 5
    assert value(metrics["deltran_payment_metrics_rollup_gaps"], "deltran_payment_metrics_rollup_gaps") >= 0
