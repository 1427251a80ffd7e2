from django.urls import path

from settlement import views

app_name = "settlement"

urlpatterns = [
    path("calendar/", views.calendar_page, name="calendar"),
]
