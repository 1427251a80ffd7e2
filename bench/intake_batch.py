"""Benchmark (not a test): bulk intake over HTTP on PostgreSQL, beside the database's raw batched-insert rate.

    .venv/bin/python bench/intake_batch.py [--messages 12 --size 1000 --connections 3]

What it does, and undoes:
1. drops and recreates a dedicated PostgreSQL database (``deltran_bench_batch``), migrates it and loads the
   4-bank scenario with its demo users (an API client with a limit no run reaches, as bench/initiate_http.py);
2. starts gunicorn (2 sync workers, DEBUG off, persistent connections) on a free 127.0.0.1 port;
3. builds the messages beforehand: pacs.008.001.08 messages of ``--size`` transactions and JSON batches of
   ``--size`` payments (unique MsgId/EndToEndId and keys, 5,000 debtors, the four banks' USD accounts);
4. posts them end to end (parsing, validation, FX, screening and risk, routing, liquidity, pacs.002 or JSON
   answer) from ``--connections`` concurrent keep-alive connections, after one warm-up message of each kind,
   and counts payments/s from the first request sent to the last answer received;
5. measures the raw rate of the same database for the same rows: the payment rows the run wrote, copied out
   beforehand, are COPY'd in chunks of ``--size`` (one transaction each) into a scratch table with the same
   columns, indexes and constraints (``LIKE payments_payment INCLUDING ALL``);
6. prints both rates and the ratio (targets: >= 3,000 payments/s and >= 40 % of raw), the CPU used by
   gunicorn, PostgreSQL and the client, the machine's load; writes JSON to bench/results/ (git-ignored);
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


def raw_copy_rate(database_url: str, size: int, rows: int) -> dict:
    """COPY the run's payment rows, `size` a transaction, into a scratch table shaped like payments_payment."""
    conn = pg_connect(database_url)
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            buffer = io.StringIO()
            cur.copy_expert(
                f"COPY (SELECT * FROM payments_payment ORDER BY created_at LIMIT {int(rows)}) TO STDOUT", buffer
            )
            lines = buffer.getvalue().splitlines(keepends=True)
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
            cur.execute("DROP TABLE bench_raw_payment")
        conn.commit()
    finally:
        conn.close()
    return {"rows": copied, "seconds": round(seconds, 3), "rows_per_s": round(copied / seconds, 1)}


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

    port = free_port()
    server = Server(args, env, port, RESULTS_DIR / f"gunicorn-batch-{stamp}.log")

    def on_signal(signum, frame):
        server.stop()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    results: dict = {}
    problems: list[str] = []
    try:
        log(f"starting gunicorn on 127.0.0.1:{port} ({args.workers} sync workers)")
        server.start()
        status, body = http_call("POST", server.base + LOGIN_PATH, body={"username": USERNAME, "password": PASSWORD})
        if status != 200:
            raise SystemExit(f"login failed: {status} {body[:300]!r}")
        token = json.loads(body)["access"]
        for kind, path, content_type, bodies in (
            ("pacs008", PACS008_PATH, "application/xml", pacs),
            ("json_batch", BATCH_PATH, "application/json", batches),
        ):
            log(f"{kind}: warm-up message")
            warm = post_all(port, token, path, content_type, bodies[:1], 1)
            if warm["statuses"] != {"200": 1}:
                raise SystemExit(f"{kind} warm-up answered {warm}")
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
    rows = args.messages * args.size
    log(f"raw: COPY of {rows} payment rows in chunks of {args.size}")
    raw = raw_copy_rate(database_url, args.size, rows)
    log(f"raw: {raw['rows_per_s']:.0f} rows/s")
    worst = min(results[k]["payments_per_s"] for k in results) if results else 0.0
    result = {
        "benchmark": "intake_batch",
        "at": stamp,
        "messages": args.messages,
        "size": args.size,
        "connections": args.connections,
        "workers": args.workers,
        "results": results,
        "raw": raw,
        "ratios": {k: round(v["payments_per_s"] / raw["rows_per_s"], 3) for k, v in results.items()},
        "target_rate": TARGET_RATE,
        "target_ratio": TARGET_RATIO,
        "meets_rate": worst >= TARGET_RATE,
        "meets_ratio": bool(results) and worst / raw["rows_per_s"] >= TARGET_RATIO,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "problems": problems,
    }
    print()
    print(f"{'kind':<12} {'payments/s':>11} {'raw rows/s':>11} {'ratio':>7}  target >= {TARGET_RATE:,.0f}/s, >= 40 %")
    for kind, x in results.items():
        print(f"{kind:<12} {x['payments_per_s']:>11,.0f} {raw['rows_per_s']:>11,.0f} {result['ratios'][kind]:>7.3f}")
        print(f"{'':<12} cpu cores: {x.get('cpu_cores_used')}")
    print(f"load average before {load_before}, after {result['machine']['loadavg_after']}")
    for line in problems:
        print("PROBLEM:", line)
    text = json.dumps(result, indent=2)
    (RESULTS_DIR / f"intake_batch-{stamp}.json").write_text(text)
    if args.json_out:
        args.json_out.write_text(text)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
