"""Participants of the network: banks, their settlement accounts and clearing windows."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from settlement.choices import KycStatus, RiskRating
from settlement.validators import validate_bic, validate_timezone, validate_weekdays

country_validator = RegexValidator(r"^[A-Z]{2}$", "An ISO 3166 country code is two capital letters.")


class Bank(models.Model):
    bic = models.CharField("BIC", max_length=11, unique=True, validators=[validate_bic])
    name = models.CharField(max_length=140)
    country = models.CharField(max_length=2, validators=[country_validator])
    timezone = models.CharField(max_length=64, validators=[validate_timezone], help_text="IANA zone, e.g. Asia/Dubai.")
    primary_currency = models.ForeignKey("fxrates.Currency", on_delete=models.PROTECT, related_name="+")
    secondary_currencies = models.ManyToManyField("fxrates.Currency", blank=True, related_name="+")
    daily_liquidity_limit_usd = models.DecimalField(
        "daily liquidity limit (USD)", max_digits=24, decimal_places=2, validators=[MinValueValidator(Decimal(0))]
    )
    risk_rating = models.CharField(max_length=8, choices=RiskRating.choices, default=RiskRating.MEDIUM)
    kyc_status = models.CharField("KYC status", max_length=10, choices=KycStatus.choices, default=KycStatus.PENDING)
    active_weekdays = models.JSONField(
        default=list,
        validators=[validate_weekdays],
        help_text="ISO weekdays the bank settles on, 1 = Monday … 7 = Sunday.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["bic"]

    def __str__(self) -> str:
        return f"{self.name} ({self.bic})"

    def clean(self) -> None:
        if self.bic:
            self.bic = self.bic.strip().upper()
        if self.bic and len(self.bic) == 11 and self.country and self.bic[4:6] != self.country:
            raise ValidationError({"country": f"The BIC {self.bic} names country {self.bic[4:6]}, not {self.country}."})


class SettlementAccount(models.Model):
    """A bank's account with the network in one currency; balances move only through postings."""

    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="accounts")
    currency = models.ForeignKey("fxrates.Currency", on_delete=models.PROTECT, related_name="+")
    account_number = models.CharField(max_length=34, unique=True)
    balance = models.DecimalField(max_digits=28, decimal_places=4, default=Decimal(0))
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["bank", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["bank", "currency"], name="settlement_account_bank_currency_unique")
        ]

    def __str__(self) -> str:
        return f"{self.account_number} ({self.currency_id})"


class ClearingWindow(models.Model):
    """Hours a bank clears in, in its local time; currency empty means every currency."""

    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="clearing_windows")
    currency = models.ForeignKey("fxrates.Currency", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    opens_at = models.TimeField(help_text="Local time at the bank.")
    closes_at = models.TimeField(
        help_text="Local time at the bank; earlier than opening means the window crosses midnight."
    )

    class Meta:
        ordering = ["bank", "currency", "opens_at"]

    def __str__(self) -> str:
        which = self.currency_id or "all currencies"
        return f"{self.bank.bic} {which} {self.opens_at:%H:%M}-{self.closes_at:%H:%M}"

    def clean(self) -> None:
        if self.opens_at is not None and self.opens_at == self.closes_at:
            raise ValidationError({"closes_at": "A window must close at another time than it opens."})
        if self.bank_id is None or self.opens_at is None or self.closes_at is None:
            return
        siblings = ClearingWindow.objects.filter(bank_id=self.bank_id, currency_id=self.currency_id).exclude(pk=self.pk)
        for other in siblings:
            if windows_overlap((self.opens_at, self.closes_at), (other.opens_at, other.closes_at)):
                raise ValidationError(f"This window overlaps {other.opens_at:%H:%M}–{other.closes_at:%H:%M}.")


def _minutes(t) -> int:
    return t.hour * 60 + t.minute


def windows_overlap(first, second) -> bool:
    """Do two daily windows (opens, closes; closes ≤ opens crosses midnight) share any minute of a day?"""

    def spans(window):
        opens, closes = _minutes(window[0]), _minutes(window[1])
        if closes <= opens:
            closes += 24 * 60
        # The same window on the next day too, so a midnight-crossing one meets tomorrow's early windows.
        return [(opens, closes), (opens + 24 * 60, closes + 24 * 60)]

    return any(a < d and c < b for a, b in spans(first) for c, d in spans(second))


class Holiday(models.Model):
    """A day on which no clearing window opens: for one bank, or for every bank of a country."""

    bank = models.ForeignKey(Bank, null=True, blank=True, on_delete=models.CASCADE, related_name="holidays")
    country = models.CharField(max_length=2, blank=True, validators=[country_validator])
    date = models.DateField()
    name = models.CharField(max_length=128)
    source = models.CharField(
        max_length=32, default="manual", help_text="manual, or the calendar it was imported from."
    )

    class Meta:
        ordering = ["date"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(bank__isnull=False) & models.Q(country=""))
                | (models.Q(bank__isnull=True) & ~models.Q(country="")),
                name="holiday_bank_xor_country",
            ),
            models.UniqueConstraint(
                fields=["bank", "date"], condition=models.Q(bank__isnull=False), name="holiday_bank_date_unique"
            ),
            models.UniqueConstraint(
                fields=["country", "date"], condition=models.Q(bank__isnull=True), name="holiday_country_date_unique"
            ),
        ]
        indexes = [models.Index(fields=["country", "date"])]

    def __str__(self) -> str:
        return f"{self.date} {self.name} ({self.bank.bic if self.bank_id else self.country})"

    def clean(self) -> None:
        if bool(self.bank_id) == bool(self.country):
            raise ValidationError("A holiday belongs either to one bank or to a country, not both.")
