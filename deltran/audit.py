"""The audit log: an append-only hash chain, written in the same transaction as the change."""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from deltran.bulk import JsonText, instance_build, objects_insert
from deltran.models import AuditEntry

GENESIS_HASH = "0" * 64
# Any constant: the key of the PostgreSQL advisory lock that orders chain appends.
_CHAIN_LOCK_KEY = 0x0DE17A4A


@dataclass(frozen=True)
class AuditItem:
    action: str
    object_type: str
    object_id: str
    payload: dict


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str = ""


def _normalise(payload: dict) -> dict:
    """What the JSON column gives back, so the hash can be recomputed from stored rows."""
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def entry_hash(
    *,
    prev_hash: str,
    occurred_at: datetime,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    payload: dict,
) -> str:
    body = json.dumps(
        [prev_hash, occurred_at.isoformat(), actor_label, action, object_type, object_id, payload],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _lock_chain() -> None:
    # SQLite runs IMMEDIATE transactions, so the writer already holds the database lock.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])


def _last_hash() -> str:
    # Plain SQL: every payment's transaction asks, and the ORM's statement building cost more than the query.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT entry_hash FROM {connection.ops.quote_name(AuditEntry._meta.db_table)} ORDER BY id DESC LIMIT 1"
        )
        row = cursor.fetchone()
    return row[0] if row else GENESIS_HASH


def audit_record_many(*, actor, items: list[AuditItem], occurred_at: datetime | None = None) -> list[AuditEntry]:
    """Append entries to the chain. Call last in the caller's transaction: it holds the chain lock until commit."""
    if not items:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit entries must be written inside the transaction of the change they record")
    # Hash the instant as the database gives it back (UTC), whatever zone the caller dated it in.
    occurred_at = (occurred_at or timezone.now()).astimezone(UTC)
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    actor_label = actor.get_username() if actor_id else "system"
    _lock_chain()
    prev_hash = _last_hash()
    entries = []
    payloads = []
    for item in items:
        # Serialised once: the text is written as it is, and what it reads back as is what the hash covers.
        text = JsonText(json.dumps(item.payload, cls=DjangoJSONEncoder))
        payload = json.loads(text)
        digest = entry_hash(
            prev_hash=prev_hash,
            occurred_at=occurred_at,
            actor_label=actor_label,
            action=item.action,
            object_type=item.object_type,
            object_id=str(item.object_id),
            payload=payload,
        )
        entries.append(
            instance_build(
                AuditEntry,
                {
                    "occurred_at": occurred_at,
                    "actor_id": actor_id,
                    "actor_label": actor_label,
                    "action": item.action,
                    "object_type": item.object_type,
                    "object_id": str(item.object_id),
                    "payload": text,
                    "prev_hash": prev_hash,
                    "entry_hash": digest,
                },
            )
        )
        prev_hash = digest
        payloads.append(payload)
    objects_insert(entries)
    for entry, payload in zip(entries, payloads, strict=True):
        entry.payload = payload
    return entries


def audit_record(*, actor, action: str, object_type: str, object_id, payload: dict) -> AuditEntry:
    return audit_record_many(
        actor=actor,
        items=[AuditItem(action=action, object_type=object_type, object_id=str(object_id), payload=payload)],
    )[0]


def audit_verify(*, chunk_size: int = 5000) -> AuditVerification:
    """Walk the chain in order; name the first entry whose hash or link does not hold."""
    prev_hash = GENESIS_HASH
    checked = 0
    rows = AuditEntry.objects.order_by("id").values_list(
        "id", "occurred_at", "actor_label", "action", "object_type", "object_id", "payload", "prev_hash", "entry_hash"
    )
    for (
        pk,
        occurred_at,
        actor_label,
        action,
        object_type,
        object_id,
        payload,
        stored_prev,
        stored_hash,
    ) in rows.iterator(chunk_size=chunk_size):
        if stored_prev != prev_hash:
            return AuditVerification(
                ok=False,
                checked=checked,
                first_broken_id=pk,
                reason="its previous-hash link does not match the entry before it (an entry was removed or reordered)",
            )
        recomputed = entry_hash(
            prev_hash=stored_prev,
            occurred_at=occurred_at,
            actor_label=actor_label,
            action=action,
            object_type=object_type,
            object_id=object_id,
            payload=payload,
        )
        if recomputed != stored_hash:
            return AuditVerification(
                ok=False,
                checked=checked,
                first_broken_id=pk,
                reason="its contents do not match its hash (the entry was altered)",
            )
        prev_hash = stored_hash
        checked += 1
    return AuditVerification(ok=True, checked=checked)
