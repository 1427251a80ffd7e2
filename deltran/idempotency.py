"""Idempotency keys: a repeated request gets the first response; a different body under the same key is refused.

The record is inserted in the same transaction as the work it covers, after it,
so of concurrent requests with one key exactly one commits; the others wait on
the unique index, roll back their work and answer with the stored response.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from deltran.bulk import rows_insert
from deltran.errors import IdempotencyConflict, ValidationFailed, field_error
from deltran.models import IdempotencyRecord

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotentResult:
    status: int
    body: dict
    replayed: bool


def request_fingerprint(data) -> str:
    canonical = json.dumps(data, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_key(key: str) -> None:
    if len(key) > MAX_KEY_LENGTH or not key.isprintable() or not key.strip():
        raise ValidationFailed(
            f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} printable characters.",
            fields=field_error("Idempotency-Key", "invalid", "Invalid key."),
            code="invalid_idempotency_key",
        )


def _replay(record: IdempotencyRecord, fingerprint: str) -> IdempotentResult:
    if record.request_hash != fingerprint:
        raise IdempotencyConflict(
            "This Idempotency-Key was already used with a different request body.",
            fields=field_error(
                "Idempotency-Key", "idempotency_conflict", f"Key {record.key!r} belongs to another request."
            ),
        )
    return IdempotentResult(status=record.response_status, body=record.response_body, replayed=True)


def idempotent_call(
    *, scope: str, key: str | None, fingerprint: str, produce: Callable[[], tuple[int, dict]]
) -> IdempotentResult:
    """Run `produce` (which writes and returns status and body) at most once per (scope, key)."""
    if not key:
        with transaction.atomic():
            status, body = produce()
        return IdempotentResult(status=status, body=body, replayed=False)
    _check_key(key)
    existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
    if existing is not None:
        return _replay(existing, fingerprint)
    try:
        with transaction.atomic():
            status, body = produce()
            rows_insert(
                IdempotencyRecord,
                ("scope", "key", "request_hash", "response_status", "response_body", "created_at"),
                [
                    (
                        scope,
                        key,
                        fingerprint,
                        status,
                        json.loads(json.dumps(body, cls=DjangoJSONEncoder)),
                        timezone.now(),
                    )
                ],
            )
    except IntegrityError:
        existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
        if existing is None:
            raise
        return _replay(existing, fingerprint)
    return IdempotentResult(status=status, body=body, replayed=False)


def idempotency_prune(*, now=None) -> int:
    """Delete records older than IDEMPOTENCY_RETENTION; returns how many."""
    cutoff = (now or timezone.now()) - settings.IDEMPOTENCY_RETENTION
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
