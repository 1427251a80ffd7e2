"""Benchmark of GET /api/v1/metrics/realtime with millions of payments in PostgreSQL.

    .venv/bin/python bench/metrics_realtime.py [--payments 5000000] [--requests 1000] [--rate 200]
        [--database-url postgres://postgres@127.0.0.1:5432/deltran_metrics_bench] [--keep] [--json-out F]

1. prepare (skipped with --keep when the database already holds the payments): drop and create the database,
   ``migrate``, ``load_scenario``; give the four banks settlement accounts in eight currencies; record one real
   payment through ``payment_initiate`` as the template of the others' remaining columns; then insert the payments
   set-based (``INSERT … SELECT … FROM generate_series`` in chunks, each chunk's timeline written by the same
   statement): created over the last 30 days, random route and currency, amounts 1.00 to 100,000.00, 90 % settled,
   the rest queued, settling, in review, rejected or failed; two timeline rows each (received, then the last status).
   ``ANALYZE``. Then the metrics rollup counts the whole timeline once (reported: seconds and rows per second).
2. serve: gunicorn (2 sync workers, as ``make run``) on the database; one keep-alive client sends ``--requests``
   sequential GET /api/v1/metrics/realtime with an operator's JWT in three phases: quiet (nothing new); while a
   writer process commits ``--rate`` new payments per second (payment row and its two timeline rows, set-based,
   every 100 ms) and no beat runs, so requests find the counters stale and roll up what arrived themselves; and
   the same writes with a process rolling up every second as beat does in ``make run``. Latency percentiles per
   phase; the target is p95 <= 50 ms.

Not a test: it reports figures and the target.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/deltran_metrics_bench"
BANKS = ("ENBXAEADXXX", "LUMIILITXXX", "HABBPKKKXXX", "SBININBBXXX")
CURRENCIES = ("USD", "EUR", "GBP", "AED", "ILS", "PKR", "INR", "SAR")
TARGET_P95_MS = 50.0
CHUNK = 250_000
USERNAME, PASSWORD = "operator", "deltran-operator"


def _django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deltran.settings")
    import django

    django.setup()


def _admin_connection(database_url: str):
    import psycopg2

    url = urlparse(database_url)
    admin = psycopg2.connect(
        host=url.hostname,
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname="postgres",
    )
    admin.autocommit = True
    return admin, url.path.lstrip("/")


def _recreate_database(database_url: str) -> None:
    admin, name = _admin_connection(database_url)
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def _database_exists(database_url: str) -> bool:
    admin, name = _admin_connection(database_url)
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        found = cursor.fetchone() is not None
    admin.close()
    return found


def _routes_sql() -> str:
    """A VALUES list of (n, sender bank, receiver bank, sender account, receiver account, BICs, currency)."""
    from settlement.models import Bank, SettlementAccount

    banks = {bank.bic: bank for bank in Bank.objects.filter(bic__in=BANKS)}
    accounts = {(a.bank.bic, a.currency_id): a.pk for a in SettlementAccount.objects.select_related("bank")}
    rows = []
    for sender in BANKS:
        for receiver in BANKS:
            if sender == receiver:
                continue
            for currency in CURRENCIES:
                rows.append(
                    f"({len(rows)}, {banks[sender].pk}, {banks[receiver].pk}, {accounts[(sender, currency)]}, "
                    f"{accounts[(receiver, currency)]}, '{sender}', '{receiver}', '{currency}')"
                )
    return "VALUES " + ", ".join(rows), len(rows)


def _columns(table: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        return [c.name for c in connection.introspection.get_table_description(cursor, table)]


def prepare(database_url: str, payments: int) -> dict:
    _recreate_database(database_url)
    _django(database_url)
    from decimal import Decimal

    from django.core.management import call_command
    from django.db import connection, transaction

    from deltran.accounts import user_ensure
    from payments.models import Payment, PaymentTransition
    from payments.services import PaymentInstruction, payment_initiate
    from settlement.models import Bank, SettlementAccount

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("load_scenario", verbosity=0)
    with transaction.atomic():
        for bank in Bank.objects.filter(bic__in=BANKS):
            for currency in CURRENCIES:
                SettlementAccount.objects.get_or_create(
                    bank=bank, currency_id=currency, defaults={"account_number": f"DLT{bank.bic[:8]}{currency}"}
                )
    actor = user_ensure(username=USERNAME, password=PASSWORD, role="Operator")[0]
    # The bench's requests come from one API client with a limit no run reaches (the rate limit is not measured).
    call_command("api_client_set", "bench", "--user", USERNAME, "--rate", "100000000", verbosity=0)
    template = payment_initiate(
        actor=actor,
        instruction=PaymentInstruction(
            sender_bic=BANKS[0],
            receiver_bic=BANKS[3],
            amount=Decimal("10.00"),
            currency="USD",
            debtor_name="Acme Trading LLC",
            creditor_name="Mumbai Textiles Pvt Ltd",
        ),
    ).payment
    routes, route_count = _routes_sql()
    overrides = {
        "id": "md5(g::text || clock_timestamp()::text)::uuid",
        "payment_reference": "'BENCH' || lpad(g::text, 10, '0')",
        "sender_bank_id": "r.sender_bank",
        "receiver_bank_id": "r.receiver_bank",
        "sender_account_id": "r.sender_account",
        "receiver_account_id": "r.receiver_account",
        "sender_bic": "r.sender_bic",
        "receiver_bic": "r.receiver_bic",
        "currency": "r.currency",
        "settlement_currency": "r.currency",
        "amount": "x.amount",
        "settlement_amount": "x.amount",
        "amount_usd": "x.amount",
        "status": "x.status",
        "status_reason": "''",
        "created_at": "x.created_at",
        "updated_at": "x.created_at + x.took",
        "processed_at": "x.created_at",
        "settled_at": "CASE WHEN x.status = 'settled' THEN x.created_at + x.took END",
        "scheduled_for": "x.created_at",
        "awaiting_liquidity": "false",
        "idempotency_key": "''",
    }
    columns = _columns(Payment._meta.db_table)
    select = ", ".join(overrides.get(c, f"t.{connection.ops.quote_name(c)}") for c in columns)
    insert_columns = ", ".join(connection.ops.quote_name(c) for c in columns)
    transition = PaymentTransition._meta.db_table
    # A bulk load: the secondary indexes are dropped while the rows go in and built again after (as a DBA would).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN (%s, %s) AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint)",
            [Payment._meta.db_table, PaymentTransition._meta.db_table],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    chunks = []
    for start in range(1, payments + 1, CHUNK):
        end = min(start + CHUNK - 1, payments)
        t0 = time.perf_counter()
        sql = f"""
