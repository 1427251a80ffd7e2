"""Admin for participants (banks with their settlement accounts and clearing windows inline, holidays), and a
read-only view of what settles: netting cycles with their positions and instructions, obligations, business-day
positions and ledger postings. Those are written only by settlement.services; the admin never changes them."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from settlement.choices import WEEKDAYS
from settlement.models import (
    Bank,
    BankPosition,
    ClearingWindow,
    CyclePosition,
    Holiday,
    LedgerPosting,
    NettingCycle,
    Obligation,
    SettlementAccount,
    SettlementInstruction,
    windows_overlap,
)


class BankAdminForm(forms.ModelForm):
    active_weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple, help_text="Days the bank settles on."
    )

    class Meta:
        model = Bank
        fields = [
            "bic",
            "name",
            "country",
            "timezone",
            "primary_currency",
            "secondary_currencies",
            "daily_liquidity_limit_usd",
            "risk_rating",
            "kyc_status",
            "active_weekdays",
            "is_active",
        ]


class SettlementAccountInline(admin.TabularInline):
    model = SettlementAccount
    extra = 0
    fields = ("currency", "account_number", "balance", "is_active")
    readonly_fields = ("balance",)


class ClearingWindowFormSet(forms.BaseInlineFormSet):
    """Windows edited together must not overlap each other (per currency), crossing midnight included."""

    def clean(self) -> None:
        super().clean()
        kept = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("opens_at")
            and form.cleaned_data.get("closes_at")
        ]
        for i, first in enumerate(kept):
            for second in kept[i + 1 :]:
                if first.get("currency") == second.get("currency") and windows_overlap(
                    (first["opens_at"], first["closes_at"]), (second["opens_at"], second["closes_at"])
                ):
                    raise ValidationError(
                        f"Windows {first['opens_at']:%H:%M}–{first['closes_at']:%H:%M} and "
                        f"{second['opens_at']:%H:%M}–{second['closes_at']:%H:%M} overlap."
                    )


class ClearingWindowInline(admin.TabularInline):
    model = ClearingWindow
    formset = ClearingWindowFormSet
    extra = 0


class BankHolidayInline(admin.TabularInline):
    model = Holiday
    fk_name = "bank"
    fields = ("date", "name", "source")
    extra = 0


@admin.register(Bank)
class BankAdmin(admin.ModelAdmin):
    form = BankAdminForm
    list_display = ("bic", "name", "country", "timezone", "primary_currency", "risk_rating", "kyc_status", "is_active")
    list_filter = ("country", "risk_rating", "kyc_status", "is_active")
    search_fields = ("bic", "name")
    filter_horizontal = ("secondary_currencies",)
    inlines = [SettlementAccountInline, ClearingWindowInline, BankHolidayInline]


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ("date", "name", "country", "bank", "source")
    list_filter = ("country", "source", "bank")
    date_hierarchy = "date"
    search_fields = ("name",)


# --- Settlement records: read-only ---------------------------------------------------------


class ReadOnlyMixin:
    """Shown, never added, changed or deleted here: services write these rows (postings are append-only)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class CyclePositionInline(ReadOnlyMixin, admin.TabularInline):
    model = CyclePosition
    fields = ("currency", "participant_code", "position")
    readonly_fields = fields
    extra = 0


class SettlementInstructionInline(ReadOnlyMixin, admin.TabularInline):
    model = SettlementInstruction
    fields = ("currency", "payer_code", "payee_code", "amount")
    readonly_fields = fields
    extra = 0


@admin.register(NettingCycle)
class NettingCycleAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "status",
        "trigger",
        "run_by",
        "started_at",
        "finished_at",
        "payment_count",
        "obligation_count",
        "gross_usd",
        "net_usd",
        "efficiency",
    )
    list_filter = ("status", "trigger")
    date_hierarchy = "started_at"
    inlines = [CyclePositionInline, SettlementInstructionInline]


@admin.register(Obligation)
class ObligationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "payment",
        "leg",
        "payer_code",
        "payee_code",
        "amount",
        "currency",
        "amount_usd",
        "business_date",
        "due_at",
        "status",
        "cycle",
    )
    list_filter = ("status", "currency", "leg")
    search_fields = ("payer_code", "payee_code", "payment__payment_reference")
    list_select_related = ("payment", "cycle")
    raw_id_fields = ("payment", "cycle")


@admin.register(BankPosition)
class BankPositionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("bank", "business_date", "debit_usd", "credit_usd", "net_debit_usd", "alerted_threshold")
    list_filter = ("business_date", "bank")
    list_select_related = ("bank",)
    date_hierarchy = "business_date"


@admin.register(LedgerPosting)
class LedgerPostingAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "cycle", "account_code", "amount", "currency", "counter_account_code", "memo", "created_at")
    list_filter = ("currency",)
    search_fields = ("account_code", "counter_account_code", "memo")
    list_select_related = ("cycle",)
    raw_id_fields = ("cycle", "settlement_account")
