"""The 4-bank stress test: traffic mix, load client, report and reconciliation (manage.py stress)."""
