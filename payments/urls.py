from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("", views.home, name="home"),
    path("payments/", views.payment_list_page, name="list"),
    path("payments/<uuid:payment_id>/", views.payment_detail_page, name="detail"),
    path("payments/<uuid:payment_id>/cancel/", views.payment_cancel_page, name="cancel"),
]
