"""Benchmark of the pure netting engine (settlement/engines/netting.py): seconds and peak memory per netting.

    .venv/bin/python bench/netting_engine.py [--sizes 100000 1000000] [--repeat 3] [--seed 1] [--json-out F]

For each size, draws that many random obligations among the seed's four banks and the liquidity pool (POOL)
in eight currencies (amounts 0.01 to 10,000,000.00, two minor units), then nets them:

* ``net_rows`` on tuples ``(id, payer, payee, currency, amount)``, as the database layer streams them;
* ``net`` on ``Obligation`` objects.

Time is the best of ``--repeat`` runs (wall clock, garbage collector on, as in production). Memory is measured
in a separate run under tracemalloc (which slows Python down, so it is not timed): the peak of what the engine
allocates beyond its input, and, for scale, what the input itself takes (the objects are built from the
rows and share their strings and Decimals, so their figure is the objects alone). Both results are checked to be equal
and their positions to sum to zero. Not a test: it reports; the target (a few seconds for a million) is printed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sys
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from settlement.engines.netting import Obligation, net, net_rows  # noqa: E402

PARTICIPANTS = ("ENBXAEADXXX", "LUMIILITXXX", "HABBPKKKXXX", "SBININBBXXX", "POOL")
CURRENCIES = ("USD", "EUR", "GBP", "AED", "ILS", "PKR", "INR", "SAR")
TARGET_SECONDS_1M = 3.0


def random_rows(count: int, seed: int) -> list[tuple[str, str, str, str, Decimal]]:
    rng = random.Random(seed)
    pairs = [(a, b) for a in PARTICIPANTS for b in PARTICIPANTS if a != b]
    rows = []
    for n in range(count):
        payer, payee = rng.choice(pairs)
        amount = Decimal(rng.randint(1, 1_000_000_000)).scaleb(-2)
        rows.append((f"{n:08d}", payer, payee, rng.choice(CURRENCIES), amount))
    return rows


def best_time(function, argument, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        result = function(argument)
        best = min(best, time.perf_counter() - started)
    return best, result


def peak_memory(function, argument) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        result = function(argument)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak


def input_memory(build) -> tuple[int, object]:
    gc.collect()
    tracemalloc.start()
    try:
        built = build()
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return current, built


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    mib = 1024 * 1024
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {len(PARTICIPANTS)} participants, "
        f"{len(CURRENCIES)} currencies; best of {args.repeat}; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(
        f"{'obligations':>12} {'net_rows s':>11} {'net s':>8} {'s per 1M':>9} "
        f"{'peak MiB (rows / objects)':>26} {'input MiB (rows / objects)':>27}"
    )
    results = []
    for size in args.sizes:
        rows_bytes, rows = input_memory(lambda size=size: random_rows(size, args.seed))
        objects_bytes, objects = input_memory(lambda rows=rows: [Obligation(*row) for row in rows])
        rows_s, by_rows = best_time(net_rows, rows, args.repeat)
        objects_s, by_objects = best_time(net, objects, args.repeat)
        if by_rows != by_objects:
            raise SystemExit("net_rows and net disagree")
        if any(sum(r.positions.values(), Decimal(0)) != 0 for r in by_rows.values()):
            raise SystemExit("positions do not sum to zero")
        rows_peak = peak_memory(net_rows, rows)
        objects_peak = peak_memory(net, objects)
        result = {
            "obligations": size,
            "net_rows_s": rows_s,
            "net_s": objects_s,
            "net_rows_peak_bytes": rows_peak,
            "net_peak_bytes": objects_peak,
            "input_rows_bytes": rows_bytes,
            "input_objects_bytes": objects_bytes,
            "currencies": len(by_rows),
            "efficiency": {code: str(r.efficiency) for code, r in by_rows.items()},
        }
        results.append(result)
        print(
            f"{size:>12,} {rows_s:>11.3f} {objects_s:>8.3f} {max(rows_s, objects_s) * 1e6 / size:>9.3f} "
            f"{f'{rows_peak / mib:.1f} / {objects_peak / mib:.1f}':>26} "
            f"{f'{rows_bytes / mib:.1f} / {objects_bytes / mib:.1f}':>27}"
        )
        del rows, objects, by_rows, by_objects
    million = [r for r in results if r["obligations"] == 1_000_000]
    if million:
        worst = max(million[0]["net_rows_s"], million[0]["net_s"])
        verdict = "met" if worst <= TARGET_SECONDS_1M else "MISSED"
        print(f"target: 1,000,000 obligations in <= {TARGET_SECONDS_1M:g} s: {verdict} ({worst:.3f} s)")
    if args.json_out:
        args.json_out.write_text(
            json.dumps(
                {
                    "benchmark": "netting_engine",
                    "python": platform.python_version(),
                    "participants": len(PARTICIPANTS),
                    "currency_count": len(CURRENCIES),
                    "repeat": args.repeat,
                    "load_average": os.getloadavg()[0],
                    "results": results,
                    "target_seconds_1m": TARGET_SECONDS_1M,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
