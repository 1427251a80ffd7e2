from django.urls import path

from compliance import views

app_name = "compliance"

urlpatterns = [
    path("", views.case_queue_page, name="queue"),
    path("take-next/", views.case_take_next_page, name="take-next"),
    path("bulk-decide/", views.cases_bulk_decide_page, name="bulk-decide"),
    path("cases/<int:case_id>/", views.case_page, name="case"),
    path("cases/<int:case_id>/decide/", views.case_decide_page, name="decide"),
    path("cases/<int:case_id>/assign/", views.case_assign_page, name="assign"),
    path("matches/<int:match_id>/whitelist/", views.match_whitelist_page, name="whitelist"),
]
