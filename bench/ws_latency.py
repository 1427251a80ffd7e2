"""Benchmark of event latency from commit to a WebSocket client, at 500 payments/s.

    .venv/bin/python bench/ws_latency.py [--rate 500] [--seconds 30] [--clients 5] [--writers 4] [--embedded]
        [--database-url postgres://postgres@127.0.0.1:5432/deltran_ws_bench] [--json-out F]

1. prepare: drop and create the database (PostgreSQL; ``--embedded``: a fresh SQLite file), ``migrate``,
   ``load_scenario``; an operator's JWT.
2. run: one Daphne process (``deltran.asgi``, as ``make run``), its outbox relay polling every OUTBOX_POLL_SECONDS;
   ``--clients`` WebSocket clients (autobahn, in this process) subscribe to ``payment_update``; ``--writers``
   processes commit ``--rate`` transactions per second in all, each writing one ``payments.payment_update`` outbox
   row as intake does, and note the wall-clock time right after COMMIT. A client notes when each event arrives.
   The payment rows themselves are not written: what is measured is commit → relay → socket, not intake
   (bench/initiate_http.py measures intake).
3. report: latency percentiles over every (event, client) pair, events lost or received twice, messages per client
   per second (payment updates are batched); the target is p99 <= 1 s.

Not a test: it reports figures and the target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/deltran_ws_bench"
TARGET_P99_S = 1.0

WRITER = r"""
import json, os, sys, time
sys.path.insert(0, os.environ["DELTRAN_ROOT"])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deltran.settings")
import django; django.setup()
from django.db import transaction
from deltran.events import event_record
rate, seconds, start_at = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
out, index = sys.argv[4], sys.argv[5]
while time.time() < start_at:
    time.sleep(0.001)
done = []
n = 0
begin = time.monotonic()
while True:
    elapsed = time.monotonic() - begin
    if elapsed >= seconds:
        break
    due = int(elapsed * rate) + 1
    if n >= due:
        time.sleep(max(0.0, (n / rate) - elapsed))
        continue
    key = f"bench-{index}-{n}"
    with transaction.atomic():
        event_record(topic="payments", event_type="payments.payment_update", payload={
            "id": key, "payment_reference": f"BENCH{index}{n:08d}", "status": "queued",
            "amount": "100.00", "currency": "USD", "sender_bic": "ENBXAEADXXX", "receiver_bic": "SBININBBXXX",
            "awaiting_liquidity": False, "updated_at": "2026-01-01T00:00:00Z"})
    done.append((key, time.time()))
    n += 1
