from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from compliance.models import ComplianceSettings, RiskRule
        from compliance.selectors import compliance_settings, risk_rules

        for model, cached in ((RiskRule, risk_rules), (ComplianceSettings, compliance_settings)):
            post_save.connect(cached.clear, sender=model, dispatch_uid=f"clear-{model.__name__}-save")
            post_delete.connect(cached.clear, sender=model, dispatch_uid=f"clear-{model.__name__}-delete")
