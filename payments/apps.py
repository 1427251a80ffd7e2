from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self) -> None:
        from deltran.prometheus import collectors_register
        from payments import signals
        from payments.prometheus import PaymentsCollector

        signals.connect()
        collectors_register(PaymentsCollector())
