"""The outbox is pruned after its retention: only events older than it go, walking the oldest rows by id."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from deltran.events import event_record_many, events_prune
from deltran.models import OutboxEvent

pytestmark = pytest.mark.django_db


def test_prune_deletes_only_events_older_than_the_retention(settings):
    settings.OUTBOX_RETENTION = timedelta(hours=24)
    with transaction.atomic():
        event_record_many(events=[("payments", "payments.payment_update", {"n": i}) for i in range(5)])
    now = timezone.now()
    old = list(OutboxEvent.objects.order_by("id").values_list("id", flat=True)[:3])
    OutboxEvent.objects.filter(id__in=old).update(created_at=now - timedelta(hours=25))
    assert events_prune(now=now, batch=2) == 3
    assert sorted(OutboxEvent.objects.values_list("payload__n", flat=True)) == [3, 4]
    assert events_prune(now=now) == 0


@pytest.mark.django_db(transaction=True)
def test_events_must_be_written_inside_the_change_transaction():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        event_record_many(events=[("payments", "payments.payment_update", {})])
