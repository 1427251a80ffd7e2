"""The outbox relay: each WebSocket process reads new outbox rows and hands them to its own connected sockets.

A state change writes its event row in its own transaction (deltran/events.py), whichever process made it — a
web request, a Celery worker. Every Daphne process runs one relay: a task on its event loop polls the outbox by id
every ``OUTBOX_POLL_SECONDS`` and fans the new rows out to the sockets subscribed to their type. Ids are not
commit-ordered on PostgreSQL, so ids skipped by a read are remembered as gaps and read again until they appear or
expire (a rolled-back transaction's ids never do). The same task writes this process's open-socket count
(``WebsocketProcess``) every few seconds, for /metrics.
"""

import asyncio
import logging
import os
import socket
import time
import uuid
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from deltran.models import OutboxEvent, WebsocketProcess

logger = logging.getLogger(__name__)

# Rows read per poll; a backlog is read in several polls.
POLL_BATCH = 5_000
# An id skipped by a read is looked for again this long (a long transaction, a netting cycle, commits late).
GAP_SECONDS = 120.0
MAX_GAPS = 1_000
HEARTBEAT_SECONDS = 5.0
# /metrics counts the sockets of processes whose heartbeat is younger than this.
HEARTBEAT_FRESH = timedelta(seconds=3 * HEARTBEAT_SECONDS)


def gaps_after_read(
    *, gaps: list, after_id: int, seen: list[int], expires_at: float, now: float, max_gaps: int = MAX_GAPS
) -> tuple[int, list]:
    """The new high-water id and gap list once the ids ``seen`` (ascending) were read past ``after_id``.

    Gaps are ``[first_id, last_id, expires_at]``. Ids seen inside a gap close that part of it; ids skipped
    between the old high-water id and the highest id seen become new gaps; expired gaps are dropped.
    """
    kept: list = []
    for first, last, expires in gaps:
        if expires < now:
            continue
        start = first
        for found in seen[bisect_left(seen, first) : bisect_right(seen, last)]:
            if found > start:
                kept.append([start, found - 1, expires])
            start = found + 1
        if start <= last:
            kept.append([start, last, expires])
    new_ids = seen[bisect_right(seen, after_id) :]
    expected = after_id + 1
    for found in new_ids:
        if found > expected:
            kept.append([expected, found - 1, expires_at])
        expected = found + 1
    kept.sort()
    return (new_ids[-1] if new_ids else after_id), kept[-max_gaps:]


def ids_after(after_id: int, gaps: list) -> Q:
    where = Q(id__gt=after_id)
    for first, last, _expires in gaps:
        where |= Q(id__gte=first, id__lte=last)
    return where


@dataclass(frozen=True)
class RelayedEvent:
    id: int
    event_type: str
    created_at: datetime
    payload: dict

    @property
    def name(self) -> str:
        """What a client subscribes to: ``payments.payment_update`` → ``payment_update``."""
        return self.event_type.rsplit(".", 1)[-1]

    def as_message_item(self) -> dict:
        return {
            "id": self.id,
            "event_type": self.event_type,
            "created_at": self.created_at.isoformat(),
            "data": self.payload,
        }


def outbox_read(where: Q, *, limit: int, event_types: list[str] | None = None) -> list[RelayedEvent]:
    rows = OutboxEvent.objects.filter(where)
    if event_types is not None:
        rows = rows.filter(event_type__in=event_types)
    return [
        RelayedEvent(id=i, event_type=t, created_at=c, payload=p)
        for i, t, c, p in rows.order_by("id").values_list("id", "event_type", "created_at", "payload")[:limit]
    ]


def outbox_last_id() -> int:
    return OutboxEvent.objects.aggregate(last=Max("id"))["last"] or 0


class OutboxRelay:
    """One per process and event loop. Sockets ``attach`` themselves and get ``deliver(events)`` calls on the loop.

    The polling runs as a task on the loop; each read runs in Django's thread for sync code (database_sync_to_async),
    the thread every other database call of the sockets uses, so the relay adds no thread or connection.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.sockets: set = set()
        self.after_id = 0
        self.gaps: list = []
        self.process = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._ready = asyncio.Event()
        self._next_heartbeat = 0.0
        self._task = loop.create_task(self._run())

    def attach(self, consumer) -> None:
        self.sockets.add(consumer)

    def detach(self, consumer) -> None:
        self.sockets.discard(consumer)

    async def ready(self) -> int:
        """Wait until the relay has read its starting position; the high-water id."""
        await self._ready.wait()
        return self.after_id

    def stop(self) -> None:
        self._task.cancel()

    async def _run(self) -> None:
        while True:
            try:
                if not self._ready.is_set():
                    self.after_id = await database_sync_to_async(outbox_last_id)()
                    self._ready.set()
                while True:
                    events = await database_sync_to_async(self._read)()
                    if events:
                        for consumer in list(self.sockets):
                            consumer.deliver(events)
                    if len(events) < POLL_BATCH:
                        break
                if time.monotonic() >= self._next_heartbeat:
                    await database_sync_to_async(self._heartbeat)()
                    self._next_heartbeat = time.monotonic() + HEARTBEAT_SECONDS
            except asyncio.CancelledError:
                raise
            except Exception:  # the database away: keep the sockets open and try again
                logger.exception("outbox relay: read failed; retrying")
                await asyncio.sleep(1.0)
                continue
            await asyncio.sleep(settings.OUTBOX_POLL_SECONDS)

    def _read(self) -> list[RelayedEvent]:
        events = outbox_read(ids_after(self.after_id, self.gaps), limit=POLL_BATCH)
        wall = time.time()
        self.after_id, self.gaps = gaps_after_read(
            gaps=self.gaps,
            after_id=self.after_id,
            seen=[event.id for event in events],
            expires_at=wall + GAP_SECONDS,
            now=wall,
        )
        return events

    def _heartbeat(self) -> None:
        now = timezone.now()
        WebsocketProcess.objects.update_or_create(
            process=self.process, defaults={"connections": len(self.sockets), "updated_at": now}
        )
        WebsocketProcess.objects.filter(updated_at__lt=now - timedelta(hours=1)).delete()


_relay: OutboxRelay | None = None


def relay_for_running_loop() -> OutboxRelay:
    """This process's relay, started on first use (and again if the event loop changed)."""
    global _relay
    loop = asyncio.get_running_loop()
    if _relay is None or _relay.loop is not loop:
        if _relay is not None:
            _relay.stop()
        _relay = OutboxRelay(loop)
    return _relay


def websocket_connections_open() -> int:
    """Open sockets over every WebSocket process with a fresh heartbeat."""
    fresh = timezone.now() - HEARTBEAT_FRESH
    return sum(WebsocketProcess.objects.filter(updated_at__gte=fresh).values_list("connections", flat=True))
