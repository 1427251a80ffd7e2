from django.urls import path

from settlement.api import views

urlpatterns = [
    path("banks/<str:bic>/calendar", views.BankCalendarView.as_view(), name="bank-calendar"),
]
