from django.urls import path

from liquidity.api import views

urlpatterns = [
    path("liquidity/pool", views.PoolView.as_view(), name="liquidity-pool"),
    path("liquidity/rebalance", views.RebalanceView.as_view(), name="liquidity-rebalance"),
]
