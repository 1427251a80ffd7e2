"""Participants of the network (banks, settlement accounts, clearing windows), and what settles between them:
obligations, business-day positions, netting cycles and their ledger postings."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from settlement.choices import CycleStatus, CycleTrigger, KycStatus, ObligationLeg, ObligationStatus, RiskRating
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
    # What the bank still owes the liquidity pool in this currency: the shortfall loans of netting cycles (added when
    # lent), less what later cycles took back from the bank's net credits (settlement.services._loan_repayments).
    pool_loan = models.DecimalField(
        "owed to the pool", max_digits=28, decimal_places=4, default=Decimal(0), validators=[MinValueValidator(0)]
    )
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


# --- Settlement ---------------------------------------------------------------------------


class NettingCycle(models.Model):
    """One netting run: the due obligations it took, their per-currency netting, and how it ended.

    ``gross_usd`` and ``net_usd`` add up the currencies at the USD equivalents locked when the payments were
    accepted (each currency's multilateral net valued at that currency's gross USD/amount ratio in the cycle), so
    ``efficiency`` is ``settlement.engines.netting.netting_efficiency(gross_usd, net_usd)``: 1 - net / gross.
    """

    status = models.CharField(max_length=10, choices=CycleStatus.choices, default=CycleStatus.RUNNING)
    trigger = models.CharField(max_length=10, choices=CycleTrigger.choices)
    run_by = models.CharField(max_length=150, help_text="Username, or the scheduler/command that started it.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Per currency, in code order: {currency, obligations, gross, bilateral_net, net, efficiency, gross_usd,
    # net_usd}; amounts as decimal strings.
    currencies = models.JSONField(default=list, blank=True)
    payment_count = models.PositiveIntegerField(default=0)
    obligation_count = models.PositiveIntegerField(default=0)
    gross_usd = models.DecimalField(max_digits=28, decimal_places=2, default=Decimal(0))
    net_usd = models.DecimalField(max_digits=28, decimal_places=2, default=Decimal(0))
    efficiency = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal(0))
    # Banks left out of a currency because their settlement account would go below zero (or is missing):
    # [{bic, currency, reason, balance, position, shortfall, obligations}]; their obligations went back to pending.
    deferrals = models.JSONField(default=list, blank=True)
    # Banks whose shortfall the liquidity pool lent instead of deferring them (the pool funds shortfalls):
    # [{bic, currency, amount, balance, position, pool}]; each loan is posted pool → bank in this cycle.
    fundings = models.JSONField(default=list, blank=True)
    # Loans repaid to the pool out of a bank's net credit in this cycle (earlier cycles' fundings):
    # [{bic, currency, amount, position, outstanding, pool}]; each posted bank → pool in this cycle.
    repayments = models.JSONField(default=list, blank=True)
    failure_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["-started_at", "-id"], name="cycle_started_idx"),
            models.Index(fields=["status", "started_at"], name="cycle_status_started_idx"),
        ]

    def __str__(self) -> str:
        return f"Netting cycle {self.pk} ({self.status})"


class Obligation(models.Model):
    """What one leg of an approved payment owes: payer to payee, in one currency, due at the clearing window.

    A same-currency payment has one (``direct``); a cross-currency payment two, through the liquidity pool
    (participant code ``POOL``): the payer pays the pool the payment amount, the pool pays the payee the
    settlement amount. A same-currency payment between two customers of one bank is ``direct`` with the bank on
    both sides: it moves nothing between settlement accounts, and its cycle settles it without netting it.
    """

    # Indexed only while not settled (obligation_unsettled_pay_idx below): a full index would take a new entry,
    # at a random place (uuid), for every obligation a cycle claims.
    # No database foreign key to the payment (decision 0006): written in the payment's own transaction (intake) or
    # its approval's; Django still protects a payment with obligations from deletion.
    payment = models.ForeignKey(
        "payments.Payment", on_delete=models.PROTECT, related_name="obligations", db_index=False, db_constraint=False
    )
    leg = models.CharField(max_length=10, choices=ObligationLeg.choices)
    payer_code = models.CharField(max_length=11, help_text="BIC, or POOL for the liquidity pool.")
    payee_code = models.CharField(max_length=11, help_text="BIC, or POOL for the liquidity pool.")
    payer_bank = models.ForeignKey(
        Bank, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    payee_bank = models.ForeignKey(
        Bank, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    currency = models.ForeignKey("fxrates.Currency", on_delete=models.PROTECT, related_name="+", db_index=False)
    amount = models.DecimalField(max_digits=28, decimal_places=4)
    amount_usd = models.DecimalField(max_digits=28, decimal_places=2)
    business_date = models.DateField(help_text="The payer's local business day the payment was accepted on.")
    due_at = models.DateTimeField(help_text="The payment's scheduled time: both banks' clearing windows open.")
    status = models.CharField(max_length=10, choices=ObligationStatus.choices, default=ObligationStatus.PENDING)
    # No database constraint: a cycle claims up to a million obligations in one UPDATE, and PostgreSQL would check the
    # key of each changed row at commit (seconds per hundred thousand). Cycles are never deleted (PROTECT in Django),
    # and only _claim sets it, to the cycle it holds locked. No index either: each claimed row would add an entry to
    # it; the cycle finds its own obligations in its claim's id range (settlement.services._cycle_obligations).
    cycle = models.ForeignKey(
        NettingCycle,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="obligations",
        db_constraint=False,
        db_index=False,
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [
            # The netting cycle's claim: pending and due, by currency, in id order. Partial, so it holds only
            # the obligations still waiting, not the settled history.
            models.Index(
                fields=["currency", "due_at", "id"],
                condition=models.Q(status=ObligationStatus.PENDING),
                name="obligation_pending_due_idx",
            ),
            # The payments receiver's "which of these payments still have unsettled legs" (payments.services).
            # Partial, so a claim (the new row versions are settled) adds no entry to it.
            models.Index(
                fields=["payment"],
                condition=~models.Q(status=ObligationStatus.SETTLED),
                name="obligation_unsettled_pay_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="obligation_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.payer_code} → {self.payee_code} {self.amount} {self.currency_id} ({self.status})"


class BankPosition(models.Model):
    """A bank's running totals for one business day (its local date), in USD: what it owes and is owed.

    Updated only under ``select_for_update`` (settlement.services.bank_positions_lock); the net debit
    (debit - credit) may not pass the bank's daily liquidity limit. Settling a cycle does not change it.
    """

    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="positions", db_index=False)
    business_date = models.DateField()
    debit_usd = models.DecimalField(max_digits=28, decimal_places=2, default=Decimal(0))
    credit_usd = models.DecimalField(max_digits=28, decimal_places=2, default=Decimal(0))
    # The highest utilisation threshold (0.80, 0.95) alerted this day, so each is alerted once.
    alerted_threshold = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-business_date", "bank"]
        constraints = [models.UniqueConstraint(fields=["bank", "business_date"], name="bank_position_bank_day_unique")]

    def __str__(self) -> str:
        return f"{self.bank_id} {self.business_date}: net debit {self.net_debit_usd}"

    @property
    def net_debit_usd(self) -> Decimal:
        return self.debit_usd - self.credit_usd


class CyclePosition(models.Model):
    """A participant's multilateral net position in one currency in a cycle (positive: receives)."""

    cycle = models.ForeignKey(NettingCycle, on_delete=models.CASCADE, related_name="positions")
    participant_code = models.CharField(max_length=11)
    currency = models.ForeignKey("fxrates.Currency", on_delete=models.PROTECT, related_name="+", db_index=False)
    position = models.DecimalField(max_digits=28, decimal_places=4)

    class Meta:
        ordering = ["cycle", "currency", "participant_code"]

    def __str__(self) -> str:
        return f"{self.participant_code} {self.position} {self.currency_id}"


