"""Payment statuses and the one table of allowed transitions (DESIGN.md, "The payment pipeline")."""

from django.db import models


class PaymentStatus(models.TextChoices):
    INITIATED = "initiated", "Initiated"
    VALIDATED = "validated", "Validated"
    SCREENED = "screened", "Screened"
    COMPLIANCE_REVIEW = "compliance_review", "Compliance review"
    APPROVED = "approved", "Approved"
    QUEUED = "queued", "Queued"
    SETTLING = "settling", "Settling"
    SETTLED = "settled", "Settled"
    COMPLETED = "completed", "Completed"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


S = PaymentStatus

TRANSITIONS: dict[str, frozenset[str]] = {
    S.INITIATED: frozenset({S.VALIDATED, S.REJECTED, S.FAILED}),
    S.VALIDATED: frozenset({S.SCREENED, S.REJECTED, S.FAILED, S.CANCELLED}),
    S.SCREENED: frozenset({S.APPROVED, S.COMPLIANCE_REVIEW, S.REJECTED, S.FAILED}),
    # Only a compliance decision moves a payment out of review (payments/services.py, payment_review_decided).
    S.COMPLIANCE_REVIEW: frozenset({S.APPROVED, S.REJECTED}),
    S.APPROVED: frozenset({S.QUEUED, S.FAILED, S.CANCELLED}),
    S.QUEUED: frozenset({S.SETTLING, S.FAILED, S.CANCELLED}),
    S.SETTLING: frozenset({S.SETTLED, S.QUEUED, S.FAILED}),
    S.SETTLED: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.REJECTED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}

FINAL_STATUSES = frozenset(status for status, targets in TRANSITIONS.items() if not targets)


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


class Channel(models.TextChoices):
    REST = "rest", "REST API"
    BATCH = "batch", "JSON batch"
    PACS008 = "pacs.008", "ISO 20022 pacs.008"
    MT103 = "mt103", "SWIFT MT103"
    WEB = "web", "Web"
