"""Operations pages and probes: /health, /health/live, /health/ready, /metrics, the audit log, dead letters."""

from django.urls import path

from deltran import views

urlpatterns = [
    path("health", views.health, name="health"),
    path("health/live", views.health_live, name="health-live"),
    path("health/ready", views.health_ready, name="health-ready"),
    path("metrics", views.metrics, name="prometheus-metrics"),
    path("audit/", views.audit_log_page, name="audit-log"),
    path("audit/verify/", views.audit_verify_page, name="audit-verify"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
    path("operations/dead-letters/", views.dead_letters_page, name="dead-letters"),
    path("operations/dead-letters/<int:dead_letter_id>/", views.dead_letter_page, name="dead-letter"),
    path("operations/dead-letters/<int:dead_letter_id>/retry/", views.dead_letter_retry_page, name="dead-letter-retry"),
    path(
        "operations/dead-letters/<int:dead_letter_id>/resolve/",
        views.dead_letter_resolve_page,
        name="dead-letter-resolve",
    ),
]
