"""Periodic tasks never overlap themselves, and each run is recorded where /health can read it.

On PostgreSQL a run holds a session advisory lock named after the task (released at the end, or by the
server when the worker's connection dies). SQLite has no advisory locks, so a run takes a lease on the
task's row with one conditional UPDATE; a lease left by a crashed worker expires after
PERIODIC_TASK_LEASE_SECONDS.
"""

import hashlib
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F, Q
from django.utils import timezone

from deltran.models import PeriodicTaskState

logger = logging.getLogger(__name__)


def _lock_key(name: str) -> int:
    # A signed 64-bit key per task name, apart from the audit chain's small constant key.
    return int.from_bytes(hashlib.sha256(f"deltran.periodic:{name}".encode()).digest()[:8], "big", signed=True)


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _state(name: str) -> None:
    PeriodicTaskState.objects.get_or_create(name=name)


@contextmanager
def _postgres_lock(name: str) -> Iterator[bool]:
    key = _lock_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except DatabaseError:
                # The connection is gone, and with it the session's lock.
                logger.warning("Could not release the lock of %s; its connection was lost", name)


@contextmanager
def _lease_lock(name: str) -> Iterator[bool]:
    now = timezone.now()
    holder = f"{_holder()}:{time.monotonic_ns()}"
    lease = timedelta(seconds=settings.PERIODIC_TASK_LEASE_SECONDS)
    acquired = bool(
        PeriodicTaskState.objects.filter(name=name)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + lease, locked_by=holder)
    )
    try:
        yield acquired
    finally:
        if acquired:
            PeriodicTaskState.objects.filter(name=name, locked_by=holder).update(locked_until=None, locked_by="")


@contextmanager
def periodic_lock(name: str) -> Iterator[bool]:
    """Yield True when this run holds the task; False when another run of it is still going."""
    _state(name)
    lock = _postgres_lock if connection.vendor == "postgresql" else _lease_lock
    with lock(name) as acquired:
        yield acquired


def periodic_run_started(*, name: str) -> float:
    PeriodicTaskState.objects.filter(name=name).update(last_started_at=timezone.now(), run_count=F("run_count") + 1)
    return time.monotonic()


def periodic_run_finished(*, name: str, started: float, error: BaseException | None = None) -> None:
    now = timezone.now()
    fields = {"last_finished_at": now, "last_duration_seconds": round(time.monotonic() - started, 6)}
    if error is None:
        fields |= {"last_succeeded_at": now, "last_error": ""}
    else:
        fields |= {"last_failed_at": now, "last_error": f"{type(error).__qualname__}: {error}"[:2000]}
    PeriodicTaskState.objects.filter(name=name).update(**fields)


def periodic_run_skipped(*, name: str) -> None:
    logger.info("Periodic task %s skipped: its previous run is still going", name)
    PeriodicTaskState.objects.filter(name=name).update(last_skipped_at=timezone.now(), skip_count=F("skip_count") + 1)


def periodic_states() -> dict[str, PeriodicTaskState]:
    return {state.name: state for state in PeriodicTaskState.objects.all()}
