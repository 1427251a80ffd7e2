"""One stress run end to end: the plan, the load, the report, the reconciliation (``manage.py stress``)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from compliance.demo import DEMO_ALIASES, DEMO_PEPS, DEMO_SANCTIONS
from deltran.clients import api_client_set
from deltran.models import ApiClient
from payments.scenario import BANKS, FX_BASE_RATES
from payments.stress.client import run_plan
from payments.stress.mix import Mix, StressBank, plan_build
from payments.stress.reconcile import ledger_snapshot, stress_reconcile
from payments.stress.report import build_report, render_html, system_activity

REGIONAL_PAIRS = (("ENBXAEADXXX", "LUMIILITXXX"), ("HABBPKKKXXX", "SBININBBXXX"))
CROSS_REGIONAL_PAIRS = (("ENBXAEADXXX", "SBININBBXXX"), ("LUMIILITXXX", "HABBPKKKXXX"))
STRESS_CLIENT_RATE = 100_000_000  # requests per minute: the load must not be throttled


@dataclass
class StressOptions:
    url: str = "http://127.0.0.1:8000"
    rate: float = 3000.0
    duration: float = 300.0
    ramp: float = 30.0
    interval: float = 5.0
    connections: int = 4
    batch_size: int = 50
    single_share: float = 0.02
    pacs008_share: float = 0.5
    listed_share: float = 0.001
    pressure_every: int = 20_000
    seed: int = 1
    username: str = "operator"
    password: str = "deltran-operator"
    grace: float = 60.0
    timeout: float = 60.0
    reconcile: bool = True
    # Ask the server for its queue depth each interval (a second connection; off where the server cannot take
    # two requests at once, e.g. a test server on an in-memory SQLite database).
    poll_queue: bool = True
    # Send every request due within the duration even when the server is behind (short runs that must be whole).
    drain: bool = False
    out_dir: Path | None = None


def scenario_mix(options: StressOptions) -> Mix:
    """The seed's four banks and base rates, the demo lists' names, the run's shares."""
    usd_rates = {"USD": Decimal(1)}
    usd_rates.update({quote: rate for base, quote, rate, _ in FX_BASE_RATES if base == "USD"})
    listed = tuple(
        [name for _, name, _, _, _ in DEMO_SANCTIONS]
        + [name for _, _, _, name in DEMO_ALIASES]
        + [name for _, name, _, _, _ in DEMO_PEPS]
    )
    return Mix(
        banks=tuple(
            StressBank(
                bic=b["bic"], primary_currency=b["primary_currency"], daily_limit_usd=b["daily_liquidity_limit_usd"]
            )
            for b in BANKS
        ),
        usd_rates=usd_rates,
        regional_pairs=REGIONAL_PAIRS,
        cross_regional_pairs=CROSS_REGIONAL_PAIRS,
        listed_names=listed,
        listed_share=options.listed_share,
        single_share=options.single_share,
        pacs008_share=options.pacs008_share,
        batch_size=options.batch_size,
        pressure_every=options.pressure_every,
    )


def stress_client_ensure(*, username: str) -> ApiClient:
    """The login's API client, with a limit the load never reaches (created as ``stress`` when it has none)."""
    existing = ApiClient.objects.filter(user__username=username).first()
    return api_client_set(
        name=existing.name if existing else "stress",
        username=username,
        rate_limit_per_minute=STRESS_CLIENT_RATE,
        allowed_networks=existing.allowed_networks if existing else "",
        bank_bic=existing.bank_bic if existing else "",
    )


def progress_line(row: dict) -> str:
    lat = " ".join(
        f"{kind} p50/p95/p99 {x['p50_ms']:g}/{x['p95_ms']:g}/{x['p99_ms']:g} ms" for kind, x in row["latency"].items()
    )
    success = "-" if row["success_rate"] is None else f"{row['success_rate']:.2%}"
    return (
        f"t={row['t']:>6.1f}s  {row['rate']:>7,.0f} payments/s  success {success}  queue {row['queue_depth']}"
        f" (awaiting liquidity {row['awaiting_liquidity']})  {lat}"
    )


