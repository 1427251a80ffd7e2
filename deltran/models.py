"""Platform records shared by every app: the audit chain, the event outbox, idempotency keys."""

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """One append-only audit record; `entry_hash` covers the fields and the previous entry's hash.

    Rows are only ever inserted by `deltran.audit.audit_record`; database triggers
    refuse UPDATE and DELETE (see migration 0002).
    """

    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    actor_label = models.CharField(max_length=150, help_text="Username, or 'system' for background work.")
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.object_type}:{self.object_id}"


class OutboxEvent(models.Model):
    """An event written in the same transaction as the change it announces.

    Web processes relay new rows to their WebSocket clients; a reconnecting
    client asks for everything after its last event id.
    """

    topic = models.CharField(max_length=64)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.event_type}"


class IdempotencyRecord(models.Model):
    """The first response to a request carrying an Idempotency-Key, per scope (the sender bank)."""

    scope = models.CharField(max_length=32)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_unique")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"
