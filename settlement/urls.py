from django.urls import path

from settlement import views

app_name = "settlement"

urlpatterns = [
    path("calendar/", views.calendar_page, name="calendar"),
    path("netting/", views.cycles_page, name="cycles"),
    path("netting/run/", views.cycle_run_page, name="cycle_run"),
    path("netting/<int:cycle_id>/", views.cycle_page, name="cycle"),
]
