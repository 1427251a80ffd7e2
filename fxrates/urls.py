from django.urls import path

from fxrates import views

app_name = "fxrates"

urlpatterns = [
    path("fx/", views.rates_page, name="rates"),
]
