from django.urls import path

from fxrates.api import views

urlpatterns = [
    path("fx/rates", views.FxRatesView.as_view(), name="fx-rates"),
    path("fx/rates/history", views.FxRateHistoryView.as_view(), name="fx-rate-history"),
]
