from django.contrib import admin

from liquidity.models import LiquidityPool, PoolBalance


class PoolBalanceInline(admin.TabularInline):
    model = PoolBalance
    extra = 0
    readonly_fields = ("available",)


@admin.register(LiquidityPool)
class LiquidityPoolAdmin(admin.ModelAdmin):
    list_display = ("name", "auto_rebalance", "rebalance_threshold")
    inlines = [PoolBalanceInline]
