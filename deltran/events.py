"""The transactional outbox: an event row is written in the same transaction as its change."""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from deltran.models import OutboxEvent


def _jsonable(payload: dict) -> dict:
    # Round-trip now, so a value that cannot be serialised fails inside the transaction.
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def event_record_many(*, events: list[tuple[str, str, dict]]) -> list[OutboxEvent]:
    """Write (topic, event_type, payload) events; must run inside the change's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("events must be written inside the transaction of the change they announce")
    now = timezone.now()
    rows = [
        OutboxEvent(topic=topic, event_type=event_type, payload=_jsonable(payload), created_at=now)
        for topic, event_type, payload in events
    ]
    return OutboxEvent.objects.bulk_create(rows)


def event_record(*, topic: str, event_type: str, payload: dict) -> OutboxEvent:
    return event_record_many(events=[(topic, event_type, payload)])[0]
