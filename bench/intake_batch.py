"""Benchmark (not a test): bulk intake over HTTP on PostgreSQL, beside the database's raw batched-insert rate.

    .venv/bin/python bench/intake_batch.py [--messages 12 --size 1000 --connections 3]

What it does, and undoes:
1. drops and recreates a dedicated PostgreSQL database (``deltran_bench_batch``), migrates it and loads the
   4-bank scenario with its demo users (an API client with a limit no run reaches, as bench/initiate_http.py);
2. starts gunicorn (2 sync workers, DEBUG off, persistent connections) on a free 127.0.0.1 port;
3. builds the messages beforehand: pacs.008.001.08 messages of ``--size`` transactions and JSON batches of
   ``--size`` payments (unique MsgId/EndToEndId and keys, 5,000 debtors, the four banks' USD accounts);
4. posts one warm-up message of each kind, then each kind's messages end to end (parsing, validation, FX,
   screening and risk, routing, liquidity, pacs.002 or JSON answer) from ``--connections`` concurrent keep-alive
   connections, and counts payments/s from the first request sent to the last answer received. Before each measured
   run it waits 10.5 s (gunicorn's connections flush their table counters) and records every table's
   ``n_tup_ins``/``n_tup_upd`` (``pg_stat_user_tables``) and watermark: the max id for an integer primary key, else
   the max ``created_at``/``received_at``/``occurred_at`` (``payments_payment``, ``payments_inboundmessage``);
5. measures the raw rate of the same database for the same rows, per kind, once gunicorn is stopped: the tables
   whose ``n_tup_ins`` grew during the kind's run (about twelve rows a payment in eight tables, one inbound
   message per message) are listed with the growth; the rows above the watermarks (up to the next run's) are
   COPY'd out (a table without a watermark would give its last N rows by ctid, N its ``n_tup_ins`` growth); then
   COPY'd back into scratch tables ``LIKE <table> INCLUDING ALL`` (columns, defaults, indexes, constraints; no
   foreign keys), one transaction per ``--size`` payments' worth (each table's rows split into as many equal
   parts as the run had chunks; transaction k holds part k of every table), timed as a whole: raw payments/s =
   payments / seconds, with rows/s and rows per table. The pacs.008 and JSON runs are measured separately (the
   inbound message of a pacs.008 holds its XML). Tables only updated (the banks' positions) are not part of the
   raw insert rate; the output lists them. The scratch tables are dropped. The earlier records' figure, the
   pacs.008 run's payment rows alone COPY'd into ``LIKE payments_payment``, is kept as an extra line;
6. prints per kind payments/s, raw payments/s and the ratio intake ÷ raw (targets: >= 3,000 payments/s and
   >= 40 % of raw), the rows copied per table beside the counters' growth, the CPU used by gunicorn, PostgreSQL
   and the client, the machine's load; writes JSON to bench/results/ (git-ignored); ``raw`` in the JSON is the
   payment-rows-only figure, ``raw_all_rows`` the new one, ``ratios`` against the new one;
7. stops gunicorn, also on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import http.client as http_client
import io
import json
import os
import platform
import random
import re
import signal
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from initiate_http import (  # noqa: E402  (the bench helpers live beside this script)
    BENCH_CLIENT,
    BENCH_RATE_PER_MINUTE,
    LOGIN_PATH,
    PASSWORD,
    RESULTS_DIR,
    USERNAME,
    CpuSnapshot,
    Server,
    count_rows,
    db_url,
    free_port,
    log,
    manage,
    pg_connect,
    recreate_database,
    server_env,
)
from initiate_http import (
    http as http_call,
)

TARGET_RATE = 3000.0
TARGET_RATIO = 0.40
PACS008_PATH = "/api/v1/iso20022/pacs008"
BATCH_PATH = "/api/v1/payments/batch"
# The scenario's banks, all holding USD settlement accounts.
BANKS = ["ENBXAEADXXX", "LUMIILITXXX", "HABBPKKKXXX", "SBININBBXXX"]
DEBTORS = 5000


def _pairs(rng: random.Random, n: int) -> list[tuple[str, str]]:
    out = []
    for _ in range(n):
        sender, receiver = rng.sample(BANKS, 2)
        out.append((sender, receiver))
    return out


def pacs008_message(run: str, number: int, size: int, rng: random.Random) -> bytes:
    rows = []
    total = 0
    for i, (sender, receiver) in enumerate(_pairs(rng, size)):
        cents = rng.randint(10_000, 90_000)
        total += cents
        debtor = rng.randrange(DEBTORS)
        rows.append(
            f"<CdtTrfTxInf><PmtId><InstrId>I{number}-{i}</InstrId><EndToEndId>E{run}-{number}-{i}</EndToEndId>"
            f"<TxId>T{run}-{number}-{i}</TxId></PmtId>"
            f'<IntrBkSttlmAmt Ccy="USD">{cents // 100}.{cents % 100:02d}</IntrBkSttlmAmt>'
            f"<IntrBkSttlmDt>2026-03-02</IntrBkSttlmDt><ChrgBr>SHAR</ChrgBr>"
            f"<InstgAgt><FinInstnId><BICFI>{sender}</BICFI></FinInstnId></InstgAgt>"
            f"<InstdAgt><FinInstnId><BICFI>{receiver}</BICFI></FinInstnId></InstdAgt>"
            f"<Dbtr><Nm>Bench Customer {debtor}</Nm></Dbtr>"
            f"<DbtrAcct><Id><Othr><Id>ACC{debtor:08d}</Id></Othr></Id></DbtrAcct>"
            f"<DbtrAgt><FinInstnId><BICFI>{sender}</BICFI></FinInstnId></DbtrAgt>"
            f"<CdtrAgt><FinInstnId><BICFI>{receiver}</BICFI></FinInstnId></CdtrAgt>"
            f"<Cdtr><Nm>Supplier {rng.randrange(500)} Trading</Nm></Cdtr>"
            f"<RmtInf><Ustrd>Invoice {number}-{i}</Ustrd></RmtInf></CdtTrfTxInf>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"><FIToFICstmrCdtTrf>'
        f"<GrpHdr><MsgId>B{run}-{number}</MsgId><CreDtTm>2026-03-02T10:00:00Z</CreDtTm>"
        f"<NbOfTxs>{size}</NbOfTxs><CtrlSum>{total // 100}.{total % 100:02d}</CtrlSum>"
        "<SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf></GrpHdr>" + "".join(rows) + "</FIToFICstmrCdtTrf></Document>"
    ).encode()


def json_batch(run: str, number: int, size: int, rng: random.Random) -> bytes:
    items = []
    for i, (sender, receiver) in enumerate(_pairs(rng, size)):
        cents = rng.randint(10_000, 90_000)
        debtor = rng.randrange(DEBTORS)
        items.append(
            {
                "sender_bic": sender,
                "receiver_bic": receiver,
                "amount": f"{cents // 100}.{cents % 100:02d}",
                "currency": "USD",
                "debtor_name": f"Bench Customer {debtor}",
                "debtor_account": f"ACC{debtor:08d}",
                "creditor_name": f"Supplier {rng.randrange(500)} Trading",
                "remittance_info": f"Invoice {number}-{i}",
                "idempotency_key": f"b{run}-{number}-{i}",
            }
        )
    return json.dumps(items).encode()


def post_all(port: int, token: str, path: str, content_type: str, bodies: list[bytes], connections: int) -> dict:
    """Post every body from `connections` keep-alive connections; wall time from first send to last answer."""
    queue = list(enumerate(bodies))
    lock = threading.Lock()
    statuses: list[int] = [0] * len(bodies)
    latencies: list[float] = [0.0] * len(bodies)
    samples: list[str] = []

    def worker():
        conn = http_client.HTTPConnection("127.0.0.1", port, timeout=600)
        while True:
            with lock:
                if not queue:
                    break
                index, body = queue.pop(0)
            started = time.perf_counter()
            conn.request(
                "POST",
                path,
                body=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": content_type, "Accept": "*/*"},
            )
            response = conn.getresponse()
            answer = response.read()
            latencies[index] = time.perf_counter() - started
            statuses[index] = response.status
            if response.status != 200 and len(samples) < 3:
                samples.append(f"{response.status} {answer[:300]!r}")
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "seconds": round(seconds, 3),
        "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
        "non_200_samples": samples,
        "p50_s": round(latencies[len(latencies) // 2], 3),
        "max_s": round(latencies[-1], 3),
    }


# --- the raw rate: the rows the measured runs wrote, COPY'd back into scratch tables -------------------------

# PostgreSQL 15+ keeps a backend's table counters (n_tup_ins ...) in the backend until it flushes them: at once when
# it goes idle at least 1 s after its last flush, else by an idle timeout 10 s later (PGSTAT_IDLE_INTERVAL). A
# gunicorn worker's connection stays open between requests, so before reading pg_stat_user_tables the script waits
# this long after the last answer; after gunicorn is stopped, its backends flush as they exit.
STATS_FLUSH_WAIT_S = 10.5
# For tables whose primary key is not an integer, the first of these timestamp columns found marks the new rows.
TIMESTAMP_WATERMARKS = ("created_at", "received_at", "occurred_at")
SCRATCH_PREFIX = "bench_raw_"


def table_stats(conn) -> dict[str, dict[str, int]]:
    """n_tup_ins / n_tup_upd / n_tup_del of every table of the public schema (counters since the database began)."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables WHERE schemaname = 'public'"
        )
        return {name: {"ins": ins, "upd": upd, "del": dele} for name, ins, upd, dele in cur.fetchall()}


