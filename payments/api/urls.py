from django.urls import path

from payments.api import views

urlpatterns = [
    path("payments/initiate", views.PaymentInitiateView.as_view(), name="payment-initiate"),
    path("payments", views.PaymentListView.as_view(), name="payment-list"),
    path("payments/<uuid:payment_id>", views.PaymentDetailView.as_view(), name="payment-detail"),
    path("payments/<uuid:payment_id>/cancel", views.PaymentCancelView.as_view(), name="payment-cancel"),
    path("export/payments", views.PaymentExportView.as_view(), name="payment-export"),
]
