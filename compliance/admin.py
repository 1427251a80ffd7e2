"""Admin for compliance reference data: lists and their versions, the watch list, rules, thresholds, whitelist."""

from django.contrib import admin

from compliance.models import (
    CaseDecision,
    ComplianceSettings,
    ListVersion,
    ReviewCase,
    RiskRule,
    ScreeningList,
    WatchlistEntry,
    WhitelistEntry,
)


@admin.register(ScreeningList)
class ScreeningListAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "is_active", "current_version")
    list_filter = ("kind", "is_active")
    readonly_fields = ("current_version",)


@admin.register(ListVersion)
class ListVersionAdmin(admin.ModelAdmin):
    list_display = (
        "screening_list",
        "published",
        "entry_count",
        "name_count",
        "imported_at",
        "imported_by",
        "file_sha256",
    )
    list_filter = ("screening_list",)
    readonly_fields = [f.name for f in ListVersion._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WatchlistEntry)
class WatchlistEntryAdmin(admin.ModelAdmin):
    list_display = ("name", "entry_type", "reason", "is_active", "added_by", "updated_at")
    list_filter = ("entry_type", "is_active")
    search_fields = ("name", "aliases")
    readonly_fields = ("added_by", "updated_at")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.added_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(RiskRule)
class RiskRuleAdmin(admin.ModelAdmin):
    list_display = ("code", "description", "weight", "is_enabled")
    list_editable = ("weight", "is_enabled")


@admin.register(ComplianceSettings)
class ComplianceSettingsAdmin(admin.ModelAdmin):
    list_display = ("review_threshold", "sla_hours", "velocity_window_hours", "updated_at")

    def has_add_permission(self, request):
        return not ComplianceSettings.objects.exists()


@admin.register(WhitelistEntry)
class WhitelistEntryAdmin(admin.ModelAdmin):
    list_display = ("party_name", "list_code", "entry_source_id", "created_by", "created_at", "is_active")
    list_filter = ("list_code", "is_active")
    search_fields = ("party_name", "entry_source_id")
    readonly_fields = (
        "party_normalised",
        "party_name",
        "list_code",
        "entry_source_id",
        "reason",
        "created_by",
        "created_at",
    )

    def has_add_permission(self, request):
        return False  # whitelisting happens from a case, with its reason


class CaseDecisionInline(admin.TabularInline):
    model = CaseDecision
    extra = 0
    can_delete = False
    readonly_fields = ("decision", "officer", "reason", "decided_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ReviewCase)
class ReviewCaseAdmin(admin.ModelAdmin):
    list_display = ("pk", "payment", "status", "priority", "risk_level", "definite_hit", "assigned_to", "sla_due_at")
    list_filter = ("status", "risk_level", "definite_hit")
    inlines = [CaseDecisionInline]
    readonly_fields = [f.name for f in ReviewCase._meta.fields]

    def has_add_permission(self, request):
        return False