with open(out, "w") as f:
    json.dump(done, f)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _recreate_database(database_url: str) -> None:
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
    with admin.cursor() as cursor:
        name = url.path.lstrip("/")
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def prepare(env: dict) -> str:
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*manage, "load_scenario"], cwd=ROOT, env=env, check=True, capture_output=True)
    code = (
        "import django; django.setup();"
        "from django.contrib.auth import get_user_model;"
        "from rest_framework_simplejwt.tokens import RefreshToken;"
        "print(RefreshToken.for_user(get_user_model().objects.get(username='operator')).access_token)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


async def run_clients(port: int, token: str, clients: int, writers: list, drain: float) -> list[dict]:
    from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketClientProtocol

    loop = asyncio.get_running_loop()
    results: list[dict] = []
    ready: list[asyncio.Future] = []

    class Client(WebSocketClientProtocol):
        def onOpen(self):
            self.received: dict[int, float] = {}
            self.duplicates = 0
            self.messages = 0
            self._result = {"received": self.received, "duplicates": 0, "messages": 0, "omitted": 0}
            results.append(self._result)
            self.sendMessage(json.dumps({"action": "subscribe", "topics": ["payment_update"]}).encode())

        def onMessage(self, payload, is_binary):
            now = time.time()
            message = json.loads(payload)
            if message["type"] == "subscribed":
                self.factory.ready.set_result(True)
                return
            if message["type"] != "payment_update":
                return
            self.messages += 1
            for event in message["events"]:
                key = event["data"]["id"]  # the writer's key for the transaction it committed
                if key in self.received:
                    self.duplicates += 1
                else:
                    self.received[key] = now
            self._result.update(duplicates=self.duplicates, messages=self.messages)
            self._result["omitted"] += message.get("omitted", 0)

    for _ in range(clients):
        factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}/api/v1/ws?token={token}", origin="http://127.0.0.1")
        factory.protocol = Client
        factory.ready = loop.create_future()
        ready.append(factory.ready)
        await loop.create_connection(factory, "127.0.0.1", port)
    await asyncio.wait_for(asyncio.gather(*ready), timeout=60)
    # Listen until every writer has finished (they may start late on a busy machine), then a little longer.
    await loop.run_in_executor(None, lambda: [writer.wait(timeout=600) for writer in writers])
    await asyncio.sleep(drain)
    return results


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=500.0, help="committed payment updates per second, in all")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--embedded", action="store_true", help="a fresh SQLite file instead of PostgreSQL")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--json-out")
    args = parser.parse_args()

    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="deltran-ws-bench-"))
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="deltran.settings", DELTRAN_VAR_DIR=str(tmp), DELTRAN_ROOT=str(ROOT))
    if not args.embedded:
        _recreate_database(args.database_url)
        env["DATABASE_URL"] = args.database_url
    token = prepare(env)
    port = _free_port()
    daphne = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("daphne")),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "deltran.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=(tmp / "daphne.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    writers: list[subprocess.Popen] = []
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        start_at = time.time() + 8  # writers start together, once the clients are subscribed
        outs = [tmp / f"writer-{i}.json" for i in range(args.writers)]
        for i, out in enumerate(outs):
            writers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        WRITER,
                        str(args.rate / args.writers),
                        str(args.seconds),
                        str(start_at),
                        str(out),
                        str(i),
                    ],
                    cwd=ROOT,
                    env=env,
                )
            )
        results = asyncio.run(run_clients(port, token, args.clients, writers, drain=5.0))
        committed = dict(pair for out in outs for pair in json.loads(out.read_text()))
    finally:
        for process in (*writers, daphne):
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=20)

    latencies = sorted(
        client["received"][event_id] - at
        for client in results
        for event_id, at in committed.items()
        if event_id in client["received"]
    )
    lost = sum(1 for client in results for event_id in committed if event_id not in client["received"])
    first, last = min(committed.values()), max(committed.values())
    achieved = len(committed) / (last - first) if last > first else 0.0
    result = {
        "mode": "embedded (SQLite)" if args.embedded else "PostgreSQL",
        "rate_target": args.rate,
        "rate_achieved": round(achieved, 1),
        "events": len(committed),
        "clients": args.clients,
        "writers": args.writers,
        "seconds": args.seconds,
        "p50_s": round(percentile(latencies, 0.50), 4) if latencies else None,
        "p95_s": round(percentile(latencies, 0.95), 4) if latencies else None,
        "p99_s": round(percentile(latencies, 0.99), 4) if latencies else None,
        "max_s": round(latencies[-1], 4) if latencies else None,
        "lost": lost,
        "duplicates": sum(client.get("duplicates", 0) for client in results),
        "messages_per_client_per_s": round(
            sum(client.get("messages", 0) for client in results) / max(len(results), 1) / args.seconds, 1
        ),
        "target_p99_s": TARGET_P99_S,
        "machine": {
            "cpus": os.cpu_count(),
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
        },
    }
    result["meets_target"] = bool(latencies) and result["p99_s"] <= TARGET_P99_S and lost == 0
    result["problems"] = [f"{lost} events lost"] if lost else []
    print(json.dumps(result, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    return 1 if result["problems"] or not latencies else 0


if __name__ == "__main__":
    sys.exit(main())
