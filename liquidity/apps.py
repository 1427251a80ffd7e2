from django.apps import AppConfig


class LiquidityConfig(AppConfig):
    name = "liquidity"

    def ready(self) -> None:
        from deltran.prometheus import collectors_register
        from liquidity import signals
        from liquidity.prometheus import LiquidityCollector

        signals.connect()
        collectors_register(LiquidityCollector())
