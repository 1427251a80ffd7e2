from django.apps import AppConfig


class LiquidityConfig(AppConfig):
    name = "liquidity"
