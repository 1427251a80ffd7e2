from django.apps import AppConfig


class LiquidityConfig(AppConfig):
    name = "liquidity"

    def ready(self) -> None:
        from liquidity import signals

        signals.connect()
