"""The liquidity provider pool and its per-currency balances and thresholds."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class LiquidityPool(models.Model):
    name = models.CharField(max_length=64, unique=True)
    auto_rebalance = models.BooleanField(default=True)
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
