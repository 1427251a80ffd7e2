from django.urls import path

from settlement.api import views

urlpatterns = [
    path("banks/<str:bic>/calendar", views.BankCalendarView.as_view(), name="bank-calendar"),
    path("netting/cycles/run", views.NettingCycleRunView.as_view(), name="netting-cycle-run"),
    path("netting/cycles", views.NettingCycleListView.as_view(), name="netting-cycle-list"),
    path("netting/cycles/<int:cycle_id>", views.NettingCycleDetailView.as_view(), name="netting-cycle-detail"),
    path(
        "export/netting/cycles/<int:cycle_id>/positions",
        views.NettingCyclePositionsExportView.as_view(),
        name="netting-cycle-positions-export",
    ),
    path(
        "export/netting/cycles/<int:cycle_id>/instructions",
        views.NettingCycleInstructionsExportView.as_view(),
        name="netting-cycle-instructions-export",
    ),
]
