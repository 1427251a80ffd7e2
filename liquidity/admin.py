from django.contrib import admin

from liquidity.models import LiquidityPool, PoolBalance, PoolMovement, Rebalance


class PoolBalanceInline(admin.TabularInline):
    model = PoolBalance
    extra = 0
    readonly_fields = ("available",)


@admin.register(LiquidityPool)
class LiquidityPoolAdmin(admin.ModelAdmin):
    list_display = ("name", "auto_rebalance", "rebalance_threshold", "funds_shortfalls")
    inlines = [PoolBalanceInline]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by services: listed and shown, never added, changed or deleted here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PoolMovement)
class PoolMovementAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "pool", "currency", "kind", "amount", "balance_after", "reference")
    list_filter = ("kind", "currency", "pool")
    search_fields = ("reference", "memo")
    date_hierarchy = "created_at"
    list_select_related = ("pool",)


@admin.register(Rebalance)
class RebalanceAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "pool", "trigger", "status", "run_by", "fx_cost_usd", "value_after_usd")
    list_filter = ("status", "trigger", "pool")
    date_hierarchy = "created_at"
    list_select_related = ("pool", "run_by")
