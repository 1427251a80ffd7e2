"""Rebalance the liquidity pool now, from the shell: what moved, or why nothing did."""

from django.core.management.base import BaseCommand, CommandError

from deltran.errors import DomainError
from liquidity.charts import rebalance_summary
from liquidity.choices import RebalanceStatus, RebalanceTrigger
from liquidity.services import pool_rebalance


class Command(BaseCommand):
    help = "Rebalance the liquidity pool (the primary one, or --pool ID) at the current FX rates; records the result."

    def add_arguments(self, parser):
        parser.add_argument("--pool", type=int, default=None, help="Pool id (default: the primary pool).")

    def handle(self, *args, **options):
        try:
            rebalance = pool_rebalance(pool_id=options["pool"], trigger=RebalanceTrigger.COMMAND)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        style = self.style.SUCCESS if rebalance.status == RebalanceStatus.APPLIED else self.style.WARNING
        self.stdout.write(style(rebalance_summary(rebalance)))
