from django.urls import path

from payments.api import messages, metrics, views

urlpatterns = [
    path("payments/initiate", views.PaymentInitiateView.as_view(), name="payment-initiate"),
    path("payments", views.PaymentListView.as_view(), name="payment-list"),
    path("payments/<uuid:payment_id>", views.PaymentDetailView.as_view(), name="payment-detail"),
    path("payments/<uuid:payment_id>/cancel", views.PaymentCancelView.as_view(), name="payment-cancel"),
    path("payments/batch", messages.PaymentBatchView.as_view(), name="payment-batch"),
    path("payments/<uuid:payment_id>/pacs008", messages.PaymentPacs008View.as_view(), name="payment-pacs008"),
    path("payments/<uuid:payment_id>/mt103", messages.PaymentMt103View.as_view(), name="payment-mt103"),
    path("iso20022/pacs008", messages.Pacs008IntakeView.as_view(), name="pacs008-intake"),
    path("swift/mt103", messages.Mt103IntakeView.as_view(), name="mt103-intake"),
    path("export/payments", views.PaymentExportView.as_view(), name="payment-export"),
    path("metrics/realtime", metrics.MetricsRealtimeView.as_view(), name="metrics-realtime"),
    path("metrics/daily", metrics.MetricsDailyView.as_view(), name="metrics-daily"),
    path("metrics/banks", metrics.MetricsBanksView.as_view(), name="metrics-banks"),
]
