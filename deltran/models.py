"""Platform records shared by every app: the audit chain, the event outbox, idempotency keys, API clients."""

from ipaddress import IPv4Network, IPv6Network, ip_network

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from deltran.crypto import EncryptedJSONField


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
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    # Not unique and not indexed: the chain (each hash covers the previous one) is what proves integrity, and
    # every index costs each of the thousands of entries intake writes a second.
    entry_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]
        # Plain b-tree indexes for the audit viewer's filters (no varchar_pattern_ops twins).
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["action"], name="audit_action_idx"),
        ]
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
    # The first response holds the parties' accounts: encrypted at rest like the payment's columns.
    response_body = EncryptedJSONField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_unique")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class DeadLetter(models.Model):
    """A Celery task that kept failing after its retries: what it was, why it failed, and what became of it.

    Written by the worker (`deltran.tasks_base`); operators see it at /operations/dead-letters/ and re-enqueue it.
    One open row per task signature: a task that fails again updates its row (attempts, last failure).
    """

    class Status(models.TextChoices):
        DEAD = "dead", "Dead"
        RETRYING = "retrying", "Retrying"
        RESOLVED = "resolved", "Resolved"

    task_name = models.CharField(max_length=200, db_index=True)
    signature_hash = models.CharField(max_length=64, help_text="sha256 of the task name, args and kwargs.")
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    task_id = models.CharField(max_length=255, help_text="The Celery id of the last failed run.")
    exception_type = models.CharField(max_length=200)
    exception = models.TextField()
    traceback = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(help_text="Runs that failed, retries included.")
    operator_retries = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DEAD)
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_failed_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-last_failed_at"], name="dead_letter_status_idx"),
            models.Index(fields=["signature_hash", "status"], name="dead_letter_signature_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.task_name} ({self.status})"


class PeriodicTaskState(models.Model):
    """One row per periodic task: its last runs (read by /health) and, on SQLite, its no-overlap lease."""

    name = models.CharField(max_length=200, unique=True)
    # SQLite has no advisory locks: a run holds the task by setting this lease (a conditional UPDATE).
    locked_until = models.DateTimeField(null=True, blank=True)
    locked_by = models.CharField(max_length=255, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_succeeded_at = models.DateTimeField(null=True, blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)
    last_skipped_at = models.DateTimeField(
        null=True, blank=True, help_text="The last time a run was skipped because the previous one still ran."
    )
    last_duration_seconds = models.FloatField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    run_count = models.PositiveBigIntegerField(default=0)
    skip_count = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def parse_networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """An allow-list as networks: addresses or CIDRs separated by commas, spaces or lines (a bare address is /32)."""
    networks = []
    for item in text.replace(",", " ").split():
        try:
            networks.append(ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"{item!r} is not an IP address or CIDR network.") from exc
    return tuple(networks)


def validate_networks(text: str) -> None:
    try:
        parse_networks(text)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


class ApiClient(models.Model):
    """A bank's integration: the login it uses, its rate limit and the networks it may call from.

    Read on every API request through `deltran.clients.api_client_policies` (cached per process, cleared on save).
    """

    name = models.CharField(max_length=100, unique=True)
    bank_bic = models.CharField(max_length=11, blank=True, help_text="The owning bank's BIC, if it is a bank's.")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_client",
        help_text="The login the integration authenticates as; its requests count against this client.",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        default=100, help_text="Requests allowed per minute (fixed one-minute windows); 429 beyond."
    )
    allowed_networks = models.TextField(
        blank=True,
        validators=[validate_networks],
        help_text="IP addresses or CIDR networks, one per line or comma-separated; empty allows any address.",
    )
    is_active = models.BooleanField(default=True, help_text="An inactive client falls back to the per-user default.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return self.name


class WebsocketProcess(models.Model):
    """A WebSocket (Daphne) process's open-socket count, written by its outbox relay every few seconds, so /metrics
    (served by another process) can add them up; a process whose heartbeat is old is not counted."""

    process = models.CharField(max_length=100, primary_key=True)
    connections = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.process}: {self.connections}"
