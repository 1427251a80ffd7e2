"""Every installation starts with the default risk rules and one settings row, all editable in the admin."""

from django.db import migrations

# code: (weight, params) — frozen here as they were when the migration was written.
DEFAULTS = {
    "sanctions_critical": (100, {}),
    "sanctions_high": (70, {}),
    "sanctions_medium": (40, {}),
    "pep_match": (35, {}),
    "pep_possible": (15, {}),
    "internal_watchlist": (60, {}),
    "internal_possible": (30, {}),
    "amount_corporate": (10, {}),
    "amount_wholesale": (25, {}),
    "bank_risk_medium": (5, {}),
    "bank_risk_high": (20, {}),
    "high_risk_country": (25, {"countries": ["KP", "IR", "MM", "SY", "YE", "AF"]}),
    "corridor_risk": (10, {"corridors": [["IL", "PK"], ["PK", "IL"]]}),
    "velocity": (15, {"count": 20, "amount_usd": "5000000"}),
    "round_amount": (5, {"min_usd": "10000", "multiple": "1000"}),
    "structuring": (20, {"threshold_usd": "10000", "band": "0.10", "count": 3}),
}
DESCRIPTIONS = {
    "sanctions_critical": "Exact or near-exact match on a sanctions list (held for a decision)",
    "sanctions_high": "Close match on a sanctions list",
    "sanctions_medium": "Possible match on a sanctions list",
    "pep_match": "Match on the PEP list",
    "pep_possible": "Possible match on the PEP list",
    "internal_watchlist": "Match on the internal watch list",
    "internal_possible": "Possible match on the internal watch list",
    "amount_corporate": "Corporate amount (5,000 to 500,000 USD)",
    "amount_wholesale": "Wholesale amount (over 500,000 USD)",
    "bank_risk_medium": "A bank of the payment is rated medium risk",
    "bank_risk_high": "A bank of the payment is rated high risk",
    "high_risk_country": "A bank in a high-risk jurisdiction",
    "corridor_risk": "A higher-risk corridor",
    "velocity": "The debtor's payment count or value in the window is high",
    "round_amount": "A large round amount",
    "structuring": "Several payments just below the reporting threshold",
}


def forwards(apps, schema_editor):
    RiskRule = apps.get_model("compliance", "RiskRule")
    ComplianceSettings = apps.get_model("compliance", "ComplianceSettings")
    for code, (weight, params) in DEFAULTS.items():
        RiskRule.objects.get_or_create(
            code=code, defaults={"description": DESCRIPTIONS[code], "weight": weight, "is_enabled": True, "params": params}
        )
    if not ComplianceSettings.objects.exists():
        ComplianceSettings.objects.create()


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
