"""Liquidity pool figures for /metrics: each currency's balance against its thresholds, the last rebalance."""

from collections.abc import Iterable

from prometheus_client.core import Metric

from deltran.prometheus import DatabaseCollector, as_float, gauge
from liquidity.choices import RebalanceStatus
from liquidity.models import LiquidityPool, PoolBalance, Rebalance


class LiquidityCollector(DatabaseCollector):
    name = "liquidity"

    def metrics(self) -> Iterable[Metric]:
        labels = ["pool", "currency"]
        families = {
            "available": gauge("deltran_pool_balance", "The pool's available balance in a currency", labels),
            "minimum": gauge("deltran_pool_minimum", "The pool's minimum balance in a currency", labels),
            "target": gauge("deltran_pool_target", "The pool's target balance in a currency", labels),
            "maximum": gauge("deltran_pool_maximum", "The pool's maximum balance in a currency", labels),
        }
        deviation = gauge(
            "deltran_pool_deviation_ratio", "(available - target) / target: how far a balance is from target", labels
        )
        for row in PoolBalance.objects.values("pool__name", "currency_id", "available", "minimum", "target", "maximum"):
            key = [row["pool__name"], row["currency_id"]]
            for field, family in families.items():
                family.add_metric(key, as_float(row[field]))
            target = as_float(row["target"])
            deviation.add_metric(key, (as_float(row["available"]) - target) / target if target else 0.0)
        yield from families.values()
        yield deviation
        last = gauge(
            "deltran_pool_last_rebalance_timestamp_seconds", "When the pool last moved money to rebalance", ["pool"]
        )
        cost = gauge(
            "deltran_pool_last_rebalance_fx_cost_usd", "FX cost of the pool's last applied rebalance", ["pool"]
        )
        # One indexed lookup per pool (there are few): the latest applied rebalance.
        for pool_id, name in LiquidityPool.objects.values_list("id", "name"):
            found = (
                Rebalance.objects.filter(pool_id=pool_id, status=RebalanceStatus.APPLIED)
                .order_by("-id")
                .values_list("created_at", "fx_cost_usd")
                .first()
            )
            if found:
                last.add_metric([name], found[0].timestamp())
                cost.add_metric([name], as_float(found[1]))
        yield from (last, cost)
