"""Dead letters: tasks that kept failing after their retries, kept for operators to inspect and re-enqueue."""

import hashlib
import json
import logging
import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from deltran.audit import audit_record
from deltran.celery import app
from deltran.errors import Conflict
from deltran.models import DeadLetter

logger = logging.getLogger(__name__)

# A re-enqueued dead letter runs under a task id that names it, so its outcome (kept across Celery's own
# retries, which reuse the id) finds the row again without any change to the task's arguments.
TASK_ID_PREFIX = "deadletter-"


def _jsonable(value):
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=repr))


def signature_hash(*, task_name: str, args, kwargs) -> str:
    body = json.dumps([task_name, _jsonable(list(args or [])), _jsonable(dict(kwargs or {}))], sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def dead_letter_id_from_task_id(task_id: str | None) -> int | None:
    if not task_id or not task_id.startswith(TASK_ID_PREFIX):
        return None
    number = task_id[len(TASK_ID_PREFIX) :].split("-", 1)[0]
    return int(number) if number.isdigit() else None


def dead_letter_record(
    *,
    task_name: str,
    task_id: str,
    args,
    kwargs,
    exception: BaseException,
    traceback: str,
    attempts: int,
) -> DeadLetter:
    """Record a task's final failure: a new row, or the open row of the same task and arguments, updated."""
    now = timezone.now()
    digest = signature_hash(task_name=task_name, args=args, kwargs=kwargs)
    with transaction.atomic():
        known_id = dead_letter_id_from_task_id(task_id)
        rows = DeadLetter.objects.select_for_update()
        letter = (
            rows.filter(pk=known_id).first()
            if known_id
            else rows.filter(signature_hash=digest).exclude(status=DeadLetter.Status.RESOLVED).first()
        )
        if letter is None:
            letter = DeadLetter(
                task_name=task_name,
                signature_hash=digest,
                args=_jsonable(list(args or [])),
                kwargs=_jsonable(dict(kwargs or {})),
                first_failed_at=now,
                attempts=0,
            )
        letter.task_id = task_id or ""
        letter.exception_type = type(exception).__qualname__[:200]
        letter.exception = str(exception)[:10_000] or repr(exception)
        letter.traceback = (traceback or "")[-20_000:]
        letter.attempts += attempts
        letter.status = DeadLetter.Status.DEAD
        letter.last_failed_at = now
        letter.resolved_at = None
        letter.full_clean()
        letter.save()
        audit_record(
            actor=None,
            action="dead_letter.recorded",
            object_type="dead_letter",
            object_id=letter.pk,
            payload={"task": task_name, "attempts": letter.attempts, "exception": letter.exception_type},
        )
    logger.error("Task %s failed after %s attempts; dead letter #%s", task_name, attempts, letter.pk)
    return letter


def dead_letter_retry(*, dead_letter_id: int, actor) -> DeadLetter:
    """Re-enqueue a dead letter's task with its arguments; its outcome resolves the row or records the failure."""
    with transaction.atomic():
        letter = DeadLetter.objects.select_for_update().filter(pk=dead_letter_id).first()
        if letter is None:
            raise Conflict("There is no such dead letter.", code="dead_letter_not_found")
        if letter.status != DeadLetter.Status.DEAD:
            raise Conflict(
                f"This dead letter is {letter.status}; only a dead one can be retried.", code="not_retryable"
            )
        # Every app's tasks.py is imported (once) so a web process knows the names a worker has.
        app.loader.import_default_modules()
        if letter.task_name not in app.tasks:
            raise Conflict(f"No task named {letter.task_name} is registered.", code="unknown_task")
        letter.status = DeadLetter.Status.RETRYING
        letter.operator_retries += 1
        letter.save(update_fields=["status", "operator_retries"])
        audit_record(
            actor=actor,
            action="dead_letter.retried",
            object_type="dead_letter",
            object_id=letter.pk,
            payload={"task": letter.task_name, "operator_retries": letter.operator_retries},
        )
        task_id = f"{TASK_ID_PREFIX}{letter.pk}-{uuid.uuid4()}"
        name, args, kwargs = letter.task_name, letter.args, letter.kwargs
        transaction.on_commit(lambda: app.send_task(name, args=args, kwargs=kwargs, task_id=task_id))
    return letter


def dead_letter_resolve(*, dead_letter_id: int, actor=None, how: str = "succeeded") -> bool:
    """Mark a dead letter resolved (its retried task succeeded, or an operator closed it); audited."""
    with transaction.atomic():
        letter = DeadLetter.objects.select_for_update().filter(pk=dead_letter_id).first()
        if letter is None or letter.status == DeadLetter.Status.RESOLVED:
            return False
        letter.status = DeadLetter.Status.RESOLVED
        letter.resolved_at = timezone.now()
        letter.save(update_fields=["status", "resolved_at"])
        audit_record(
            actor=actor,
            action="dead_letter.resolved",
            object_type="dead_letter",
            object_id=letter.pk,
            payload={"task": letter.task_name, "how": how},
        )
    return True
