"""Admin for participants: banks with their settlement accounts and clearing windows inline."""

from django import forms
from django.contrib import admin

from settlement.choices import WEEKDAYS
from settlement.models import Bank, ClearingWindow, SettlementAccount


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


class ClearingWindowInline(admin.TabularInline):
    model = ClearingWindow
    extra = 0


@admin.register(Bank)
class BankAdmin(admin.ModelAdmin):
    form = BankAdminForm
    list_display = ("bic", "name", "country", "timezone", "primary_currency", "risk_rating", "kyc_status", "is_active")
    list_filter = ("country", "risk_rating", "kyc_status", "is_active")
    search_fields = ("bic", "name")
    filter_horizontal = ("secondary_currencies",)
    inlines = [SettlementAccountInline, ClearingWindowInline]
