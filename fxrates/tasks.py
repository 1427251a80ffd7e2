"""Periodic FX work: the volatility simulation's tick and history pruning."""

from django.conf import settings

from deltran.taskbase import periodic_task
from fxrates.services import fx_history_prune, fx_simulate_tick


@periodic_task(name="fxrates.simulate_tick")
def fx_simulate_tick_task() -> int:
    if not settings.FX_SIMULATION_ENABLED:
        return 0
    return len(fx_simulate_tick())


@periodic_task(name="fxrates.prune_history")
def fx_history_prune_task() -> int:
    return fx_history_prune()