def stress_run(*, options: StressOptions, log: Callable[[str], None] = print) -> dict:
    """Plan, send, report, reconcile; write the JSON and HTML report; return the report."""
    run_id = uuid.uuid4().hex[:8]
    mix = scenario_mix(options)
    log(f"building the plan: {options.rate:g} payments/s for {options.duration:g} s (ramp-up {options.ramp:g} s)")
    started = time.perf_counter()
    plan = plan_build(
        mix, run=run_id, rate=options.rate, duration=options.duration, ramp=options.ramp, seed=options.seed
    )
    log(
        f"  {plan.payments:,} payments in {len(plan.requests):,} requests, "
        f"built in {time.perf_counter() - started:.1f} s"
    )
    stress_client_ensure(username=options.username)
    since = timezone.now() - timedelta(seconds=1)
    ledger_before = ledger_snapshot() if options.reconcile else {}
    log(f"sending to {options.url} from {options.connections} connections")
    result = run_plan(
        plan,
        url=options.url,
        username=options.username,
        password=options.password,
        duration=options.duration,
        connections=options.connections,
        interval=options.interval,
        grace=options.grace,
        timeout=options.timeout,
        poll_queue=options.poll_queue,
        drain=options.drain,
        on_interval=lambda row: log(progress_line(row)),
    )
    until = timezone.now()
    reconciliation = None
    if options.reconcile:
        log("reconciling")
        refused = {key for answer in result.answers for key in answer.refused_keys}
        reconciliation = stress_reconcile(
            sent_keys=result.sent_keys, refused_keys=refused, since=since, ledger_before=ledger_before
        )
    params = {
        "url": options.url,
        "run": run_id,
        "banks": len(mix.banks),
        "rate": options.rate,
        "duration_s": options.duration,
        "ramp_s": min(options.ramp, options.duration),
        "interval_s": options.interval,
        "connections": options.connections,
        "batch_size": options.batch_size,
        "single_share": options.single_share,
        "pacs008_share": options.pacs008_share,
        "listed_share": options.listed_share,
        "pressure_every": options.pressure_every,
        "seed": options.seed,
    }
    report = build_report(
        plan=plan,
        run=result,
        reconciliation=reconciliation,
        activity=system_activity(since=since, until=until),
        params=params,
    )
    out_dir = options.out_dir or Path(settings.VAR_DIR) / "stress"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    json_path, html_path = out_dir / f"stress-{stamp}-{run_id}.json", out_dir / f"stress-{stamp}-{run_id}.html"
    json_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    html_path.write_text(render_html(report))
    report["files"] = {"json": str(json_path), "html": str(html_path)}
    return report


def summary_lines(report: dict) -> list[str]:
    lines = [
        f"sent {report['sent']['payments']:,} payments in {report['sent']['requests']:,} requests "
        f"({report['sent']['unsent_payments']:,} planned but not sent); "
        f"steady rate {report['rate']['steady_payments_per_s']:,.1f}/s (target {report['rate']['target']:g}); "
        f"success rate {report['success_rate']:.4%}",
    ]
    for kind, x in report["latency"].items():
        lines.append(
            f"  {kind:<8} {x['requests']:>7,} requests {x['payments']:>9,} payments  "
            f"p50 {x['p50_ms']:g} p95 {x['p95_ms']:g} p99 {x['p99_ms']:g} max {x['max_ms']:g} ms"
        )
    lines.append(f"client CPU {report['client']['cpu_seconds']} s = {report['client']['cpu_cores']} cores")
    c = report["reconciliation"]
    if c is not None:
        lines.append(
            f"reconciliation {'clean' if c['ok'] else 'FAILED'}: {c['recorded']:,} records for {c['sent']:,} sent "
            f"({c['refused_at_intake']} refused at intake), missing {c['counts_missing']}, duplicated "
            f"{c['counts_duplicated']}, not at rest {c['unsettled_status']}, ledger {len(c['ledger_mismatches'])}, "
            f"cycles {len(c['unbalanced_cycles'])}, positions {len(c['position_mismatches'])} mismatches, "
            f"orphans {c.get('orphans') or 0}, audit "
            f"{'verifies' if c['audit_ok'] else 'BROKEN ' + c['audit_problem']}"
        )
    for name, t in report["targets"].items():
        lines.append(f"  target {name}: {t['value']} vs {t['target']}: {'met' if t['met'] else 'MISSED'}")
    lines.append(f"report: {report['files']['json']}  {report['files']['html']}")
    return lines
