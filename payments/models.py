"""Payments and their timelines."""

from django.conf import settings
from django.db import models

from deltran.crypto import EncryptedCharField, EncryptedTextField
from deltran.ids import uuid7
from payments.choices import Channel, PaymentStatus


class Payment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    payment_reference = models.CharField(max_length=35)
    end_to_end_id = models.CharField(max_length=35, blank=True)
    # Foreign keys keep their constraints but not their own indexes: every index costs each insert, and lists
    # filter on the denormalised BICs and currency below, which have composite indexes.
    sender_bank = models.ForeignKey("settlement.Bank", on_delete=models.PROTECT, related_name="+", db_index=False)
    receiver_bank = models.ForeignKey("settlement.Bank", on_delete=models.PROTECT, related_name="+", db_index=False)
    sender_account = models.ForeignKey(
        "settlement.SettlementAccount", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    receiver_account = models.ForeignKey(
        "settlement.SettlementAccount", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # Denormalised from the banks so lists and filters need no join.
    sender_bic = models.CharField(max_length=11)
    receiver_bic = models.CharField(max_length=11)
    amount = models.DecimalField(max_digits=28, decimal_places=4)
    currency = models.ForeignKey(
        "fxrates.Currency", on_delete=models.PROTECT, related_name="+", db_column="currency", db_index=False
    )
    # Cross-currency: the receiver is credited in the settlement currency at the rate locked at acceptance.
    settlement_currency = models.ForeignKey(
        "fxrates.Currency", on_delete=models.PROTECT, related_name="+", db_column="settlement_currency", db_index=False
    )
    settlement_amount = models.DecimalField(max_digits=28, decimal_places=4)
    # USD equivalent at acceptance: liquidity limits and the risk score's amount tiers are in USD.
    amount_usd = models.DecimalField(max_digits=28, decimal_places=2, default=0)
    fx_rate = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    fx_rate_at = models.DateTimeField(null=True, blank=True)
    # Routing: the earliest instant both banks' clearing windows are open.
    scheduled_for = models.DateTimeField(null=True, blank=True)
    clearing_window_violation = models.BooleanField(
        default=False, help_text="Sent outside a clearing window of either bank: accepted and scheduled."
    )
    # Parties' accounts are encrypted at rest (deltran/crypto.py): readable, not filterable.
    debtor_name = models.CharField(max_length=140)
    debtor_iban = EncryptedCharField(max_length=34, blank=True)
    debtor_account = EncryptedCharField(max_length=34, blank=True)
    creditor_name = models.CharField(max_length=140)
    creditor_iban = EncryptedCharField(max_length=34, blank=True)
    creditor_account = EncryptedCharField(max_length=34, blank=True)
    remittance_info = models.CharField(max_length=140, blank=True)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.INITIATED)
    status_reason = models.CharField(max_length=255, blank=True)
    # Queued without settlement obligations: the payer's net debit for the business day would pass its daily
    # liquidity limit. Released (obligations recorded) oldest first when its position allows.
    awaiting_liquidity = models.BooleanField(default=False)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.REST)
    idempotency_key = models.CharField(max_length=255, blank=True)
    risk_score = models.PositiveSmallIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="payment_created_idx"),
            models.Index(fields=["status", "-created_at"], name="payment_status_created_idx"),
            models.Index(fields=["currency", "-created_at"], name="payment_currency_created_idx"),
            models.Index(fields=["sender_bic", "-created_at"], name="payment_sender_created_idx"),
            models.Index(fields=["receiver_bic", "-created_at"], name="payment_receiver_created_idx"),
            models.Index(fields=["end_to_end_id"], name="payment_e2e_idx"),
            # Velocity and structuring checks look up the debtor's recent payments.
            models.Index(fields=["debtor_name", "-created_at"], name="payment_debtor_created_idx"),
            # Serves equality everywhere and, on PostgreSQL, prefix search (LIKE 'ABC%').
            models.Index(fields=["payment_reference"], name="payment_reference_idx", opclasses=["varchar_pattern_ops"]),
            # The liquidity queue, oldest first per payer. Partial: only the few waiting payments are in it, so
            # intake pays nearly nothing for it.
            models.Index(
                fields=["sender_bank", "created_at"],
                condition=models.Q(awaiting_liquidity=True),
                name="payment_awaiting_created_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_reference} {self.amount} {self.currency_id} {self.status}"


class PaymentTransition(models.Model):
    """One step on a payment's timeline: who moved it, when, from which status to which, and why."""

    # No database foreign keys here (decision 0006): five rows a payment, written in the payment's own transaction by
    # the intake; the constraint checks cost the database more than the rows. Django still cascades and nulls.
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="timeline", db_constraint=False)
    from_status = models.CharField(max_length=20, choices=PaymentStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=PaymentStatus.choices)
    # No index on the actor: five timeline rows a payment would each pay for it; nothing lists steps by user.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    actor_label = models.CharField(max_length=150)
    reason = models.CharField(max_length=255)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.payment_id}: {self.from_status or '-'} → {self.to_status}"