WITH routes (n, sender_bank, receiver_bank, sender_account, receiver_account, sender_bic, receiver_bic, currency)
     AS ({routes}),
x AS (
  SELECT g,
         round((1 + random() * 99999)::numeric, 2) AS amount,
         now() - (interval '30 days') * ((%(n)s - g)::float / %(n)s) AS created_at,
         make_interval(secs => 5 + random() * 600) AS took,
         CASE WHEN g %% 100 < 90 THEN 'settled' WHEN g %% 100 < 94 THEN 'queued' WHEN g %% 100 < 95 THEN 'settling'
              WHEN g %% 100 < 96 THEN 'compliance_review' WHEN g %% 100 < 99 THEN 'rejected' ELSE 'failed' END AS status
  FROM generate_series(%(start)s, %(end)s) AS g
),
ins AS (
  INSERT INTO {Payment._meta.db_table} ({insert_columns})
  SELECT {select}
  FROM x JOIN routes r ON r.n = x.g %% {route_count}
       CROSS JOIN (SELECT * FROM {Payment._meta.db_table} WHERE id = %(template)s) t
  RETURNING id, status, created_at, updated_at
)
INSERT INTO {transition} (payment_id, from_status, to_status, actor_id, actor_label, reason, occurred_at)
SELECT id, s.from_status, s.to_status, NULL, 'bench', 'generated', s.at
FROM ins, LATERAL (VALUES ('', 'initiated', ins.created_at), ('initiated', ins.status, ins.updated_at))
     AS s (from_status, to_status, at)
