"""The transactional outbox: an event row is written in the same transaction as its change."""

import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from deltran.bulk import JsonText, rows_insert
from deltran.models import OutboxEvent


def _jsonable(payload: dict) -> dict:
    # Round-trip now, so a value that cannot be serialised fails inside the transaction.
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("events must be written inside the transaction of the change they announce")


def event_record_many(*, events: list[tuple[str, str, dict]]) -> None:
    """Write (topic, event_type, payload) events; must run inside the change's transaction."""
    _require_transaction()
    now = timezone.now()
    # Serialised once, here (a value that cannot be fails inside the transaction), and written as it is.
    rows_insert(
        OutboxEvent,
        ("topic", "event_type", "payload", "created_at"),
        [
            (topic, event_type, JsonText(json.dumps(payload, cls=DjangoJSONEncoder)), now)
            for topic, event_type, payload in events
        ],
    )


def event_record(*, topic: str, event_type: str, payload: dict) -> OutboxEvent:
    """One event, returned with its id (the id a reconnecting client resumes from)."""
    _require_transaction()
    return OutboxEvent.objects.create(
        topic=topic, event_type=event_type, payload=_jsonable(payload), created_at=timezone.now()
    )


def events_prune(*, now=None, batch: int = 10_000) -> int:
    """Delete events older than OUTBOX_RETENTION (sockets have relayed them; a client further behind gets a resync).

    Walks the oldest rows by primary key in batches and stops at the first batch holding a younger one, so no
    index on the time is needed and a run never scans the table.
    """
    cutoff = (now or timezone.now()) - settings.OUTBOX_RETENTION
    deleted = 0
    while True:
        oldest = list(OutboxEvent.objects.order_by("id").values_list("id", "created_at")[:batch])
        old_ids = [event_id for event_id, created_at in oldest if created_at < cutoff]
        if old_ids:
            OutboxEvent.objects.filter(id__in=old_ids).delete()
            deleted += len(old_ids)
        if len(old_ids) < batch:
            return deleted
