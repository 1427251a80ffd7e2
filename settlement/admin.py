"""Admin for participants: banks with their settlement accounts and clearing windows inline."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from settlement.choices import WEEKDAYS
from settlement.models import Bank, ClearingWindow, Holiday, SettlementAccount, windows_overlap


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