class SettlementInstruction(models.Model):
    """A transfer that realises a cycle's net positions: payer pays payee amount."""

    cycle = models.ForeignKey(NettingCycle, on_delete=models.CASCADE, related_name="instructions")
    payer_code = models.CharField(max_length=11)
    payee_code = models.CharField(max_length=11)
    currency = models.ForeignKey("fxrates.Currency", on_delete=models.PROTECT, related_name="+", db_index=False)
    amount = models.DecimalField(max_digits=28, decimal_places=4)

    class Meta:
        ordering = ["cycle", "currency", "id"]

    def __str__(self) -> str:
        return f"{self.payer_code} → {self.payee_code} {self.amount} {self.currency_id}"


class LedgerPosting(models.Model):
    """One leg of a balanced double entry. Append-only: database triggers refuse UPDATE and DELETE.

    ``account_code`` is a settlement account number, ``CLEARING:<ccy>`` (the clearing account that takes the other
    leg of every entry) or ``POOL:<ccy>`` (the liquidity pool, which has no settlement account row).
    """

    cycle = models.ForeignKey(NettingCycle, on_delete=models.PROTECT, related_name="postings")
    account_code = models.CharField(max_length=34)
    settlement_account = models.ForeignKey(
        SettlementAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="postings"
    )
    currency = models.ForeignKey("fxrates.Currency", on_delete=models.PROTECT, related_name="+", db_index=False)
    amount = models.DecimalField(max_digits=28, decimal_places=4, help_text="Credit positive, debit negative.")
    counter_account_code = models.CharField(max_length=34)
    memo = models.CharField(max_length=140)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["cycle", "id"]

    def __str__(self) -> str:
        return f"{self.account_code} {self.amount} {self.currency_id}"
