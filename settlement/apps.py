from django.apps import AppConfig


class SettlementConfig(AppConfig):
    name = "settlement"

    def ready(self) -> None:
        from settlement import signals

        signals.connect()
