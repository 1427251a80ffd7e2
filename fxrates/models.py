"""Currencies (ISO 4217) and the base FX rates the network converts with."""

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

currency_code_validator = RegexValidator(r"^[A-Z]{3}$", "An ISO 4217 code is three capital letters.")


class Currency(models.Model):
    code = models.CharField(max_length=3, primary_key=True, validators=[currency_code_validator])
    name = models.CharField(max_length=100)
    numeric_code = models.CharField(max_length=3, blank=True)
    minor_units = models.PositiveSmallIntegerField(help_text="ISO 4217 exponent: 2 for USD, 0 for JPY, 3 for KWD.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "currencies"

    def __str__(self) -> str:
        return self.code


class FxBaseRate(models.Model):
    """The reference rate for one pair (1 base = rate quote) and how much it moves."""

    base_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    quote_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    rate = models.DecimalField(max_digits=24, decimal_places=8, validators=[MinValueValidator(0)])
    volatility = models.DecimalField(
        max_digits=7, decimal_places=6, help_text="Daily volatility as a fraction: 0.015 is 1.5%."
    )
    source = models.CharField(max_length=32, default="Internal")
    # The rate in force now: moved by the volatility simulation or by imported rates.
    current_rate = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    current_rate_at = models.DateTimeField(null=True, blank=True)
    current_rate_source = models.CharField(max_length=16, default="base", help_text="base, simulation or import")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["base_currency", "quote_currency"]
        constraints = [
            models.UniqueConstraint(fields=["base_currency", "quote_currency"], name="fx_base_rate_pair_unique"),
            models.CheckConstraint(
                condition=~models.Q(base_currency=models.F("quote_currency")), name="fx_pair_distinct"
            ),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="fx_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.base_currency_id}/{self.quote_currency_id} {self.rate}"


class FxRateHistory(models.Model):
    """Every rate a pair has had, so the rate in force at any past instant can be found."""

    class Source(models.TextChoices):
        BASE = "base", "Base rate"
        SIMULATION = "simulation", "Volatility simulation"
        IMPORT = "import", "Imported"

    base_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    quote_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    rate = models.DecimalField(max_digits=24, decimal_places=8)
    recorded_at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=Source.choices)
    is_spike = models.BooleanField(default=False)
    spike_size = models.DecimalField(
        max_digits=7, decimal_places=6, null=True, blank=True, help_text="Signed fraction: 0.05 is a 5% jump up."
    )

    class Meta:
        ordering = ["-recorded_at"]
        indexes = [
            models.Index(fields=["base_currency", "quote_currency", "-recorded_at"], name="fx_history_pair_time_idx"),
            models.Index(fields=["recorded_at"], name="fx_history_time_idx"),
            models.Index(fields=["is_spike", "-recorded_at"], name="fx_history_spike_idx"),
        ]
        verbose_name_plural = "FX rate history"

    def __str__(self) -> str:
        return f"{self.base_currency_id}/{self.quote_currency_id} {self.rate} at {self.recorded_at:%Y-%m-%d %H:%M:%S}"
