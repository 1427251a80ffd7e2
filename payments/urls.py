from django.urls import path

from payments import dashboard, views

app_name = "payments"

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", dashboard.dashboard_page, name="dashboard"),
    path("activity/", dashboard.activity_page, name="activity"),
    path("payments/", views.payment_list_page, name="list"),
    path("payments/<uuid:payment_id>/", views.payment_detail_page, name="detail"),
    path("payments/<uuid:payment_id>/cancel/", views.payment_cancel_page, name="cancel"),
]
