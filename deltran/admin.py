"""Admin views of platform records: the audit log (read-only, it is append-only) and the API clients."""

from django.contrib import admin

from deltran import admin_devices  # noqa: F401  (two-factor devices without their keys)
from deltran.models import ApiClient, AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("id", "occurred_at", "actor_label", "action", "object_type", "object_id")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "actor_label")
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ("name", "bank_bic", "user", "rate_limit_per_minute", "allowed_networks", "is_active", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("name", "bank_bic", "user__username")
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")
