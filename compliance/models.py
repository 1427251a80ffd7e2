"""Screening lists and their versions, the internal watch list, checks and matches, review cases and decisions."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from compliance.choices import CaseStatus, Decision, ListKind, MatchLevel


class ScreeningList(models.Model):
    """A list screened against: an official sanctions list, a PEP list, or the internal watch list."""

    code = models.SlugField(max_length=32, unique=True, help_text="e.g. ofac_sdn, eu_fsf, un_sc, uk_hmt, pep")
    name = models.CharField(max_length=128)
    kind = models.CharField(max_length=10, choices=ListKind.choices)
    is_active = models.BooleanField(default=True)
    current_version = models.ForeignKey(
        "ListVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class ListVersion(models.Model):
    """One import of a list: what file, when published, its hash and counts. The newest replaces the last at once."""

    screening_list = models.ForeignKey(ScreeningList, on_delete=models.CASCADE, related_name="versions")
    source_format = models.CharField(max_length=16)
    file_names = models.JSONField(default=list)
    file_sha256 = models.CharField(max_length=64)
    published = models.CharField(max_length=32, blank=True, help_text="Publication date the file states.")
    declared_count = models.PositiveIntegerField(null=True, blank=True)
    entry_count = models.PositiveIntegerField()
    name_count = models.PositiveIntegerField()
    imported_at = models.DateTimeField()
    imported_by = models.CharField(max_length=150)

    class Meta:
        ordering = ["-imported_at"]
        get_latest_by = "imported_at"

    def __str__(self) -> str:
        return f"{self.screening_list.code} {self.published or self.imported_at:%Y-%m-%d} ({self.entry_count})"


class ListEntry(models.Model):
    version = models.ForeignKey(ListVersion, on_delete=models.CASCADE, related_name="entries")
    source_id = models.CharField(max_length=64)
    entry_type = models.CharField(max_length=12)
    primary_name = models.CharField(max_length=512)
    programs = models.JSONField(default=list)
    countries = models.JSONField(default=list)
    birth_dates = models.JSONField(default=list)
    remarks = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["version", "source_id"])]
        verbose_name_plural = "list entries"

    def __str__(self) -> str:
        return f"{self.primary_name} ({self.source_id})"


class ListEntryName(models.Model):
    entry = models.ForeignKey(ListEntry, on_delete=models.CASCADE, related_name="names")
    name = models.CharField(max_length=512)
    kind = models.CharField(max_length=16)
    script = models.CharField(max_length=16, default="latin")

    def __str__(self) -> str:
        return self.name


class WatchlistEntry(models.Model):
    """The internal watch list, edited by compliance in the admin and screened like the official lists."""

    name = models.CharField(max_length=256)
    aliases = models.TextField(blank=True, help_text="One alias per line.")
    entry_type = models.CharField(
        max_length=12,
        choices=[("individual", "Individual"), ("entity", "Entity"), ("vessel", "Vessel"), ("unknown", "Unknown")],
        default="unknown",
    )
    reason = models.CharField(max_length=255)
    is_active = models.BooleanField(default=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "watch list entries"

    def __str__(self) -> str:
        return self.name

    def all_names(self) -> list[str]:
        return [self.name] + [line.strip() for line in self.aliases.splitlines() if line.strip()]


class ComplianceSettings(models.Model):
    """Thresholds compliance sets in the admin. One row."""

    review_threshold = models.PositiveSmallIntegerField(
        default=50,
        validators=[MaxValueValidator(100)],
        help_text="A risk score at or above this line sends the payment to compliance review.",
    )
    sla_hours = models.PositiveSmallIntegerField(default=4, help_text="Hours within which a case must be decided.")
    velocity_window_hours = models.PositiveSmallIntegerField(default=24)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "compliance settings"

    def __str__(self) -> str:
        return f"Review at score ≥ {self.review_threshold}"


class RiskRule(models.Model):
    """One rule of the risk score: its weight and parameters are edited in the admin."""

    code = models.SlugField(max_length=48, unique=True)
    description = models.CharField(max_length=255)
    weight = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    is_enabled = models.BooleanField(default=True)
    params = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} (+{self.weight})"


class ScreeningCheck(models.Model):
    """The screening of one payment: the names checked, the score, the reasons that made it."""

    # No database foreign key (decision 0006): written in the payment's own transaction by the intake.
    payment = models.OneToOneField(
        "payments.Payment", on_delete=models.CASCADE, related_name="screening", db_constraint=False
    )
    risk_score = models.PositiveSmallIntegerField(validators=[MinValueValidator(0), MaxValueValidator(100)])
    risk_level = models.CharField(max_length=8, choices=MatchLevel.choices)
    reasons = models.JSONField(default=list, help_text="[{rule, points, detail}] that made the score")
    requires_review = models.BooleanField(default=False)
    definite_hit = models.BooleanField(default=False)
    list_versions = models.JSONField(default=dict, help_text="list code → version id screened against")
    screened_at = models.DateTimeField()
    duration_ms = models.DecimalField(max_digits=9, decimal_places=3, default=Decimal(0))

    class Meta:
        indexes = [models.Index(fields=["requires_review", "-screened_at"])]

    def __str__(self) -> str:
        return f"Screening of {self.payment_id}: {self.risk_score}"


class ScreeningMatch(models.Model):
    """What matched and why: a snapshot, so it stays readable after the list is replaced."""

    screening = models.ForeignKey(ScreeningCheck, on_delete=models.CASCADE, related_name="matches")
    party = models.CharField(max_length=16, help_text="debtor, creditor, sender_bank or receiver_bank")
    party_name = models.CharField(max_length=256)
    list_code = models.CharField(max_length=32)
    list_kind = models.CharField(max_length=10, choices=ListKind.choices)
    entry_source_id = models.CharField(max_length=64)
    entry_type = models.CharField(max_length=12)
    entry_primary_name = models.CharField(max_length=512)
    matched_name = models.CharField(max_length=512)
    matched_kind = models.CharField(max_length=16)
    algorithm = models.CharField(max_length=16)
    score = models.PositiveSmallIntegerField()
    distance = models.PositiveSmallIntegerField(null=True, blank=True)
    level = models.CharField(max_length=8, choices=MatchLevel.choices)
    reason = models.CharField(max_length=512)
    whitelisted = models.BooleanField(default=False, help_text="Suppressed by a false-positive whitelist entry.")

    class Meta:
        ordering = ["-score"]

    def __str__(self) -> str:
        return f"{self.party_name} ~ {self.matched_name} ({self.level})"


class ReviewCase(models.Model):
    payment = models.OneToOneField("payments.Payment", on_delete=models.CASCADE, related_name="review_case")
    screening = models.OneToOneField(ScreeningCheck, on_delete=models.CASCADE, related_name="case")
    status = models.CharField(max_length=10, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    priority = models.PositiveSmallIntegerField(help_text="Risk score; definite hits first.")
    risk_level = models.CharField(max_length=8, choices=MatchLevel.choices)
    definite_hit = models.BooleanField(default=False)
    # Denormalised from the payment and its matches so the queue filters without joins.
    lists = models.JSONField(default=list)
    sender_bic = models.CharField(max_length=11)
    receiver_bic = models.CharField(max_length=11)
    amount_usd = models.DecimalField(max_digits=28, decimal_places=2)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    escalated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_at = models.DateTimeField()
    sla_due_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-definite_hit", "-priority", "opened_at"]
        indexes = [
            models.Index(fields=["status", "-priority", "opened_at"], name="case_queue_idx"),
            models.Index(fields=["status", "sla_due_at"], name="case_sla_idx"),
            # The suspicious-activity report: a date range, oldest first.
            models.Index(fields=["opened_at", "id"], name="case_opened_idx"),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk} ({self.status})"


class CaseDecision(models.Model):
    case = models.ForeignKey(ReviewCase, on_delete=models.CASCADE, related_name="decisions")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["decided_at", "id"]

    def __str__(self) -> str:
        return f"{self.decision} by {self.officer_id}"


class WhitelistEntry(models.Model):
    """A confirmed false positive: this party never again raises a case for this list entry."""

    party_normalised = models.CharField(max_length=256)
    party_name = models.CharField(max_length=256)
    list_code = models.CharField(max_length=32)
    entry_source_id = models.CharField(max_length=64)
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["party_normalised", "list_code", "entry_source_id"],
                condition=models.Q(is_active=True),
                name="whitelist_active_pair_unique",
            )
        ]
        verbose_name_plural = "whitelist entries"

    def __str__(self) -> str:
        return f"{self.party_name} ≠ {self.list_code}:{self.entry_source_id}"