# --- Metrics: counters rolled up from the timeline (payments/metrics.py), never from a scan of the payments ---


class MetricsRollupState(models.Model):
    """How far the metrics rollup has read the timeline: every transition id up to ``last_transition_id`` is
    counted except the ``gaps`` (id ranges not yet visible: transactions still open, or rolled back), which are
    looked at again until they expire."""

    name = models.CharField(max_length=32, primary_key=True)
    last_transition_id = models.BigIntegerField(default=0)
    # [[first_id, last_id, expires_at_epoch_seconds], ...]
    gaps = models.JSONField(default=list)
    updated_at = models.DateTimeField()
    # The last metrics_update event: {"at": epoch seconds, "tps": payments/s it showed}.
    published = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_transition_id}"


class PaymentStatusCount(models.Model):
    """How many payments are in each status now, per currency."""

    status = models.CharField(max_length=20, choices=PaymentStatus.choices)
    currency = models.CharField(max_length=3)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["status", "currency"], name="payment_status_count_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.status} {self.currency}: {self.count}"


class PaymentSecondStat(models.Model):
    """Payments received and settled per second (kept for an hour): the payments/s figure and its moving chart."""

    second = models.DateTimeField(primary_key=True)
    received = models.IntegerField(default=0)
    settled = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.second:%H:%M:%S} +{self.received} ✓{self.settled}"


class StepCounters(models.Model):
    """What every period's counter row holds for one currency and status reached."""

    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices)
    count = models.BigIntegerField(default=0)
    volume = models.DecimalField(max_digits=32, decimal_places=4, default=0)
    volume_usd = models.DecimalField(max_digits=32, decimal_places=2, default=0)
    processing_seconds = models.FloatField(default=0)

    class Meta:
        abstract = True


class PaymentMinuteStat(StepCounters):
    """Steps per minute, currency and status reached (kept for two days).

    ``status`` is the status a payment moved to: ``initiated`` counts payments received, ``settled`` payments
    settled (with the seconds they took since they were received), and so on.
    """

    minute = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["minute", "currency", "status"], name="payment_minute_stat_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.minute:%Y-%m-%d %H:%M} {self.currency} {self.status}: {self.count}"


class PaymentHourStat(StepCounters):
    """Steps per hour, currency and status reached (kept for two days): the 24-hour figures read 24 of these rows
    per key instead of 1,440 minutes."""

    hour = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "currency", "status"], name="payment_hour_stat_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.currency} {self.status}: {self.count}"


class PaymentDayStat(StepCounters):
    """Steps per UTC day, sending bank, currency and status reached (kept): daily charts and per-bank activity."""

    day = models.DateField()
    sender_bic = models.CharField(max_length=11)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "sender_bic", "currency", "status"], name="payment_day_stat_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.sender_bic} {self.currency} {self.status}: {self.count}"


class PaymentProcessingBucket(models.Model):
    """The processing-time histogram (received → settled), cumulative since the first rollup: Prometheus reads it.

    ``le`` is the bucket's upper bound in seconds (the +Inf bucket is stored as -1); ``sum_seconds`` is kept on
    the +Inf row.
    """

    le = models.FloatField(primary_key=True)
    count = models.BigIntegerField(default=0)
    sum_seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"le={self.le}: {self.count}"


class InboundMessage(models.Model):
    """A message as a bank sent it (pacs.008, MT103, JSON batch), kept byte for byte beside the payments it made."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    # pacs.008.001.08, MT103, application/json
    message_type = models.CharField(max_length=35)
    # GrpHdr/MsgId, field 20, or empty for a JSON batch.
    message_id = models.CharField(max_length=35, blank=True)
    # Byte for byte as received, so it holds the parties' accounts: encrypted at rest (deltran/crypto.py).
    content = EncryptedTextField()
    transactions = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["message_id"], name="inbound_message_msgid_idx")]

    def __str__(self) -> str:
        return f"{self.message_type} {self.message_id or self.id}"


class InboundMessagePayment(models.Model):
    """Which payment a message produced, and from which of its transactions (0-based position)."""

    # No database foreign keys (decision 0006): written with the message and its payments in one transaction.
    message = models.ForeignKey(
        InboundMessage, on_delete=models.CASCADE, related_name="payments", db_index=False, db_constraint=False
    )
    payment = models.OneToOneField(
        Payment, on_delete=models.CASCADE, related_name="inbound_message", db_constraint=False
    )
    position = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "position"], name="inbound_message_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id}#{self.position} → {self.payment_id}"
