"""Operations API under /api/v1/: the audit log and the dead letters."""

from django.urls import path

from deltran import operations_api as views

urlpatterns = [
    path("audit/entries", views.AuditEntryListView.as_view(), name="audit-entry-list"),
    path("audit/verification", views.AuditVerificationView.as_view(), name="audit-verification"),
    path("export/audit", views.AuditExportView.as_view(), name="audit-entry-export"),
    path("operations/dead-letters", views.DeadLetterListView.as_view(), name="dead-letter-list"),
    path(
        "operations/dead-letters/<int:dead_letter_id>",
        views.DeadLetterDetailView.as_view(),
        name="dead-letter-detail",
    ),
    path(
        "operations/dead-letters/<int:dead_letter_id>/retry",
        views.DeadLetterRetryView.as_view(),
        name="dead-letter-api-retry",
    ),
    path(
        "operations/dead-letters/<int:dead_letter_id>/resolve",
        views.DeadLetterResolveView.as_view(),
        name="dead-letter-api-resolve",
    ),
]
