"""The stress run's report: what was sent and answered (from the client), what the system did meanwhile (from the
database: netting cycles, rebalances, FX spikes), the reconciliation; as JSON and as one HTML page with charts."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Sum
from django.template.loader import render_to_string

from deltran.charts import pct
from fxrates.models import FxRateHistory
from liquidity.models import Rebalance
from payments.stress.client import RunResult, latency_summary
from payments.stress.mix import Plan
from payments.stress.reconcile import Reconciliation
from settlement.models import NettingCycle

TARGETS = {"rate": 3000.0, "success_rate": 0.999, "batch_p99_ms": 200.0}


def system_activity(*, since: datetime, until: datetime) -> dict:
    """Netting cycles, rebalances and FX spikes between ``since`` and ``until``."""
    cycles = NettingCycle.objects.filter(started_at__gte=since, started_at__lte=until)
    by_status = dict(cycles.values("status").annotate(n=Count("id")).values_list("status", "n").order_by())
    totals = cycles.filter(status="settled").aggregate(
        gross=Sum("gross_usd"), net=Sum("net_usd"), payments=Sum("payment_count"), obligations=Sum("obligation_count")
    )
    gross, net = totals["gross"] or Decimal(0), totals["net"] or Decimal(0)
    rebalances = Rebalance.objects.filter(created_at__gte=since, created_at__lte=until)
    spikes = FxRateHistory.objects.filter(recorded_at__gte=since, recorded_at__lte=until, is_spike=True).order_by(
        "recorded_at"
    )
    return {
        "netting_cycles": {
            "count": sum(by_status.values()),
            "by_status": by_status,
            "payments_settled": totals["payments"] or 0,
            "obligations": totals["obligations"] or 0,
            "gross_usd": str(gross),
            "net_usd": str(net),
            "efficiency": round(float(1 - net / gross), 4) if gross else None,
            "cycles": [
                {
                    "id": c.pk,
                    "status": c.status,
                    "started_at": c.started_at.isoformat(),
                    "payments": c.payment_count,
                    "obligations": c.obligation_count,
                    "gross_usd": str(c.gross_usd),
                    "net_usd": str(c.net_usd),
                    "efficiency": float(c.efficiency),
                    "deferrals": len(c.deferrals or []),
                }
                for c in cycles.order_by("started_at")[:200]
            ],
        },
        "rebalances": {
            "count": rebalances.count(),
            "applied": rebalances.filter(status="applied").count(),
            "moves": sum(len(r.moves or []) for r in rebalances),
        },
        "fx_spikes": [
            {
                "pair": f"{s.base_currency_id}/{s.quote_currency_id}",
                "at": s.recorded_at.isoformat(),
                "size": float(s.spike_size or 0),
                "rate": str(s.rate),
            }
            for s in spikes[:200]
        ],
        "fx_ticks": FxRateHistory.objects.filter(
            recorded_at__gte=since, recorded_at__lte=until, source=FxRateHistory.Source.SIMULATION
        ).count(),
    }


def _sent_counts(plan: Plan, sent_keys: list[str]) -> dict[str, dict[str, int]]:
    dims = ("pattern", "type", "currency", "kind", "listed", "pressure")
    counts = {d: Counter() for d in dims}
    for key in sent_keys:
        meta = plan.meta.get(key)
        if meta is None:
            continue
        for dim, value in zip(dims, meta, strict=True):
            counts[dim][str(value).lower() if isinstance(value, bool) else value] += 1
    return {d: dict(sorted(c.items())) for d, c in counts.items()}


def build_report(
    *,
    plan: Plan,
    run: RunResult,
    reconciliation: Reconciliation | None,
    activity: dict,
    params: dict,
) -> dict:
    answers = run.answers
    sent = sum(a.payments for a in answers)
    recorded = sum(a.recorded for a in answers)
    refused = sum(len(a.refused_keys) for a in answers)
    # The steady part: after the ramp-up, until sending stopped.
    ramp, duration = params["ramp_s"], params["duration_s"]
    steady = [a for a in answers if ramp <= a.sent_at < duration]
    steady_seconds = max(1e-9, duration - ramp)
    latency = {}
    for kind in ("batch", "pacs008", "single"):
        values = [a.latency for a in answers if a.kind == kind]
        if values:
            latency[kind] = {
                **latency_summary(values),
                "payments": sum(a.payments for a in answers if a.kind == kind),
            }
    steady_rate = sum(a.payments for a in steady) / steady_seconds
    success_rate = recorded / sent if sent else 0.0
    batch_p99 = max((latency[k]["p99_ms"] for k in ("batch", "pacs008") if k in latency), default=0.0)
    statuses = Counter(str(a.status) for a in answers)
    report = {
        "params": params,
        "started_at": datetime.fromtimestamp(run.started_at).astimezone().isoformat(timespec="seconds"),
        "seconds": round(run.seconds, 2),
        "planned_payments": plan.payments,
        "planned_requests": len(plan.requests),
        "sent": {
            "payments": sent,
            "requests": len(answers),
            "recorded": recorded,
            "refused_at_intake": refused,
            "no_answer": sum(a.payments for a in answers if a.status == 0),
            "unsent_payments": run.unsent_payments,
            "http_statuses": dict(sorted(statuses.items())),
            "errors": run.errors,
        },
        "rate": {
            "target": params["rate"],
            "steady_payments_per_s": round(steady_rate, 1),
            "overall_payments_per_s": round(sent / max(1e-9, min(run.seconds, duration)), 1),
            "send_lag_p99_s": run.lag_p99_s,
        },
        "success_rate": round(success_rate, 6),
        "latency": latency,
        "counts": _sent_counts(plan, run.sent_keys),
        "counts_planned": {k: dict(sorted(v.items())) for k, v in plan.planned.items()},
        "intervals": run.intervals,
        "queue": run.queue_samples,
        "system": activity,
        "client": {
            "cpu_seconds": round(run.client_cpu_seconds, 2),
            "cpu_cores": round(run.client_cpu_seconds / max(1e-9, run.seconds), 3),
            "connections": params["connections"],
        },
        "machine": {"cpus": os.cpu_count(), "loadavg_after": [round(x, 2) for x in os.getloadavg()]},
        "reconciliation": reconciliation.as_dict() if reconciliation else None,
    }
    report["targets"] = {
        "rate": {"target": params["rate"], "value": report["rate"]["steady_payments_per_s"]},
        "success_rate": {"target": TARGETS["success_rate"], "value": report["success_rate"]},
        "batch_p99_ms": {"target": TARGETS["batch_p99_ms"], "value": batch_p99},
    }
    report["targets"]["rate"]["met"] = report["targets"]["rate"]["value"] >= 0.99 * params["rate"]
    report["targets"]["success_rate"]["met"] = success_rate >= TARGETS["success_rate"]
    report["targets"]["batch_p99_ms"]["met"] = 0 < batch_p99 <= TARGETS["batch_p99_ms"]
    if reconciliation is not None:
        report["targets"]["reconciliation"] = {"target": "clean", "value": reconciliation.ok, "met": reconciliation.ok}
        report["held_for_review"] = reconciliation.statuses.get("compliance_review", 0)
        report["clearing_window_violations"] = reconciliation.clearing_window_violations
        report["awaiting_liquidity"] = reconciliation.awaiting_liquidity
    return report


# --- HTML ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    x: str
    width: str
    y: float
    height: float
    title: str


def _ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def column_chart(values: list[tuple[str, float]], *, height: int = 150, reference: float | None = None) -> dict:
    """Columns for (label, value) pairs, an optional reference line (the target), as SVG geometry."""
    top = _ceiling(max([v for _, v in values] + [reference or 0.0], default=0.0))
    n = max(len(values), 1)
    columns = []
    for i, (label, value) in enumerate(values):
        h = height * min(max(value, 0.0) / top, 1.0)
        columns.append(
            Column(x=pct(i / n + 0.1 / n), width=pct(0.8 / n), y=round(height - h, 1), height=round(h, 1), title=label)
        )
    return {
        "columns": columns,
        "height": height,
        "top": f"{top:,.0f}",
        "reference_y": round(height - height * reference / top, 1) if reference else None,
        "reference": f"{reference:,.0f}" if reference else "",
    }


def share_rows(counts: dict[str, int]) -> list[dict]:
    total = sum(counts.values()) or 1
    largest = max(counts.values(), default=0) or 1
    return [
        {"label": k, "count": v, "share": f"{v / total:.1%}", "width": pct(v / largest)}
        for k, v in sorted(counts.items(), key=lambda kv: -kv[1])
    ]


def render_html(report: dict) -> str:
    intervals = report["intervals"]
    rate_chart = column_chart(
        [(f"t={r['t']:g} s: {r['rate']:,.0f} payments/s", r["rate"]) for r in intervals],
        reference=report["params"]["rate"],
    )
    p99 = [
        (
            f"t={r['t']:g} s: batch p99 {r['latency'].get('batch', {}).get('p99_ms', 0):g} ms",
            r["latency"].get("batch", {}).get("p99_ms", 0.0),
        )
        for r in intervals
    ]
    latency_chart = column_chart(p99, reference=TARGETS["batch_p99_ms"])
    queue_chart = column_chart(
        [(f"t={q['t']:g} s: {q['queue_depth']}", q["queue_depth"] or 0) for q in report["queue"]]
    )
    shares = [(dim, share_rows(report["counts"].get(dim, {}))) for dim in ("pattern", "type", "currency", "kind")]
    return render_to_string(
        "payments/stress_report.html",
        {
            "r": report,
            "rate_chart": rate_chart,
            "latency_chart": latency_chart,
            "queue_chart": queue_chart,
            "shares": shares,
            "cycles": report["system"]["netting_cycles"],
        },
    )
