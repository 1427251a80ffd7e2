from django.apps import AppConfig


class SettlementConfig(AppConfig):
    name = "settlement"

    def ready(self) -> None:
        from deltran.prometheus import collectors_register
        from settlement import signals
        from settlement.prometheus import SettlementCollector

        signals.connect()
        collectors_register(SettlementCollector())
