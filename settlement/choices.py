"""Participant ratings and statuses, and the ISO weekday numbering banks' calendars use."""

from django.db import models


class RiskRating(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class KycStatus(models.TextChoices):
    VERIFIED = "verified", "Verified"
    PENDING = "pending", "Pending"
    EXPIRED = "expired", "Expired"
    REJECTED = "rejected", "Rejected"


# ISO 8601 weekday numbers, as datetime.isoweekday() returns them.
WEEKDAYS = [
    (1, "Monday"),
    (2, "Tuesday"),
    (3, "Wednesday"),
    (4, "Thursday"),
    (5, "Friday"),
    (6, "Saturday"),
    (7, "Sunday"),
]
WEEKDAY_NAMES = dict(WEEKDAYS)
