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


# The participant code of the liquidity pool in obligations, positions and instructions (banks use their BIC).
POOL = "POOL"


class ObligationLeg(models.TextChoices):
    # Same currency on both sides: the payer owes the payee.
    DIRECT = "direct", "Direct"
    # Cross-currency, first leg: the payer owes the pool the payment amount in the payment currency.
    TO_POOL = "to_pool", "Payer to pool"
    # Cross-currency, second leg: the pool owes the payee the settlement amount in the settlement currency.
    FROM_POOL = "from_pool", "Pool to payee"


class ObligationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_CYCLE = "in_cycle", "In a netting cycle"
    SETTLED = "settled", "Settled"
    # Reserved for cancelling a queued payment's obligations; only payments waiting for liquidity (which have
    # none) can be cancelled so far.
    CANCELLED = "cancelled", "Cancelled"


OBLIGATION_TRANSITIONS: dict[str, frozenset[str]] = {
    ObligationStatus.PENDING: frozenset({ObligationStatus.IN_CYCLE, ObligationStatus.CANCELLED}),
    # Back to pending when its bank is deferred from the cycle (or the cycle fails and rolls back).
    ObligationStatus.IN_CYCLE: frozenset({ObligationStatus.SETTLED, ObligationStatus.PENDING}),
    ObligationStatus.SETTLED: frozenset(),
    ObligationStatus.CANCELLED: frozenset(),
}


class CycleStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SETTLED = "settled", "Settled"
    FAILED = "failed", "Failed"


CYCLE_TRANSITIONS: dict[str, frozenset[str]] = {
    CycleStatus.RUNNING: frozenset({CycleStatus.SETTLED, CycleStatus.FAILED}),
    CycleStatus.SETTLED: frozenset(),
    CycleStatus.FAILED: frozenset(),
}


def cycle_can_transition(from_status: str, to_status: str) -> bool:
    return to_status in CYCLE_TRANSITIONS.get(from_status, frozenset())


class CycleTrigger(models.TextChoices):
    BEAT = "beat", "Celery beat"
    COMMAND = "command", "Management command"
    OPERATOR = "operator", "Operator (API)"
