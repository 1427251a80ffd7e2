"""Benchmark of a netting cycle on PostgreSQL: claim, net, post, settle and payments update, end to end.

    .venv/bin/python bench/settlement_db.py [--sizes 100000 1000000] [--obligations-per-payment 100]
        [--database-url postgres://postgres@127.0.0.1:5432/deltran_settle_bench] [--repeat 3] [--tracemalloc]
        [--json-out F]

For each size, in fresh processes:

1. prepare: drop and create the database, ``migrate``, ``load_scenario``; give each of the four banks a settlement
   account in the eight currencies (USD EUR GBP AED ILS PKR INR SAR) and the pool a balance in each, all at
   10^15 so nothing is deferred; create the payments (QUEUED, ``bulk_create``) and insert the obligations with
   ``COPY`` (random payer/payee among the four banks and POOL, random currency, amounts 0.01 to 10,000,000.00), all
   pending and due; ``ANALYZE``.
2. run: a new process calls ``netting_cycle_run(trigger="command")`` once (``NETTING_CYCLE_MAX_OBLIGATIONS`` set to
   the size, so one cycle takes everything) and reports its wall time and the process's peak resident memory
   (``getrusage`` maxrss, which includes Django and the interpreter: the figure before the cycle is reported too),
   the CPU time of the process and of its PostgreSQL backend during the cycle (the backend's from /proc: less
   sensitive than the wall time to other load on a shared machine) and the load average before and after.
   ``--repeat N`` prepares and runs each size N times and reports the best and the median.
   With ``--tracemalloc`` the size is prepared again and run under tracemalloc (slower, not timed) for the peak of
   Python allocations.

Payments: ``Obligation.payment`` is a required foreign key, and what the payments receiver does is per payment
(two timeline rows and one event each), so the number of payments drives that part of the cost. The default gives
each payment 100 obligations (10,000 payments for a million obligations): the bench measures the settlement core
at a million obligations; ``--obligations-per-payment 1`` (or 2) measures the payment side at realistic ratios.
Not a test: it reports figures and targets (10 s and 500 MB for a million).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BANKS = ("ENBXAEADXXX", "LUMIILITXXX", "HABBPKKKXXX", "SBININBBXXX")
PARTICIPANTS = (*BANKS, "POOL")
CURRENCIES = ("USD", "EUR", "GBP", "AED", "ILS", "PKR", "INR", "SAR")
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/deltran_settle_bench"
TARGET_SECONDS_1M = 10.0
TARGET_MB_1M = 500.0
BIG = Decimal(10) ** 15
COPY_CHUNK = 100_000


def _django(database_url: str, max_obligations: int | None = None) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deltran.settings")
    if max_obligations:
        os.environ["NETTING_CYCLE_MAX_OBLIGATIONS"] = str(max_obligations)
    import django

    django.setup()


def _recreate_database(database_url: str) -> None:
    import psycopg2

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    admin = psycopg2.connect(
        host=url.hostname,
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname="postgres",
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def prepare(database_url: str, size: int, per_payment: int, seed: int) -> dict:
    _recreate_database(database_url)
    _django(database_url)
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from liquidity.models import LiquidityPool, PoolBalance
    from payments.choices import PaymentStatus
    from payments.models import Payment
    from settlement.models import Bank, SettlementAccount

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("load_scenario", "--no-users", verbosity=0)
    now = timezone.now()
    due = now - timezone.timedelta(minutes=1)
    banks = {bank.bic: bank for bank in Bank.objects.all()}
    pool = LiquidityPool.objects.order_by("pk").first()
    with transaction.atomic():
        for bic, bank in banks.items():
            for currency in CURRENCIES:
                SettlementAccount.objects.update_or_create(
                    bank=bank,
                    currency_id=currency,
                    defaults={"account_number": f"DLT{bic[:8]}{currency}", "balance": BIG},
                )
        for currency in CURRENCIES:
            PoolBalance.objects.update_or_create(
                pool=pool,
                currency_id=currency,
                defaults={"available": BIG, "minimum": 0, "target": BIG, "maximum": BIG * 2},
            )
    accounts = {(a.bank.bic, a.currency_id): a.pk for a in SettlementAccount.objects.select_related("bank")}

    rng = random.Random(seed)
    payment_count = max(1, -(-size // per_payment))
    payments = []
    bics = list(banks)
    for n in range(payment_count):
        sender, receiver = rng.sample(bics, 2)
        currency = rng.choice(CURRENCIES)
        payments.append(
            Payment(
                id=uuid.uuid4(),
                payment_reference=f"BENCH{n:010d}",
                sender_bank=banks[sender],
                receiver_bank=banks[receiver],
                sender_account_id=accounts[(sender, currency)],
                receiver_account_id=accounts[(receiver, currency)],
                sender_bic=sender,
                receiver_bic=receiver,
                amount=Decimal("100.00"),
                currency_id=currency,
                settlement_currency_id=currency,
                settlement_amount=Decimal("100.00"),
                amount_usd=Decimal("100.00"),
                scheduled_for=due,
                debtor_name="Bench Debtor",
                creditor_name="Bench Creditor",
                status=PaymentStatus.QUEUED,
                created_at=now,
                updated_at=now,
            )
        )
    Payment.objects.bulk_create(payments, batch_size=2000)
    payment_ids = [str(p.id) for p in payments]
    del payments

    pairs = [(a, b) for a in PARTICIPANTS for b in PARTICIPANTS if a != b]
    null = "\\N"
    bank_ids = {bic: str(bank.pk) for bic, bank in banks.items()}
    columns = (
        "payment_id, leg, payer_code, payee_code, payer_bank_id, payee_bank_id, currency_id, amount, amount_usd, "
        "business_date, due_at, status, cycle_id, created_at"
    )
    stamp, due_stamp, day = now.isoformat(), due.isoformat(), now.date().isoformat()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        written = 0
        while written < size:
            buffer = io.StringIO()
            for n in range(written, min(size, written + COPY_CHUNK)):
                payer, payee = rng.choice(pairs)
                leg = "to_pool" if payee == "POOL" else "from_pool" if payer == "POOL" else "direct"
                cents = rng.randint(1, 1_000_000_000)
                amount = f"{cents // 100}.{cents % 100:02d}"
                buffer.write(
                    f"{payment_ids[n // per_payment]}\t{leg}\t{payer}\t{payee}\t{bank_ids.get(payer, null)}\t"
                    f"{bank_ids.get(payee, null)}\t{rng.choice(CURRENCIES)}\t{amount}\t{amount}\t{day}\t"
                    f"{due_stamp}\tpending\t\\N\t{stamp}\n"
                )
            buffer.seek(0)
            raw.copy_expert(f"COPY settlement_obligation ({columns}) FROM STDIN", buffer)
            written = min(size, written + COPY_CHUNK)
        cursor.execute("ANALYZE")
    return {"prepare_s": time.perf_counter() - started, "payments": payment_count}


def _maxrss_mb() -> float:
    # Linux reports kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _backend_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) of a PostgreSQL backend on this machine, from /proc; None if unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(database_url: str, size: int, with_tracemalloc: bool) -> dict:
    _django(database_url, max_obligations=size)
    import gc
    import tracemalloc

    from django.db import connection

    from settlement.models import NettingCycle, Obligation
    from settlement.services import netting_cycle_run

    connection.ensure_connection()
    # Warm the imports and caches the cycle uses, so the figure is the cycle's.
    Obligation.objects.filter(pk=0).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    gc.collect()
    rss_before = _maxrss_mb()
    if with_tracemalloc:
        tracemalloc.start()
    load_before = os.getloadavg()
    backend_cpu, self_cpu = _backend_cpu_s(backend), _self_cpu_s()
    started = time.perf_counter()
    cycle = netting_cycle_run(trigger="command")
    elapsed = time.perf_counter() - started
    self_cpu = _self_cpu_s() - self_cpu
    backend_after = _backend_cpu_s(backend)
    backend_cpu = backend_after - backend_cpu if backend_cpu is not None and backend_after is not None else None
    load_after = os.getloadavg()
    peak_traced = None
    if with_tracemalloc:
        peak_traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    rss_after = _maxrss_mb()
    cycle = NettingCycle.objects.get(pk=cycle.pk)
    return {
        "obligations": size,
        "status": cycle.status,
        "failure_reason": cycle.failure_reason,
        "obligation_count": cycle.obligation_count,
        "payment_count": cycle.payment_count,
        "deferrals": len(cycle.deferrals),
        "seconds": elapsed,
        "python_cpu_s": self_cpu,
        "postgres_cpu_s": backend_cpu,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "maxrss_before_mb": rss_before,
        "maxrss_mb": rss_after,
        "tracemalloc_peak_mb": peak_traced,
    }


def _child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    return json.loads(out.splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--obligations-per-payment", type=int, default=100)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="prepare and run each size this many times")
    parser.add_argument("--tracemalloc", action="store_true", help="also run each size under tracemalloc")
    parser.add_argument("--json-out")
    parser.add_argument("--child", choices=["prepare", "run"], help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "prepare":
        print(json.dumps(prepare(args.database_url, args.sizes[0], args.obligations_per_payment, args.seed)))
        return 0
    if args.child == "run":
        print(json.dumps(run(args.database_url, args.sizes[0], args.traced)))
        return 0

    common = ["--database-url", args.database_url, "--obligations-per-payment", str(args.obligations_per_payment)]
    common += ["--seed", str(args.seed)]
    results, problems = [], []
    for size in args.sizes:
        runs = []
        for _ in range(args.repeat):
            prepared = _child("--child", "prepare", "--sizes", str(size), *common)
            result = {**_child("--child", "run", "--sizes", str(size), *common), **prepared}
            if result["status"] != "settled" or result["obligation_count"] != size:
                problems.append(f"{size:,}: cycle {result['status']} with {result['obligation_count']:,} obligations")
            runs.append(result)
            print(
                f"{size:>9,} obligations, {result['payments']:,} payments: {result['seconds']:.2f} s, "
                f"maxrss {result['maxrss_mb']:.0f} MB (before the cycle {result['maxrss_before_mb']:.0f} MB)"
                f"; {result['status']}"
                f"; CPU: Python {result['python_cpu_s']:.2f} s, PostgreSQL backend "
                + (f"{result['postgres_cpu_s']:.2f} s" if result["postgres_cpu_s"] is not None else "n/a")
                + f"; load average {result['loadavg_before'][0]:.2f} → {result['loadavg_after'][0]:.2f}",
                flush=True,
            )
        seconds = sorted(r["seconds"] for r in runs)
        result = {
            **min(runs, key=lambda r: r["seconds"]),
            "runs": runs,
            "best_seconds": seconds[0],
            "median_seconds": statistics.median(seconds),
            "maxrss_mb": max(r["maxrss_mb"] for r in runs),
        }
        if args.tracemalloc:
            _child("--child", "prepare", "--sizes", str(size), *common)
            result["tracemalloc_peak_mb"] = _child("--child", "run", "--sizes", str(size), "--traced", *common)[
                "tracemalloc_peak_mb"
            ]
        results.append(result)
        traced = result.get("tracemalloc_peak_mb")
        target = f" (target ≤ {TARGET_SECONDS_1M:.0f} s, ≤ {TARGET_MB_1M:.0f} MB)" if size == 1_000_000 else ""
        print(
            f"{size:>9,} obligations: best {result['best_seconds']:.2f} s, median {result['median_seconds']:.2f} s "
            f"of {len(runs)}, maxrss {result['maxrss_mb']:.0f} MB"
            + (f", tracemalloc peak {traced:.0f} MiB" if traced is not None else "")
            + target,
            flush=True,
        )
    report = {
        "results": results,
        "obligations_per_payment": args.obligations_per_payment,
        "participants": len(PARTICIPANTS),
        "currency_count": len(CURRENCIES),
        "target_seconds_1m": TARGET_SECONDS_1M,
        "target_mb_1m": TARGET_MB_1M,
        "python": platform.python_version(),
        "problems": problems,
    }
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
