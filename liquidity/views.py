"""The pool page: each currency's balance against its thresholds, recent movements, rebalances, "Rebalance now"."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from deltran.errors import DomainError
from deltran.roles import capability_required, user_can
from liquidity.charts import balance_bar, move_text, percent_text, rebalance_summary
from liquidity.choices import BalanceState, RebalanceStatus, RebalanceTrigger
from liquidity.selectors import pool_get, pool_overview
from liquidity.services import pool_fx_spread, pool_rebalance


def _interval_text(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    if minutes and not rest:
        return "minute" if minutes == 1 else f"{minutes} minutes"
    return f"{int(seconds)} seconds"


@capability_required("liquidity.view")
def pool_page(request):
    pool = pool_get()
    if pool is None:
        raise Http404("No liquidity pool exists.")
    overview = pool_overview(pool)
    threshold = pool.rebalance_threshold
    balances = [(row, balance_bar(row, threshold)) for row in overview.rows]
    for rebalance in overview.rebalances:
        rebalance.move_lines = [move_text(move) for move in rebalance.moves]
    minor_units = overview.minor_units
    for movement in overview.movements:
        movement.places = minor_units.get(movement.currency_id, 2)
    counts = overview.counts
    return render(
        request,
        "liquidity/pool.html",
        {
            "pool": pool,
            "overview": overview,
            "balances": balances,
            "threshold_text": percent_text(threshold),
            "state_counts": [(state, label, counts[state]) for state, label in BalanceState.choices],
            "spread_text": percent_text(pool_fx_spread()),
            "interval_text": _interval_text(settings.POOL_REBALANCE_SECONDS),
            "can_operate": user_can(request.user, "liquidity.operate"),
        },
    )


@capability_required("liquidity.operate")
@require_POST
def pool_rebalance_page(request):
    try:
        rebalance = pool_rebalance(trigger=RebalanceTrigger.OPERATOR, actor=request.user)
    except DomainError as exc:
        messages.error(request, f"The pool was not rebalanced: {exc.message}")
    else:
        level = messages.success if rebalance.status == RebalanceStatus.APPLIED else messages.info
        level(request, rebalance_summary(rebalance))
    return redirect("liquidity:pool")