def stats_delta(before: dict, after: dict, counter: str) -> dict[str, int]:
    out = {}
    for table, x in after.items():
        n = x[counter] - before.get(table, {}).get(counter, 0)
        if n:
            out[table] = n
    return out


def wait_for_backends(conn, limit: float = 15.0) -> None:
    """Wait until no other client is connected to this database (so every backend has flushed its counters)."""
    deadline = time.monotonic() + limit
    with conn.cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            if cur.fetchone()[0] == 0:
                return
            time.sleep(0.1)
    log(f"other connections to the database still open after {limit:g} s; table counters may lag")


def watermark_plan(conn) -> dict[str, tuple[str, str]]:
    """Per table, how the rows of a run are told from older ones: ("id", pk) for a single-column integer primary key
    (identity ids only grow, and nothing is in flight when a watermark is read), else ("at", column) for the first
    not-null timestamp column of TIMESTAMP_WATERMARKS; tables with neither are not in the plan (see run_rows)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT c.relname, a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]"
            " WHERE i.indisprimary AND i.indnatts = 1 AND c.relnamespace = 'public'::regnamespace"
            " AND a.atttypid IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)"
        )
        plan = {table: ("id", column) for table, column in cur.fetchall()}
        cur.execute(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND a.attnum > 0"
            " AND NOT a.attisdropped AND a.attnotnull AND a.atttypid = 'timestamptz'::regtype"
            " AND a.attname = ANY(%s)",
            (list(TIMESTAMP_WATERMARKS),),
        )
        stamps: dict[str, list[str]] = {}
        for table, column in cur.fetchall():
            stamps.setdefault(table, []).append(column)
    for table, columns in stamps.items():
        if table not in plan:
            plan[table] = ("at", min(columns, key=TIMESTAMP_WATERMARKS.index))
    return {t: p for t, p in plan.items() if not t.startswith(SCRATCH_PREFIX)}


def watermarks(conn, plan: dict[str, tuple[str, str]]) -> dict[str, object]:
    """The largest id / timestamp of each planned table now (None when the table is empty)."""
    from psycopg2 import sql

    out = {}
    with conn.cursor() as cur:
        for table, (_, column) in plan.items():
            cur.execute(sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(column), sql.Identifier(table)))
            out[table] = cur.fetchone()[0]
    return out


def copy_out(cur, query: str) -> tuple[list[str], int]:
    """COPY a query's rows out in text format: one line per row (newlines inside values are escaped as \\n)."""
    buffer = io.StringIO()
    cur.copy_expert(f"COPY ({query}) TO STDOUT", buffer)
    text = buffer.getvalue()
    lines = [line + "\n" for line in text.split("\n")[:-1]]
    return lines, len(text.encode())


