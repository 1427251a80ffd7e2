from django.urls import path

from compliance.api import reports, views

urlpatterns = [
    path("compliance/cases", views.CaseListView.as_view(), name="case-list"),
    path("compliance/cases/take-next", views.CaseTakeNextView.as_view(), name="case-take-next"),
    path("compliance/cases/bulk-decide", views.CaseBulkDecideView.as_view(), name="case-bulk-decide"),
    path("compliance/cases/<int:case_id>", views.CaseDetailView.as_view(), name="case-detail"),
    path("compliance/cases/<int:case_id>/decide", views.CaseDecideView.as_view(), name="case-decide"),
    path("compliance/cases/<int:case_id>/assign", views.CaseAssignView.as_view(), name="case-assign"),
    path("compliance/matches/<int:match_id>/whitelist", views.MatchWhitelistView.as_view(), name="match-whitelist"),
    path("export/compliance/decisions", views.DecisionExportView.as_view(), name="decision-export"),
    path(
        "compliance/reports/suspicious-activity",
        reports.SuspiciousActivityView.as_view(),
        name="suspicious-activity-report",
    ),
    path(
        "export/compliance/suspicious-activity",
        reports.SuspiciousActivityExportView.as_view(),
        name="suspicious-activity-export",
    ),
]
