"""Settlement figures for /metrics: netting cycles (time, efficiency, amounts), banks' use of their daily liquidity
limits with the 80 % / 95 % alert reached, settlement account balances."""

from collections.abc import Iterable

from prometheus_client.core import Metric

from deltran.prometheus import DatabaseCollector, as_float, gauge, quantiles
from settlement.choices import CycleStatus
from settlement.models import NettingCycle, SettlementAccount
from settlement.selectors import bank_position_today, participant_directory

# The recent window of cycles: the latest by start (cycle_started_idx), never the whole history.
RECENT_CYCLES = 100


class SettlementCollector(DatabaseCollector):
    name = "settlement"

    def metrics(self) -> Iterable[Metric]:
        yield from self.cycle_metrics()
        yield from self.limit_metrics()
        balance = gauge(
            "deltran_settlement_account_balance", "Balance of a bank's settlement account", ["bic", "currency"]
        )
        for bic, currency, amount in SettlementAccount.objects.filter(is_active=True).values_list(
            "bank__bic", "currency_id", "balance"
        ):
            balance.add_metric([bic, currency], as_float(amount))
        yield balance

    def cycle_metrics(self) -> Iterable[Metric]:
        recent = list(
            NettingCycle.objects.order_by("-started_at", "-id").values_list(
                "status", "started_at", "finished_at", "payment_count", "gross_usd", "net_usd", "efficiency"
            )[:RECENT_CYCLES]
        )
        by_status = gauge("deltran_netting_recent_cycles", "Netting cycles among the latest 100 by status", ["status"])
        counted = dict.fromkeys(CycleStatus.values, 0)
        for row in recent:
            counted[row[0]] = counted.get(row[0], 0) + 1
        for status, count in counted.items():
            by_status.add_metric([status], count)
        yield by_status
        durations = [
            (finished - started).total_seconds()
            for status, started, finished, *_ in recent
            if status == CycleStatus.SETTLED and finished
        ]
        cycle_time = gauge(
            "deltran_netting_recent_cycle_duration_seconds",
            "Netting cycle time over the latest 100 settled cycles (nearest-rank quantiles)",
            ["quantile"],
        )
        for point, value in quantiles(durations).items():
            cycle_time.add_metric([str(point)], value)
        yield cycle_time
        settled = next((row for row in recent if row[0] == CycleStatus.SETTLED), None)
        figures = {
            "deltran_netting_last_cycle_timestamp_seconds": "When the last settled cycle started",
            "deltran_netting_last_cycle_duration_seconds": "How long the last settled cycle took",
            "deltran_netting_last_cycle_efficiency_ratio": "1 - net / gross of the last settled cycle",
            "deltran_netting_last_cycle_gross_usd": "Gross value of the last settled cycle (USD)",
            "deltran_netting_last_cycle_net_usd": "Multilateral net value of the last settled cycle (USD)",
            "deltran_netting_last_cycle_payments": "Payments settled by the last settled cycle",
        }
        values = {}
        if settled is not None:
            _, started, finished, payments, gross, net, efficiency = settled
            values = {
                "deltran_netting_last_cycle_timestamp_seconds": started.timestamp(),
                "deltran_netting_last_cycle_duration_seconds": (finished - started).total_seconds() if finished else 0,
                "deltran_netting_last_cycle_efficiency_ratio": efficiency,
                "deltran_netting_last_cycle_gross_usd": gross,
                "deltran_netting_last_cycle_net_usd": net,
                "deltran_netting_last_cycle_payments": payments,
            }
        # Every family is served, empty until a cycle has settled, so dashboards and alerts find their names.
        for name, documentation in figures.items():
            metric = gauge(name, documentation)
            if name in values:
                metric.add_metric([], as_float(values[name]))
            yield metric

    def limit_metrics(self) -> Iterable[Metric]:
        directory = participant_directory()
        utilisation = gauge(
            "deltran_bank_limit_utilisation_ratio",
            "A bank's net debit for its business day over its daily liquidity limit",
            ["bic"],
        )
        net_debit = gauge("deltran_bank_net_debit_usd", "A bank's net debit for its business day (USD)", ["bic"])
        limit = gauge("deltran_bank_limit_usd", "A bank's daily liquidity limit (USD)", ["bic"])
        alert = gauge(
            "deltran_bank_limit_alert_threshold",
            "The highest limit alert raised for the bank's business day (0, 0.8 or 0.95)",
            ["bic"],
        )
        for bic, bank in sorted(directory.banks.items()):
            if not bank.is_active:
                continue
            position = bank_position_today(bank)
            debit = position.net_debit_usd if position else 0
            cap = bank.daily_liquidity_limit_usd
            net_debit.add_metric([bic], as_float(debit))
            limit.add_metric([bic], as_float(cap))
            utilisation.add_metric([bic], as_float(debit) / as_float(cap) if cap else 0.0)
            alert.add_metric(
                [bic], as_float(position.alerted_threshold) if position and position.alerted_threshold else 0.0
            )
        yield from (utilisation, net_debit, limit, alert)