def run_rows(conn, plan, wm_from, wm_to, stats_from, stats_to, stats_final) -> tuple[dict, list[str]]:
    """Copy out every row one measured run wrote, per table, with its count from the table counters beside it.

    A table is in the run if its n_tup_ins grew during the run or its watermark moved. Rows are those above the
    watermark read before the run and up to the one read after it. A table without a watermark (none here today)
    gets the last N rows in physical (ctid) order, N its n_tup_ins growth during the run, after skipping the rows
    inserted into it since the run ended — right for an insert-only table, approximate otherwise."""
    from psycopg2 import sql

    inserted = stats_delta(stats_from, stats_to, "ins")
    moved = {t for t in plan if wm_to.get(t) is not None and wm_to.get(t) != wm_from.get(t)}
    tables: dict[str, dict] = {}
    notes = []
    with conn.cursor() as cur:
        for table in sorted(set(inserted) | moved):
            n = inserted.get(table, 0)
            if table in plan:
                how, column = plan[table]
                col = sql.Identifier(column)
                if wm_from.get(table) is None:
                    where = sql.SQL("{} <= %s").format(col)
                    params: tuple = (wm_to[table],)
                else:
                    where = sql.SQL("{} > %s AND {} <= %s").format(col, col)
                    params = (wm_from[table], wm_to[table])
                query = sql.SQL("SELECT * FROM {} WHERE ").format(sql.Identifier(table)) + where
                selected_by = f"{column} above the pre-run {'max id' if how == 'id' else 'max timestamp'}"
            else:
                later = stats_final.get(table, {}).get("ins", 0) - stats_to.get(table, {}).get("ins", 0)
                query = sql.SQL("SELECT * FROM {} ORDER BY ctid DESC OFFSET %s LIMIT %s").format(sql.Identifier(table))
                params = (later, n)
                selected_by = f"last {n} rows by ctid (n_tup_ins growth), {later} later ones skipped"
            lines, size = copy_out(cur, cur.mogrify(query, params).decode())
            tables[table] = {"n_tup_ins": n, "rows": len(lines), "bytes": size, "selected_by": selected_by}
            tables[table]["lines"] = lines
            if len(lines) != n:
                notes.append(
                    f"{table}: {len(lines)} rows selected, n_tup_ins grew by {n}"
                    + (" (rows inserted and deleted again are not there to copy)" if len(lines) < n else "")
                )
    return tables, notes


