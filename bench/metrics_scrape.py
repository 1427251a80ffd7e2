"""Benchmark: a /metrics scrape and a /health check on PostgreSQL stay flat as the payment tables grow.

    .venv/bin/python bench/metrics_scrape.py [--sizes 0 1000000] [--repeat 7]
        [--database-url postgres://postgres@127.0.0.1:5432/deltran_metrics_bench] [--json-out F]

For each size: drop and create the database, migrate, load the scenario, record one real payment (screened), then
copy it in SQL to SIZE payments, each with its screening check, one in ten with a list match (the tables the
collectors read next to), and ANALYZE. Then, in the same process, time REPEAT scrapes of the whole registry
(django-prometheus's figures and every DelTran collector: what /metrics renders) and REPEAT /health reports, and
count their SQL statements. The collectors read small tables and bounded windows (latest 1,000 screenings, latest
100 cycles), so the figures should not depend on SIZE. Not a test: it prints and records figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/deltran_metrics_bench"


def recreate_database(database_url: str) -> None:
    import psycopg2

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    admin = psycopg2.connect(
        host=url.hostname, port=url.port or 5432, user=url.username or "postgres", dbname="postgres"
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def columns(cursor, table: str) -> list[str]:
    cursor.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position", [table]
    )
    return [row[0] for row in cursor.fetchall()]


def grow(size: int) -> None:
    """Copy the one real payment and its screening check SIZE times, in SQL."""
    from django.db import connection

    from payments.models import Payment

    if size <= 0:
        return
    template = Payment.objects.get()
    with connection.cursor() as cursor:
        payment_columns = [c for c in columns(cursor, "payments_payment") if c != "id"]
        rest = ", ".join(f'"{c}"' for c in payment_columns if c not in {"payment_reference", "created_at"})
        cursor.execute(
            f"INSERT INTO payments_payment (id, payment_reference, created_at, {rest}) "
            f"SELECT gen_random_uuid(), 'BENCH' || n, created_at - make_interval(secs => n), {rest} "
            "FROM payments_payment, generate_series(1, %s) AS n WHERE id = %s",
            [size, template.pk],
        )
        check_columns = [c for c in columns(cursor, "compliance_screeningcheck") if c not in {"id", "payment_id"}]
        listed = ", ".join(f'"{c}"' for c in check_columns)
        selected = ", ".join(f'c."{c}"' for c in check_columns)
        cursor.execute(
            f"INSERT INTO compliance_screeningcheck (payment_id, {listed}) "
            f"SELECT p.id, {selected} FROM payments_payment p, compliance_screeningcheck c "
            "WHERE c.payment_id = %s AND p.id <> %s ORDER BY p.created_at",
            [template.pk, template.pk],
        )
        match_columns = [c for c in columns(cursor, "compliance_screeningmatch") if c not in {"id", "screening_id"}]
        listed = ", ".join(f'"{c}"' for c in match_columns)
        values = ", ".join(
            {"party": "'debtor'", "level": "'MEDIUM'", "whitelisted": "false", "distance": "NULL"}.get(c, f"'{c}'")
            if c not in {"score"}
            else "80"
            for c in match_columns
        )
        cursor.execute(
            f"INSERT INTO compliance_screeningmatch (screening_id, {listed}) "
            f"SELECT id, {values} FROM compliance_screeningcheck WHERE id % 10 = 0"
        )
        cursor.execute("ANALYZE")


def timed(repeat: int, work) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    work()  # warm: imports, caches
    seconds = []
    with CaptureQueriesContext(connection) as queries:
        work()
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return {
        "median_ms": round(statistics.median(seconds) * 1000, 2),
        "best_ms": round(min(seconds) * 1000, 2),
        "queries": len(queries.captured_queries),
    }


def measure(database_url: str, size: int, repeat: int) -> dict:
    from decimal import Decimal

    from django.core.management import call_command
    from prometheus_client import REGISTRY, generate_latest

    from deltran.accounts import user_ensure
    from deltran.health import health_report
    from deltran.roles import OPERATOR
    from payments.services import PaymentInstruction, payment_initiate

    call_command("migrate", verbosity=0)
    call_command("load_scenario", "--no-users", verbosity=0)
    operator = user_ensure(username="bench_operator", password="bench-operator-pw", role=OPERATOR)[0]
    payment_initiate(
        actor=operator,
        instruction=PaymentInstruction(
            sender_bic="ENBXAEADXXX",
            receiver_bic="SBININBBXXX",
            amount=Decimal("125000.50"),
            currency="USD",
            debtor_name="Acme Trading LLC",
            creditor_name="Mumbai Textiles Pvt Ltd",
            remittance_info="Invoice 2026-114",
        ),
    )
    started = time.perf_counter()
    grow(size)
    grown = time.perf_counter() - started
    scrape = timed(repeat, lambda: generate_latest(REGISTRY))
    health = timed(repeat, lambda: health_report(full=True))
    return {"payments": size + 1, "grow_seconds": round(grown, 1), "scrape": scrape, "health": health}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 1_000_000])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--json-out")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure one size in this process
    args = parser.parse_args()

    if args.one is not None:
        os.environ["DATABASE_URL"] = args.database_url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deltran.settings")
        os.environ.setdefault("DELTRAN_VAR_DIR", str(ROOT / "var" / "bench-metrics"))
        import django

        django.setup()
        print(json.dumps(measure(args.database_url, args.one, args.repeat)))
        return

    import subprocess

    results = []
    for size in args.sizes:
        recreate_database(args.database_url)
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                str(size),
                "--repeat",
                str(args.repeat),
                "--database-url",
                args.database_url,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        results.append(result)
        print(
            f"{result['payments']:>9,} payments (copied in {result['grow_seconds']} s): "
            f"scrape {result['scrape']['median_ms']} ms median, {result['scrape']['best_ms']} ms best, "
            f"{result['scrape']['queries']} queries; /health {result['health']['median_ms']} ms median, "
            f"{result['health']['queries']} queries; load {os.getloadavg()[0]:.2f}"
        )
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps({"machine": platform.platform(), "results": results}, indent=2), encoding="utf-8"
        )


if __name__ == "__main__":
    main()
