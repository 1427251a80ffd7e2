"""The liquidity provider pool: its per-currency balances and thresholds, every movement of a balance, rebalances."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from liquidity.choices import MovementKind, RebalanceStatus, RebalanceTrigger


class LiquidityPool(models.Model):
    name = models.CharField(max_length=64, unique=True)
    auto_rebalance = models.BooleanField(default=True)
    funds_shortfalls = models.BooleanField(
        default=False,
        help_text="Lend a bank the shortfall that would take its settlement account below zero in a netting cycle, "
        "instead of deferring its obligations.",
    )
    rebalance_threshold = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.20"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
        help_text="Deviation from target (as a fraction) that triggers a rebalance.",
    )

    def __str__(self) -> str:
        return self.name


class PoolBalance(models.Model):
    pool = models.ForeignKey(LiquidityPool, on_delete=models.CASCADE, related_name="balances")
    currency = models.ForeignKey("fxrates.Currency", on_delete=models.PROTECT, related_name="+")
    available = models.DecimalField(max_digits=28, decimal_places=4)
    minimum = models.DecimalField(max_digits=28, decimal_places=4)
    target = models.DecimalField(max_digits=28, decimal_places=4)
    maximum = models.DecimalField(max_digits=28, decimal_places=4)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pool", "currency"]
        constraints = [models.UniqueConstraint(fields=["pool", "currency"], name="pool_balance_currency_unique")]

    def __str__(self) -> str:
        return f"{self.pool} {self.currency_id}"

    def clean(self) -> None:
        if None not in (self.minimum, self.target, self.maximum) and not self.minimum <= self.target <= self.maximum:
            raise ValidationError("Thresholds must satisfy minimum ≤ target ≤ maximum.")


class PoolMovement(models.Model):
    """One change of a pool balance and the balance after it: the pool's ledger, append-only.

    Rows are only ever inserted by ``liquidity.services``; database triggers refuse UPDATE and DELETE
    (migration 0002). Per pool and currency, each row's ``balance_after`` is the previous row's plus ``amount``.
    """

    pool = models.ForeignKey(LiquidityPool, on_delete=models.PROTECT, related_name="movements", db_index=False)
    currency = models.ForeignKey("fxrates.Currency", on_delete=models.PROTECT, related_name="+")
    # Signed: positive adds to the balance, negative takes from it.
    amount = models.DecimalField(max_digits=28, decimal_places=4)
    balance_after = models.DecimalField(max_digits=28, decimal_places=4)
    kind = models.CharField(max_length=16, choices=MovementKind.choices)
    reference = models.CharField(max_length=64, blank=True, help_text="What caused it: rebalance:<id>, cycle:<id>.")
    memo = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The page's and API's "last movements" of a pool, newest first.
            models.Index(fields=["pool", "-id"], name="pool_movement_pool_latest"),
            models.Index(fields=["reference"], name="pool_movement_reference"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency_id}"


class Rebalance(models.Model):
    """One rebalance of a pool: the moves made (or none) and the pool's USD value before and after them.

    ``moves`` keeps the engine's exact figures as strings (source, target, source_amount, target_amount, rate,
    fx_cost_usd); the USD columns are those figures rounded for reading and querying (see ``pool_rebalance``).
    """

    pool = models.ForeignKey(LiquidityPool, on_delete=models.PROTECT, related_name="rebalances", db_index=False)
    trigger = models.CharField(max_length=16, choices=RebalanceTrigger.choices)
    status = models.CharField(max_length=16, choices=RebalanceStatus.choices)
    run_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    moves = models.JSONField(default=list, blank=True)
    # The currencies that were beyond the threshold when the plan was made.
    beyond_threshold = models.JSONField(default=list, blank=True)
    threshold = models.DecimalField(max_digits=5, decimal_places=4)
    fx_spread = models.DecimalField(max_digits=7, decimal_places=6)
    rates_as_of = models.DateTimeField(null=True, blank=True)
    value_before_usd = models.DecimalField(max_digits=28, decimal_places=4)
    value_after_usd = models.DecimalField(max_digits=28, decimal_places=4)
    fx_cost_usd = models.DecimalField(max_digits=28, decimal_places=4)
    # Under one minor unit per move, so it keeps more places than the other figures.
    rounding_usd = models.DecimalField(max_digits=28, decimal_places=10)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["pool", "-id"], name="rebalance_pool_latest")]

    def __str__(self) -> str:
        return f"Rebalance {self.pk} ({self.status})"