ORDER BY s.at
"""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, {"n": payments, "start": start, "end": end, "template": template.pk})
        chunks.append(time.perf_counter() - t0)
        print(f"  payments {end:,}/{payments:,} ({chunks[-1]:.1f} s)", flush=True)
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        for _, definition in indexes:
            cursor.execute(definition)
        cursor.execute("ANALYZE")
    print(f"  {len(indexes)} indexes built again ({time.perf_counter() - t0:.1f} s)", flush=True)
    generated = time.perf_counter() - started

    from payments.metrics import metrics_rollup

    t0 = time.perf_counter()
    rows = 0
    while True:
        read = metrics_rollup(max_seconds=60)
        rows += read
        print(f"  rollup: {rows:,} timeline rows counted", flush=True)
        if read == 0:
            break
    rollup_seconds = time.perf_counter() - t0
    return {
        "generate_s": round(generated, 1),
        "rollup_s": round(rollup_seconds, 1),
        "rollup_rows": rows,
        "rollup_rows_per_s": round(rows / rollup_seconds) if rollup_seconds else None,
    }


WRITER = r"""
import os, sys, time
sys.path.insert(0, os.environ["DELTRAN_ROOT"])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deltran.settings")
import django; django.setup()
from django.db import connection, transaction
from payments.models import Payment
rate, template = float(sys.argv[1]), sys.argv[2]
table = Payment._meta.db_table
cols = [c.name for c in connection.introspection.get_table_description(connection.cursor(), table)]
over = {"id": "md5(g::text || clock_timestamp()::text)::uuid", "payment_reference": "'LIVE' || g",
        "status": "'queued'", "created_at": "now()", "updated_at": "now()", "settled_at": "NULL"}
select = ", ".join(over.get(c, 't."%s"' % c) for c in cols)
sql = (f"WITH ins AS (INSERT INTO {table} ({', '.join(chr(34) + c + chr(34) for c in cols)}) SELECT {select} "
       f"FROM generate_series(%s, %s) g CROSS JOIN (SELECT * FROM {table} WHERE id = %s) t RETURNING id, created_at) "
       "INSERT INTO payments_paymenttransition (payment_id, from_status, to_status, actor_id, actor_label, reason, "
       "occurred_at) SELECT id, s.f, s.t, NULL, 'bench', 'live', created_at FROM ins, "
       "LATERAL (VALUES ('', 'initiated'), ('initiated', 'queued')) AS s (f, t)")
n, tick, start = 0, 0.1, time.monotonic()
while True:
    due = int((time.monotonic() - start) * rate)
    if due > n:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [n + 1, due, template])
        n = due
    time.sleep(tick)
"""


ROLLUP_EVERY_SECOND = r"""
import os, sys, time
sys.path.insert(0, os.environ["DELTRAN_ROOT"])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deltran.settings")
import django; django.setup()
from payments.metrics import metrics_rollup
while True:
    metrics_rollup()
    time.sleep(1)
