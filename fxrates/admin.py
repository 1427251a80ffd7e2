from django.contrib import admin

from fxrates.models import Currency, FxBaseRate


@admin.register(Currency)
class CurrencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "numeric_code", "minor_units", "is_active")
    list_filter = ("is_active", "minor_units")
    search_fields = ("code", "name")


@admin.register(FxBaseRate)
class FxBaseRateAdmin(admin.ModelAdmin):
    list_display = ("base_currency", "quote_currency", "rate", "volatility", "source", "updated_at")
    list_filter = ("base_currency", "source")
