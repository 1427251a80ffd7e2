from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class DeltranConfig(AppConfig):
    name = "deltran"
    verbose_name = "DelTran platform"

    def ready(self) -> None:
        from deltran.clients import api_client_policies
        from deltran.models import ApiClient

        # A saved API client takes effect at once in this process (others within the reference-data TTL).
        post_save.connect(api_client_policies.clear, sender=ApiClient, dispatch_uid="deltran.api_client_saved")
        post_delete.connect(api_client_policies.clear, sender=ApiClient, dispatch_uid="deltran.api_client_deleted")

        from deltran.prometheus import PlatformCollector, collectors_register

        collectors_register(PlatformCollector())
