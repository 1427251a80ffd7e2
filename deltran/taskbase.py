"""How every DelTran Celery task fails: transient errors are retried with exponential backoff up to a cap, and
a task that still fails lands in the dead-letter table. Periodic tasks also hold a no-overlap lock and record
their runs (deltran/periodic.py).

    @shared_task(name="settlement.netting_cycle", base=DeltranTask)      # retries + dead letter
    @periodic_task(name="settlement.netting_cycle")                      # the same, plus lock and run record
"""

import logging
from functools import wraps

import kombu.exceptions
import redis.exceptions
from celery import Task, shared_task
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError

from deltran.deadletters import dead_letter_id_from_task_id, dead_letter_record, dead_letter_resolve
from deltran.periodic import periodic_lock, periodic_run_finished, periodic_run_skipped, periodic_run_started

logger = logging.getLogger(__name__)


class TransientError(Exception):
    """Raise it (or subclass it) from a task for a failure worth retrying: a peer that may be back soon."""


# Failures that another attempt a little later may not meet: the database, the broker or Redis away or busy.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
    ConnectionError,
    TimeoutError,
)


class DeltranTask(Task):
    autoretry_for = TRANSIENT_ERRORS
    max_retries = settings.TASK_RETRY_MAX
    retry_backoff = settings.TASK_RETRY_BACKOFF_SECONDS
    retry_backoff_max = settings.TASK_RETRY_BACKOFF_MAX_SECONDS
    retry_jitter = True

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Called by the worker once the task has failed for good (retries spent, or an error not retried)."""
        try:
            dead_letter_record(
                task_name=self.name,
                task_id=task_id,
                args=args,
                kwargs=kwargs,
                exception=exc,
                traceback=str(einfo) if einfo is not None else "",
                attempts=(self.request.retries or 0) + 1,
            )
        except DatabaseError:
            # The database being away is a common reason to get here; the worker log keeps the failure.
            logger.exception("Task %s (%s) failed and could not be recorded as a dead letter", self.name, task_id)

    def on_success(self, retval, task_id, args, kwargs):
        dead_letter_id = dead_letter_id_from_task_id(task_id)
        if dead_letter_id is not None:
            dead_letter_resolve(dead_letter_id=dead_letter_id, how="retried task succeeded")


def periodic_task(*, name: str, **options):
    """A shared task that never overlaps itself and records each run (started, succeeded, failed or skipped)."""

    def decorator(func):
        @wraps(func)
        def run_once(*args, **kwargs):
            with periodic_lock(name) as acquired:
                if not acquired:
                    periodic_run_skipped(name=name)
                    return None
                started = periodic_run_started(name=name)
                try:
                    result = func(*args, **kwargs)
                except BaseException as exc:
                    try:
                        periodic_run_finished(name=name, started=started, error=exc)
                    except DatabaseError:
                        logger.warning("Could not record the failed run of %s", name)
                    raise
                periodic_run_finished(name=name, started=started)
                return result

        # records_runs: /health expects a run record from this task (a beat task made without it has none).
        return shared_task(name=name, base=DeltranTask, records_runs=True, **options)(run_once)

    return decorator
