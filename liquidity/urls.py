from django.urls import path

from liquidity import views

app_name = "liquidity"

urlpatterns = [
    path("liquidity/", views.pool_page, name="pool"),
    path("liquidity/rebalance/", views.pool_rebalance_page, name="rebalance"),
]
