"""Compliance statuses and levels, with the case transitions beside them."""

from django.db import models


class ListKind(models.TextChoices):
    SANCTIONS = "sanctions", "Sanctions"
    PEP = "pep", "Politically exposed persons"
    INTERNAL = "internal", "Internal watch list"


class MatchLevel(models.TextChoices):
    CRITICAL = "CRITICAL", "Critical"
    HIGH = "HIGH", "High"
    MEDIUM = "MEDIUM", "Medium"
    LOW = "LOW", "Low"
    NONE = "NONE", "None"


LEVEL_ORDER = {MatchLevel.NONE: 0, MatchLevel.LOW: 1, MatchLevel.MEDIUM: 2, MatchLevel.HIGH: 3, MatchLevel.CRITICAL: 4}


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    ESCALATED = "escalated", "Escalated"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    ESCALATE = "escalate", "Escalate"


CASE_TRANSITIONS: dict[str, dict[str, str]] = {
    # status → decision → new status
    CaseStatus.OPEN: {
        Decision.APPROVE: CaseStatus.APPROVED,
        Decision.REJECT: CaseStatus.REJECTED,
        Decision.ESCALATE: CaseStatus.ESCALATED,
    },
    # An escalated case is decided by a second, different officer (four eyes).
    CaseStatus.ESCALATED: {Decision.APPROVE: CaseStatus.APPROVED, Decision.REJECT: CaseStatus.REJECTED},
    CaseStatus.APPROVED: {},
    CaseStatus.REJECTED: {},
}

OPEN_STATUSES = (CaseStatus.OPEN, CaseStatus.ESCALATED)
