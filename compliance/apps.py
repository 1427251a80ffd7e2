from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from compliance.health import check_screening_lists
        from compliance.models import ComplianceSettings, RiskRule
        from compliance.prometheus import ComplianceCollector
        from compliance.selectors import compliance_settings, risk_rules
        from deltran.health import health_check_register
        from deltran.prometheus import collectors_register

        for model, cached in ((RiskRule, risk_rules), (ComplianceSettings, compliance_settings)):
            post_save.connect(cached.clear, sender=model, dispatch_uid=f"clear-{model.__name__}-save")
            post_delete.connect(cached.clear, sender=model, dispatch_uid=f"clear-{model.__name__}-delete")
        health_check_register("screening_lists", check_screening_lists)
        collectors_register(ComplianceCollector())