_COPY_UNESCAPE = re.compile(r"\\(.)")
_COPY_ESCAPED = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def copy_line_values(line: str) -> tuple:
    """A COPY text line back into its column values as text (None for NULL), for an INSERT of the same row."""
    return tuple(
        None
        if field == "\\N"
        else _COPY_UNESCAPE.sub(lambda m: _COPY_ESCAPED.get(m.group(1), m.group(1)), field)
        for field in line.rstrip("\n").split("\t")
    )


def raw_all_rows_rate(conn, tables: dict[str, dict], size: int, method: str = "copy") -> dict:
    """Write every table's rows of one run into scratch tables (LIKE ... INCLUDING ALL), one transaction per chunk.

    ``method``: "insert", batched multi-row INSERTs from the client (1,000 rows a statement, execute_values, values
    sent as text literals that the server converts to the column types, as COPY does): the issue's "raw
    batched-insert rate"; or "copy", COPY FROM STDIN (PostgreSQL's bulk load, cheaper still for the server).
    The chunks: as many as the run had chunks of `size` payments; each table's rows are split into that many equal
    parts in order, and transaction k holds part k of every table (payments first, then the others by name)."""
    from psycopg2 import sql
    from psycopg2.extras import execute_values

    payments = tables.get("payments_payment", {}).get("rows", 0)
    chunks = max(1, -(-payments // size))
    order = sorted(tables, key=lambda t: (t != "payments_payment", t))
    scratch = {t: (SCRATCH_PREFIX + t)[:63] for t in order}
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            for table in order:
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(scratch[table])))
                cur.execute(
                    sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                        sql.Identifier(scratch[table]), sql.Identifier(table)
                    )
                )
        conn.commit()
        parts = []
        for k in range(chunks):
            part = []
            for table in order:
                lines = tables[table]["lines"]
                share = lines[k * len(lines) // chunks : (k + 1) * len(lines) // chunks]
                if not share:
                    continue
                if method == "copy":
                    statement = sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(scratch[table])).as_string(conn)
                    part.append((statement, "".join(share)))
                else:
                    statement = sql.SQL("INSERT INTO {} VALUES %s").format(sql.Identifier(scratch[table]))
                    part.append((statement.as_string(conn), [copy_line_values(line) for line in share]))
            parts.append(part)
        started = time.perf_counter()
        with conn.cursor() as cur:
            for part in parts:
                for statement, piece in part:
                    if method == "copy":
                        cur.copy_expert(statement, io.StringIO(piece))
                    else:
                        execute_values(cur, statement, piece, page_size=1000)
                conn.commit()
        seconds = time.perf_counter() - started
        copied = {}
        with conn.cursor() as cur:
            for table in order:
                cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(scratch[table])))
                copied[table] = cur.fetchone()[0]
        conn.commit()
    finally:
        conn.rollback()
        with conn.cursor() as cur:
            for table in order:
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(scratch[table])))
        conn.commit()
        conn.autocommit = True
    rows = sum(copied.values())
    return {
        "method": method,
        "payments": payments,
        "rows": rows,
        "rows_per_payment": round(rows / payments, 2) if payments else None,
        "transactions": chunks,
        "seconds": round(seconds, 3),
        "payments_per_s": round(payments / seconds, 1),
        "rows_per_s": round(rows / seconds, 1),
        "tables": {t: {k: v for k, v in tables[t].items() if k != "lines"} | {"copied": copied[t]} for t in order},
    }


