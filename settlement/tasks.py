"""Periodic settlement work: the netting cycle (beat, every NETTING_CYCLE_SECONDS)."""

from deltran.taskbase import periodic_task
from settlement.choices import CycleTrigger
from settlement.services import netting_cycle_run


@periodic_task(name="settlement.netting_cycle")
def netting_cycle_task() -> int | None:
    """Safe to run twice at once: each run claims only obligations no other run holds (skip_locked)."""
    cycle = netting_cycle_run(trigger=CycleTrigger.BEAT)
    return cycle.pk if cycle is not None else None
