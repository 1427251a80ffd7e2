"""Benchmark (not a test): the raw speed of this machine's PostgreSQL, the yardstick beside every other figure.

    .venv/bin/python bench/raw_db.py [--seconds 5]

Against a scratch database (``deltran_bench_raw``, dropped and recreated), from one client connection:
- single-row INSERTs, each its own transaction (a COMMIT waits for the WAL flush), into a table shaped like a
  small payment row: rows/s;
- the same rows in multi-row INSERTs of 1,000 in one transaction: rows/s;
- a trivial ``SELECT 1``: statements/s (the round trip and the parse, nothing else).
Writes JSON with --json-out; `make bench` prints these beside the other figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from initiate_http import RESULTS_DIR, db_url, log, pg_connect, recreate_database  # noqa: E402

TABLE = """
CREATE TABLE raw_payment (
    id bigserial PRIMARY KEY,
    reference varchar(35) NOT NULL,
    amount numeric(28, 4) NOT NULL,
    currency char(3) NOT NULL,
    status varchar(20) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX raw_payment_created ON raw_payment (created_at);
"""


def timed(seconds: float, step) -> tuple[int, float]:
    """Run ``step`` (returns how many it did) until ``seconds`` pass; (count, elapsed)."""
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        done += step()
    return done, time.perf_counter() - started


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=5, help="seconds per measurement (default 5)")
    p.add_argument("--pg-admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--db", default="deltran_bench_raw")
    p.add_argument("--json-out", type=Path)
    args = p.parse_known_args(argv)[0]
    recreate_database(args.pg_admin_url, args.db)
    conn = pg_connect(db_url(args.pg_admin_url, args.db))
    try:
        with conn.cursor() as cur:
            cur.execute(TABLE)
            cur.execute("SHOW synchronous_commit")
            synchronous_commit = cur.fetchone()[0]
            cur.execute("SELECT version()")
            version = cur.fetchone()[0].split(" on ")[0]
        conn.autocommit = True
        n = 0

        def insert_one() -> int:
            nonlocal n
            n += 1
            with conn.cursor() as cur:
                cur.execute(
                    "INSERT INTO raw_payment (reference, amount, currency, status) VALUES (%s, %s, 'USD', 'queued')",
                    (f"R{n}", n % 100000 + 0.5),
                )
            return 1

        single, single_s = timed(args.seconds, insert_one)
        log(f"single-row INSERT + COMMIT: {single / single_s:,.0f} rows/s")

        from psycopg2.extras import execute_values

        def insert_batch() -> int:
            nonlocal n
            rows = [(f"B{n + i}", (n + i) % 100000 + 0.5) for i in range(1000)]
            n += 1000
            with conn.cursor() as cur:
                cur.execute("BEGIN")
                execute_values(
                    cur,
                    "INSERT INTO raw_payment (reference, amount, currency, status) VALUES %s",
                    rows,
                    template="(%s, %s, 'USD', 'queued')",
                    page_size=1000,
                )
                cur.execute("COMMIT")
            return 1000

        batched, batched_s = timed(args.seconds, insert_batch)
        log(f"multi-row INSERT, 1,000 a transaction: {batched / batched_s:,.0f} rows/s")

        def select_one() -> int:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchone()
            return 1

        selects, selects_s = timed(args.seconds, select_one)
        log(f"SELECT 1: {selects / selects_s:,.0f} statements/s")
    finally:
        conn.close()
    result = {
        "benchmark": "raw_db",
        "at": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "postgresql": version,
        "synchronous_commit": synchronous_commit,
        "insert_single_rows_per_s": round(single / single_s, 1),
        "insert_batch_rows_per_s": round(batched / batched_s, 1),
        "select_trivial_per_s": round(selects / selects_s, 1),
        "seconds": args.seconds,
        "machine": {"cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()]},
        "problems": [],
    }
    text = json.dumps(result, indent=2)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / f"raw_db-{result['at']}.json").write_text(text)
    if args.json_out:
        args.json_out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