def payment_rows_copy_rate(conn, lines: list[str], size: int) -> dict:
    """The earlier records' figure: a run's payment rows alone, `size` a transaction, into a scratch table shaped
    like payments_payment."""
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_raw_payment")
            cur.execute("CREATE TABLE bench_raw_payment (LIKE payments_payment INCLUDING ALL)")
        conn.commit()
        chunks = ["".join(lines[i : i + size]) for i in range(0, len(lines), size)]
        started = time.perf_counter()
        with conn.cursor() as cur:
            for chunk in chunks:
                cur.copy_expert("COPY bench_raw_payment FROM STDIN", io.StringIO(chunk))
                conn.commit()
        seconds = time.perf_counter() - started
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM bench_raw_payment")
            copied = cur.fetchone()[0]
        conn.commit()
    finally:
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_raw_payment")
        conn.commit()
        conn.autocommit = True
    return {
        "what": "payments_payment rows only (the figure of earlier records)",
        "rows": copied,
        "seconds": round(seconds, 3),
        "rows_per_s": round(copied / seconds, 1),
    }


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--messages", type=int, default=12, help="messages (and batches) measured per kind (default 12)")
    p.add_argument("--size", type=int, default=1000, help="transactions per message / items per batch (1000)")
    p.add_argument("--connections", type=int, default=3, help="concurrent client connections (default 3)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    p.add_argument("--pg-admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--db", default="deltran_bench_batch", help="database to (re)create (default deltran_bench_batch)")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="REDIS_URL for the server ('' for none)")
    p.add_argument("--json-out", type=Path, help="also write the result JSON here")
    return p.parse_known_args(argv)[0]  # run_all passes every benchmark the same extra arguments


def main(argv=None) -> int:
    args = parse_args(argv)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    database_url = db_url(args.pg_admin_url, args.db)
    env = server_env(args, database_url)
    env["ISO20022_XSD_DIR"] = ""  # the bench measures our own rules; XSD validation is measured in the report
    load_before = os.getloadavg()
    log(f"recreating database {args.db}")
    recreate_database(args.pg_admin_url, args.db)
    manage(env, "migrate", "--noinput")
    manage(env, "load_scenario")
    manage(env, "api_client_set", BENCH_CLIENT, "--user", USERNAME, "--rate", str(BENCH_RATE_PER_MINUTE))

    rng = random.Random(6)
    run = uuid.uuid4().hex[:6]
    log(f"building {args.messages + 1} pacs.008 messages and JSON batches of {args.size}")
    pacs = [pacs008_message(run, n, args.size, rng) for n in range(args.messages + 1)]
    batches = [json_batch(run, n, args.size, rng) for n in range(args.messages + 1)]
    kinds = (
        ("pacs008", PACS008_PATH, "application/xml", pacs),
        ("json_batch", BATCH_PATH, "application/json", batches),
    )

    port = free_port()
    server = Server(args, env, port, RESULTS_DIR / f"gunicorn-batch-{stamp}.log")

    def on_signal(signum, frame):
        server.stop()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    results: dict = {}
    problems: list[str] = []
    notes: list[str] = []
    bench = pg_connect(database_url)  # the script's own connection: table counters and watermarks, then the raw COPY
    plan = watermark_plan(bench)
    marks: dict[str, tuple] = {}  # kind -> (stats, watermarks) before its measured run
    try:
        log(f"starting gunicorn on 127.0.0.1:{port} ({args.workers} sync workers)")
        server.start()
        status, body = http_call("POST", server.base + LOGIN_PATH, body={"username": USERNAME, "password": PASSWORD})
        if status != 200:
            raise SystemExit(f"login failed: {status} {body[:300]!r}")
        token = json.loads(body)["access"]
        for kind, path, content_type, bodies in kinds:  # both warm-ups first: no unmeasured rows between the runs
            log(f"{kind}: warm-up message")
            warm = post_all(port, token, path, content_type, bodies[:1], 1)
            if warm["statuses"] != {"200": 1}:
                raise SystemExit(f"{kind} warm-up answered {warm}")
        for kind, path, content_type, bodies in kinds:
            log(f"{kind}: waiting {STATS_FLUSH_WAIT_S:g} s for gunicorn's connections to flush their table counters")
            time.sleep(STATS_FLUSH_WAIT_S)
            marks[kind] = (table_stats(bench), watermarks(bench, plan))
            before = count_rows(database_url, "payments_payment")
            cpu_before = CpuSnapshot.take()
            log(f"{kind}: posting {args.messages} x {args.size} from {args.connections} connections")
            measured = post_all(port, token, path, content_type, bodies[1:], args.connections)
            cpu_after = CpuSnapshot.take()
            created = count_rows(database_url, "payments_payment") - before
            expected = args.messages * args.size
            if measured["statuses"] != {"200": args.messages}:
                problems.append(f"{kind}: statuses {measured['statuses']} {measured['non_200_samples']}")
            if created != expected:
                problems.append(f"{kind}: {created} payments written, {expected} expected")
            measured["payments"] = created
            measured["payments_per_s"] = round(created / measured["seconds"], 1)
            if cpu_before and cpu_after:
                measured["cpu_cores_used"] = cpu_after.since(cpu_before, server.pgid)
            results[kind] = measured
            log(f"{kind}: {created} payments in {measured['seconds']:.2f} s = {measured['payments_per_s']:.0f}/s")
    finally:
        server.stop()
    wait_for_backends(bench)
    final = (table_stats(bench), watermarks(bench, plan))
    # Each kind's run lies between its own marks and the next kind's (the last kind's: the final ones).
    bounds = list(marks.values()) + [final]
    raw_all: dict[str, dict] = {}
    raw_copy: dict[str, dict] = {}
    updated: dict[str, dict[str, int]] = {}
    payment_lines: list[str] = []
    for i, kind in enumerate(marks):
        (stats_from, wm_from), (stats_to, wm_to) = bounds[i], bounds[i + 1]
        tables, kind_notes = run_rows(bench, plan, wm_from, wm_to, stats_from, stats_to, final[0])
        notes += [f"{kind}: {note}" for note in kind_notes]
        inserted = stats_delta(stats_from, stats_to, "ins")
        updated[kind] = {t: n for t, n in stats_delta(stats_from, stats_to, "upd").items() if t not in inserted}
        for table, n in stats_delta(stats_from, stats_to, "del").items():
            notes.append(f"{kind}: {table}: {n} rows deleted during the run")
        if kind == "pacs008":
            payment_lines = tables.get("payments_payment", {}).get("lines", [])
        rows = sum(x["rows"] for x in tables.values())
        log(f"raw ({kind}): {rows} rows in {len(tables)} tables, {args.size} payments' worth a transaction")
        raw_all[kind] = raw_all_rows_rate(bench, tables, args.size, method="insert")
        raw_copy[kind] = raw_all_rows_rate(bench, tables, args.size, method="copy")
        for x in (raw_all[kind], raw_copy[kind]):
            if x["payments"] != results.get(kind, {}).get("payments"):
                problems.append(f"raw ({kind}): {x['payments']} payment rows selected, intake counted otherwise")
            log(f"raw ({kind}, {x['method']}): {x['payments_per_s']:.0f} payments/s, {x['rows_per_s']:.0f} rows/s")
    log(f"raw: COPY of {len(payment_lines)} payment rows only, in chunks of {args.size} (earlier records' figure)")
    raw = payment_rows_copy_rate(bench, payment_lines, args.size)
    bench.close()
    log(f"raw: {raw['rows_per_s']:.0f} payment rows/s")
    ratios = {k: round(v["payments_per_s"] / raw_all[k]["payments_per_s"], 3) for k, v in results.items()}
    ratios_copy = {k: round(v["payments_per_s"] / raw_copy[k]["payments_per_s"], 3) for k, v in results.items()}
    worst = min(results[k]["payments_per_s"] for k in results) if results else 0.0
    result = {
        "benchmark": "intake_batch",
        "at": stamp,
        "messages": args.messages,
        "size": args.size,
        "connections": args.connections,
        "workers": args.workers,
        "results": results,
        "raw_all_rows": raw_all,
        "raw_all_rows_copy": raw_copy,
        "raw": raw,
        "ratios": ratios,
        "ratio_is": "intake payments/s / raw payments/s (batched multi-row INSERTs, 1,000 rows a statement, of all the"
        " rows the same kind's measured run wrote, one transaction per chunk of payments)",
        "ratios_copy": ratios_copy,
        "ratio_copy_is": "intake payments/s / raw payments/s when the same rows are COPY'd instead of INSERTed",
        "updated_not_inserted": updated,
        "target_rate": TARGET_RATE,
        "target_ratio": TARGET_RATIO,
        "meets_rate": worst >= TARGET_RATE,
        "meets_ratio": bool(ratios) and min(ratios.values()) >= TARGET_RATIO,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "notes": notes,
        "problems": problems,
    }
    print_table(result)
    text = json.dumps(result, indent=2, default=str)
    (RESULTS_DIR / f"intake_batch-{stamp}.json").write_text(text)
    if args.json_out:
        args.json_out.write_text(text)
    return 1 if problems else 0


def print_table(result: dict) -> None:
    results, raw_all, raw_copy = result["results"], result["raw_all_rows"], result["raw_all_rows_copy"]
    print()
    print(
        f"{'kind':<12} {'payments/s':>11} {'raw INSERT':>11} {'ratio':>7} {'raw COPY':>9} {'ratio':>7}"
        f"  target >= {TARGET_RATE:,.0f}/s, >= {TARGET_RATIO:.0%} of the raw batched-insert rate"
    )
    for kind, x in results.items():
        r, c = raw_all[kind], raw_copy[kind]
        print(
            f"{kind:<12} {x['payments_per_s']:>11,.0f} {r['payments_per_s']:>11,.0f} {result['ratios'][kind]:>7.3f}"
            f" {c['payments_per_s']:>9,.0f} {result['ratios_copy'][kind]:>7.3f}"
        )
        for label, y in (("raw INSERT", r), ("raw COPY", c)):
            print(
                f"{'':<12} {label}: {y['rows']:,} rows ({y['rows_per_payment']} a payment) in {y['transactions']}"
                f" transactions, {y['seconds']:.3f} s = {y['rows_per_s']:,.0f} rows/s"
            )
        print(f"{'':<12} cpu cores: {x.get('cpu_cores_used')}")
    raw = result["raw"]
    print(
        f"raw COPY of payment rows only (payments_payment, as in earlier records): {raw['rows']:,} rows,"
        f" {raw['rows_per_s']:,.0f} rows/s"
    )
    kinds = list(raw_all)
    tables = sorted({t for k in kinds for t in raw_all[k]["tables"]})
    print()
    print(f"{'rows copied per table (n_tup_ins growth)':<42}" + "".join(f" {k:>20}" for k in kinds))
    for table in tables:
        cells = []
        for k in kinds:
            t = raw_all[k]["tables"].get(table)
            cells.append(f"{t['copied']:,} ({t['n_tup_ins']:,})" if t else "-")
        print(f"{table:<42}" + "".join(f" {c:>20}" for c in cells))
    for kind, tables_updated in result["updated_not_inserted"].items():
        if tables_updated:
            listed = ", ".join(f"{t} {n:,}" for t, n in sorted(tables_updated.items()))
            print(f"{kind}: updated, not inserted (not part of the raw insert rate): {listed} rows updated")
    print(f"load average before {result['machine']['loadavg_before']}, after {result['machine']['loadavg_after']}")
    for line in result["notes"]:
        print("NOTE:", line)
    for line in result["problems"]:
        print("PROBLEM:", line)


if __name__ == "__main__":
    sys.exit(main())