"""


def measure(port: int, token: str, requests: int, path: str = "/api/v1/metrics/realtime") -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Connection": "keep-alive"}
    latencies, errors = [], 0
    for _ in range(requests):
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        latencies.append((time.perf_counter() - t0) * 1000)
        if response.status != 200:
            errors += 1
    conn.close()
    latencies.sort()

    def pick(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)

    last = json.loads(body) if path.endswith("realtime") else {}
    return {
        "requests": requests,
        "errors": errors,
        "p50_ms": pick(0.50),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "mean_ms": round(statistics.fmean(latencies), 2),
        "max_ms": round(latencies[-1], 2),
        "last_queue_depth": last.get("queue_depth"),
        "last_tps": last.get("tps"),
    }


def measure_inprocess(calls: int) -> dict:
    """The view's work without HTTP, in this process: wall time and CPU time (which other load on a shared
    machine barely changes) of the counters' freshness check and the figures."""
    from payments.metrics import metrics_fresh, metrics_realtime

    walls, cpus = [], []
    for _ in range(calls):
        w, c = time.perf_counter(), time.process_time()
        metrics_fresh()
        metrics_realtime()
        walls.append((time.perf_counter() - w) * 1000)
        cpus.append((time.process_time() - c) * 1000)
    walls.sort()
    cpus.sort()
    return {
        "calls": calls,
        "wall_p50_ms": round(walls[len(walls) // 2], 2),
        "wall_p95_ms": round(walls[int(0.95 * len(walls))], 2),
        "cpu_p50_ms": round(cpus[len(cpus) // 2], 2),
        "cpu_p95_ms": round(cpus[int(0.95 * len(cpus))], 2),
    }


def serve_and_measure(database_url: str, requests: int, rate: float) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "deltran.settings"}
    env.pop("REDIS_URL", None)
    env["DELTRAN_ROOT"] = str(ROOT)
    port = 18000 + os.getpid() % 1000
    gunicorn = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "deltran.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    writer = beat = None
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/login/")
                break
            except OSError:
                time.sleep(0.2)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(
            "POST",
            "/api/v1/auth/login",
            json.dumps({"username": USERNAME, "password": PASSWORD}),
            {"Content-Type": "application/json"},
        )
        token = json.loads(conn.getresponse().read())["access"]
        measure(port, token, 20)  # warm the workers' connections and caches
        # The same client on GET /api/v1/auth/me (authentication and role check, no figures): what any request
        # costs on this machine right now, beside the figures' own.
        phases = {"trivial_auth_me": measure(port, token, requests, path="/api/v1/auth/me")}
        phases["quiet"] = measure(port, token, requests)
        from payments.models import Payment

        template = str(
            Payment.objects.filter(payment_reference__startswith="BENCH").values_list("id", flat=True)[:1][0]
        )
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(rate), template], cwd=ROOT, env=env)
        time.sleep(2)
        # Without beat: every request that finds the counters older than 2 s rolls them up itself.
        phases["writes_requests_roll_up"] = measure(port, token, requests)
        # As `make run`: beat rolls the counters up every second, requests only read them.
        beat = subprocess.Popen([sys.executable, "-c", ROLLUP_EVERY_SECOND], cwd=ROOT, env=env)
        time.sleep(2)
        phases["writes_with_rollup_task"] = measure(port, token, requests)
        return phases
    finally:
        for process in (beat, writer, gunicorn):
            if process is not None:
                process.terminate()
                process.wait(timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--payments", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0, help="payments/s committed while measuring")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--keep", action="store_true", help="reuse the database if it already has the payments")
    parser.add_argument("--json-out")
    args = parser.parse_args()

    load_before = os.getloadavg()
    prepared = None
    if args.keep and _database_exists(args.database_url):
        _django(args.database_url)
        from payments.models import Payment

        if Payment.objects.filter(payment_reference__startswith="BENCH").exists():
            print("reusing the prepared database", flush=True)
            from payments.metrics import metrics_rollup

            while metrics_rollup(max_seconds=60):
                pass
        else:
            prepared = prepare(args.database_url, args.payments)
    else:
        prepared = prepare(args.database_url, args.payments)
    if prepared is None:
        _django(args.database_url)
    from payments.models import Payment, PaymentTransition

    counts = {
        # Estimates from the planner's statistics: counting 5 million rows is what the endpoint must never do.
        "payments_estimate": _estimate(Payment._meta.db_table),
        "transitions_estimate": _estimate(PaymentTransition._meta.db_table),
    }
    inprocess = measure_inprocess(200)
    phases = serve_and_measure(args.database_url, args.requests, args.rate)
    result = {
        "payments": args.payments,
        **counts,
        "prepare": prepared,
        **phases,
        "inprocess": inprocess,
        "rate": args.rate,
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": all(p["p95_ms"] <= TARGET_P95_MS for name, p in phases.items() if name != "trivial_auth_me"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
        },
        "problems": [f"{name}: {p['errors']} non-200" for name, p in phases.items() if p["errors"]],
    }
    print(json.dumps(result, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    return 1 if result["problems"] else 0


def _estimate(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
        return int(cursor.fetchone()[0])


if __name__ == "__main__":
    sys.exit(main())
