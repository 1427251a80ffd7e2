"""Run every benchmark in bench/ and print one table: figure, value, target. `make bench` calls this.

    .venv/bin/python bench/run_all.py [--strict] [-- extra args passed to each benchmark]

Each benchmark is a standalone script that writes its result as JSON (--json-out); this
runner reads the JSON and turns it into rows. Benchmarks are not tests: a figure below
its target is marked, and the exit status is non-zero only when a benchmark failed to
run or saw errors, or with --strict when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    target: str
    ok: bool | None = None  # None: no target, just reported


def initiate_http_rows(r: dict) -> list[Row]:
    rows = []
    for kind, label in (("trivial", "GET /api/v1/auth/me"), ("initiate", "POST /api/v1/payments/initiate")):
        x = r[kind]
        rows += [
            Row(f"{label}: requests/s", f"{x['rps']:.1f}", ""),
            Row(f"{label}: p50 latency", f"{x['p50_ms']:.2f} ms", ""),
            Row(f"{label}: p99 latency", f"{x['p99_ms']:.2f} ms", ""),
            Row(
                f"{label}: non-2xx / socket errors",
                f"{x['non_2xx']} / {sum(x['socket_errors'].values())}",
                "0 / 0",
                x["non_2xx"] == 0 and not any(x["socket_errors"].values()),
            ),
        ]
    rows.append(Row("initiate / trivial requests/s", f"{r['ratio']:.3f}", f">= {r['target_ratio']}", r["meets_target"]))
    return rows


def screening_rows(r: dict) -> list[Row]:
    return [
        Row("names indexed", f"{r['names']:,}", ""),
        Row(
            "index build", f"{r['build_s']:.2f} s", f"<= {r['target_build_s']:g} s", r["build_s"] <= r["target_build_s"]
        ),
        Row("index memory", f"{r['index_mib']:.1f} MiB", ""),
        Row("p50 per name (best of rounds)", f"{r['best_p50_ms']:.3f} ms", ""),
        Row(
            "p99 per name (best of rounds)",
            f"{r['best_p99_ms']:.3f} ms",
            f"<= {r['target_p99_ms']:g} ms",
            r["best_p99_ms"] <= r["target_p99_ms"],
        ),
        Row("names/s, one core", f"{r['names_per_s']:,.0f}", ""),
    ]


def netting_rows(r: dict) -> list[Row]:
    rows = []
    for x in r["results"]:
        worst = max(x["net_rows_s"], x["net_s"])
        target = r["target_seconds_1m"] if x["obligations"] == 1_000_000 else None
        rows.append(
            Row(
                f"net {x['obligations']:,} obligations (pure engine)",
                f"{worst:.3f} s",
                f"<= {target:g} s" if target else "",
                (worst <= target) if target else None,
            )
        )
    return rows


def settlement_db_rows(r: dict) -> list[Row]:
    rows = []
    for x in r["results"]:
        million = x["obligations"] == 1_000_000
        label = f"netting cycle, {x['obligations']:,} obligations / {x['payments']:,} payments (PostgreSQL)"
        rows.append(
            Row(
                f"{label}: wall time",
                f"{x['seconds']:.2f} s",
                f"<= {r['target_seconds_1m']:g} s" if million else "",
                (x["seconds"] <= r["target_seconds_1m"]) if million else None,
            )
        )
        rows.append(
            Row(
                f"{label}: peak RSS",
                f"{x['maxrss_mb']:.0f} MB",
                f"<= {r['target_mb_1m']:g} MB" if million else "",
                (x["maxrss_mb"] <= r["target_mb_1m"]) if million else None,
            )
        )
        if x.get("tracemalloc_peak_mb") is not None:
            rows.append(Row(f"{label}: tracemalloc peak", f"{x['tracemalloc_peak_mb']:.1f} MiB", ""))
    return rows


def intake_batch_rows(r: dict) -> list[Row]:
    rows = []
    raw = r["raw"]["rows_per_s"]
    for kind, label in (("pacs008", "pacs.008 messages"), ("json_batch", "JSON batches")):
        x = r["results"].get(kind)
        if x is None:
            continue
        rows.append(
            Row(
                f"{label} of {r['size']:,}: payments/s",
                f"{x['payments_per_s']:,.0f}",
                f">= {r['target_rate']:,.0f}",
                x["payments_per_s"] >= r["target_rate"],
            )
        )
        rows.append(
            Row(
                f"{label} of {r['size']:,}: share of the raw batched-INSERT rate of its rows",
                f"{r['ratios'][kind]:.3f}",
                f">= {r['target_ratio']}",
                r["ratios"][kind] >= r["target_ratio"],
            )
        )
        if "ratios_copy" in r:
            rows.append(
                Row(
                    f"{label} of {r['size']:,}: share of the raw COPY rate of its rows",
                    f"{r['ratios_copy'][kind]:.3f}",
                    "",
                )
            )
    rows.append(Row(f"raw COPY of payment rows, {r['size']:,} a transaction: rows/s", f"{raw:,.0f}", ""))
    return rows


def raw_db_rows(r: dict) -> list[Row]:
    return [
        Row("single-row INSERT + COMMIT: rows/s", f"{r['insert_single_rows_per_s']:,.0f}", ""),
        Row("multi-row INSERT, 1,000 a transaction: rows/s", f"{r['insert_batch_rows_per_s']:,.0f}", ""),
        Row("SELECT 1: statements/s", f"{r['select_trivial_per_s']:,.0f}", ""),
    ]


def stress_rows(r: dict) -> list[Row]:
    return [
        Row(
            "4-bank mix, steady payments/s",
            f"{r['steady_payments_per_s']:,.1f}",
            f">= {r['target_rate']:,.0f}",
            r["steady_payments_per_s"] >= r["target_rate"],
        ),
        Row(
            "success rate",
            f"{r['success_rate']:.4%}",
            f">= {r['target_success_rate']:.1%}",
            r["success_rate"] >= r["target_success_rate"],
        ),
        Row(
            "micro-batch p99 (JSON batch, pacs.008)",
            f"{r['batch_p99_ms']:,.1f} ms",
            f"<= {r['target_batch_p99_ms']:g} ms",
            0 < r["batch_p99_ms"] <= r["target_batch_p99_ms"],
        ),
        Row("reconciliation", "clean" if r["reconciliation_ok"] else "FAILED", "clean", r["reconciliation_ok"]),
    ]


def metrics_realtime_rows(r: dict) -> list[Row]:
    rows = []
    labels = {
        "quiet": "nothing new",
        "writes_requests_roll_up": f"{r['rate']:g} payments/s, requests roll up",
        "writes_with_rollup_task": f"{r['rate']:g} payments/s, rollup task every 1 s",
    }
    for phase, label in labels.items():
        x = r[phase]
        rows.append(
            Row(
                f"GET /api/v1/metrics/realtime, {r['payments']:,} payments, {label}: p95",
                f"{x['p95_ms']:.1f} ms",
                f"<= {r['target_p95_ms']:g} ms",
                x["p95_ms"] <= r["target_p95_ms"],
            )
        )
        rows.append(Row("  same: p50 / p99", f"{x['p50_ms']:.1f} / {x['p99_ms']:.1f} ms", ""))
    if r.get("trivial_auth_me"):
        x = r["trivial_auth_me"]
        rows.append(
            Row(
                "  GET /api/v1/auth/me, same client, same time: p50 / p95",
                f"{x['p50_ms']:.1f} / {x['p95_ms']:.1f} ms",
                "",
            )
        )
    if r.get("inprocess"):
        x = r["inprocess"]
        rows.append(
            Row("  the view's work in-process: CPU p50 / p95", f"{x['cpu_p50_ms']:.1f} / {x['cpu_p95_ms']:.1f} ms", "")
        )
    if r.get("prepare"):
        rows.append(Row("first rollup of the timeline: rows/s", f"{r['prepare']['rollup_rows_per_s']:,}", ""))
    return rows


def ws_latency_rows(r: dict) -> list[Row]:
    return [
        Row(
            f"commit -> WebSocket client at {r['rate_target']:g} payments/s: p99",
            f"{r['p99_s'] * 1000:.0f} ms" if r["p99_s"] is not None else "none received",
            f"<= {r['target_p99_s'] * 1000:g} ms",
            r["meets_target"],
        ),
        Row(
            "  same: p50 / p95 / max",
            f"{r['p50_s'] * 1000:.0f} / {r['p95_s'] * 1000:.0f} / {r['max_s'] * 1000:.0f} ms",
            "",
        ),
        Row(
            "  events lost / received twice",
            f"{r['lost']} / {r['duplicates']}",
            "0 / 0",
            not r["lost"] and not r["duplicates"],
        ),
        Row(
            "  rate achieved; messages per client per s",
            f"{r['rate_achieved']:g}/s; {r['messages_per_client_per_s']:g}",
            "",
        ),
    ]


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    rows: Callable[[dict], list[Row]]
    context: Callable[[dict], str]


BENCHMARKS = [
    Benchmark(
        name="raw_db",
        script="raw_db.py",
        rows=raw_db_rows,
        context=lambda r: f"{r['postgresql']}, synchronous_commit={r['synchronous_commit']}, one connection",
    ),
    Benchmark(
        name="initiate_http",
        script="initiate_http.py",
        rows=initiate_http_rows,
        context=lambda r: (
            f"{r['client']}, {r['connections']} connections, {r['duration_s']:g} s each, "
            f"gunicorn {r['workers']} sync workers, PostgreSQL, {r['machine']['cpus']} CPUs"
        ),
    ),
    Benchmark(
        name="screening",
        script="screening.py",
        rows=screening_rows,
        context=lambda r: f"{r['names']:,} names of the real lists, {r['queries']:,} queries",
    ),
    Benchmark(
        name="netting_engine",
        script="netting_engine.py",
        rows=netting_rows,
        context=lambda r: f"{r['participants']} participants, {r['currency_count']} currencies, Python {r['python']}",
    ),
    Benchmark(
        name="settlement_db",
        script="settlement_db.py",
        rows=settlement_db_rows,
        context=lambda r: (
            f"{r['participants']} participants, {r['currency_count']} currencies, "
            f"{r['obligations_per_payment']} obligations per payment, PostgreSQL, Python {r['python']}"
        ),
    ),
    Benchmark(
        name="intake_batch",
        script="intake_batch.py",
        rows=intake_batch_rows,
        context=lambda r: (
            f"{r['messages']} messages of {r['size']:,} per kind, {r['connections']} connections, gunicorn "
            f"{r['workers']} sync workers, PostgreSQL, {r['machine']['cpus']} CPUs, load before "
            f"{r['machine']['loadavg_before'][0]:g}"
        ),
    ),
    Benchmark(
        name="stress",
        script="stress.py",
        rows=stress_rows,
        context=lambda r: (
            f"target {r['rate']:,.0f} payments/s for {r['duration_s']:g} s, gunicorn {r['workers']} sync workers"
            f"{' + Celery worker and beat' if r['celery'] else ''}, PostgreSQL + Redis, {r['machine']['cpus']} CPUs, "
            f"load before {r['machine']['loadavg_before'][0]:g}; CPU cores used {r['cpu_cores_used']}"
        ),
    ),
    Benchmark(
        name="metrics_realtime",
        script="metrics_realtime.py",
        rows=metrics_realtime_rows,
        context=lambda r: (
            f"gunicorn 2 sync workers, one keep-alive client, {r['quiet']['requests']} requests per phase, "
            f"PostgreSQL, {r['machine']['cpus']} CPUs, load before {r['machine']['load_before'][0]:g}"
        ),
    ),
    Benchmark(
        name="ws_latency",
        script="ws_latency.py",
        rows=ws_latency_rows,
        context=lambda r: (
            f"{r['mode']}, one Daphne process, {r['clients']} clients, {r['writers']} writer processes, "
            f"{r['seconds']:g} s, {r['machine']['cpus']} CPUs, load before {r['machine']['load_before'][0]:g}"
        ),
    ),
]


def main() -> int:
    parser = argparse.ArgumentParser(description="Run every DelTran benchmark and print one table.")
    parser.add_argument("--strict", action="store_true", help="exit non-zero when a figure misses its target")
    parser.add_argument("--only", help="run only the benchmark of this name")
    parser.add_argument("extra", nargs="*", help="arguments passed to each benchmark (after --)")
    args = parser.parse_args()

    table: list[tuple[str, Row]] = []
    contexts: list[str] = []
    failed: list[str] = []
    for bench in BENCHMARKS:
        if args.only and bench.name != args.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "result.json"
            cmd = [sys.executable, str(BENCH_DIR / bench.script), "--json-out", str(out), *args.extra]
            print(f"== {bench.name}: {' '.join(cmd[1:])}", flush=True)
            proc = subprocess.run(cmd, cwd=BENCH_DIR.parent)
            if not out.exists():
                failed.append(f"{bench.name}: did not produce a result (exit {proc.returncode})")
                continue
            result = json.loads(out.read_text())
        if proc.returncode != 0:
            failed.append(f"{bench.name}: exit {proc.returncode}; " + "; ".join(result.get("problems", [])))
        contexts.append(f"{bench.name}: {bench.context(result)}")
        table += [(bench.name, row) for row in bench.rows(result)]

    if table:
        w_fig = max(len(f"{b}: {r.figure}") for b, r in table)
        w_val = max(len(r.value) for _, r in table)
        w_tgt = max(max(len(r.target) for _, r in table), len("target"))
        print()
        print(f"{'figure':<{w_fig}}  {'value':>{w_val}}  {'target':<{w_tgt}}  ")
        print(f"{'-' * w_fig}  {'-' * w_val}  {'-' * w_tgt}  ----")
        for b, r in table:
            mark = "" if r.ok is None else ("ok" if r.ok else "MISS")
            print(f"{b + ': ' + r.figure:<{w_fig}}  {r.value:>{w_val}}  {r.target:<{w_tgt}}  {mark}")
        print()
        for line in contexts:
            print(line)
    for line in failed:
        print("FAILED:", line)
    raw = [f"{r.figure} {r.value}" for b, r in table if b == "raw_db"]
    if raw:
        print("raw database rates of this machine (beside every figure above):", "; ".join(raw))
    missed = [r for _, r in table if r.ok is False]
    if failed:
        return 2
    if args.strict and missed:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
