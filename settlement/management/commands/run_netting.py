"""Run one netting cycle now: net and settle every obligation that is due."""

from django.core.management.base import BaseCommand, CommandError

from settlement.choices import CycleStatus, CycleTrigger
from settlement.services import netting_cycle_run


class Command(BaseCommand):
    help = "Net and settle every pending obligation that is due, as one netting cycle."

    def handle(self, *args, **options):
        cycle = netting_cycle_run(trigger=CycleTrigger.COMMAND)
        if cycle is None:
            self.stdout.write("Nothing is due for netting: no cycle was run.")
            return
        if cycle.status == CycleStatus.FAILED:
            raise CommandError(f"Netting cycle {cycle.pk} failed: {cycle.failure_reason}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Netting cycle {cycle.pk} settled {cycle.payment_count} payments ({cycle.obligation_count} "
                f"obligations): gross {cycle.gross_usd} USD, net {cycle.net_usd} USD, efficiency {cycle.efficiency}."
            )
        )
        for deferral in cycle.deferrals:
            self.stdout.write(
                self.style.WARNING(f"Deferred {deferral['bic']} {deferral['currency']}: {deferral['message']}")
            )
