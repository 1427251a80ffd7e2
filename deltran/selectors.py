"""Platform reads: the audit log and its last verification, dead letters."""

import json

from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone

from deltran.audit import audit_verify
from deltran.models import AuditEntry, DeadLetter

LAST_VERIFICATION_KEY = "deltran.audit.last_verification"

AUDIT_EXPORT_HEADER = ["Entry", "Occurred At", "Actor", "Action", "Object Type", "Object Id", "Payload", "Entry Hash"]


def audit_entries() -> QuerySet[AuditEntry]:
    return AuditEntry.objects.order_by("-id")


def audit_export_rows(queryset: QuerySet[AuditEntry]):
    rows = queryset.values_list(
        "id", "occurred_at", "actor_label", "action", "object_type", "object_id", "payload", "entry_hash"
    )
    for row in rows.iterator(chunk_size=2000):
        yield (*row[:6], _payload_text(row[6]), row[7])


def _payload_text(payload) -> str:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False)


def audit_chain_verification(*, run: bool, by: str = "") -> dict | None:
    """The chain check (`audit_verify`): run now and remembered when `run`, else the last remembered result."""
    if not run:
        return cache.get(LAST_VERIFICATION_KEY)
    result = audit_verify()
    found = {
        "ok": result.ok,
        "checked": result.checked,
        "first_broken_id": result.first_broken_id,
        "reason": result.reason,
        "verified_at": timezone.now(),
        "verified_by": by,
    }
    cache.set(LAST_VERIFICATION_KEY, found, timeout=None)
    return found


def dead_letters() -> QuerySet[DeadLetter]:
    return DeadLetter.objects.order_by("-last_failed_at", "-id")
