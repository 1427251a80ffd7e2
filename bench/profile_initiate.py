"""Where the time of one payment initiation goes: its SQL queries and a profile, in-process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/deltran_bench .venv/bin/python bench/profile_initiate.py [-n 300]

Run after bench/initiate_http.py (which leaves the migrated, loaded deltran_bench
database behind). Not a benchmark: it goes through the whole Django stack with the
test client (middleware, DRF, JWT, the view, the pipeline), with a unique
Idempotency-Key per request like the HTTP benchmark, and prints

* the SQL of one initiation request and one GET /api/v1/auth/me, with each query's time;
* the wall time per request split into time spent in the database driver and the rest;
* the top functions of a cProfile of n requests (cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deltran.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/deltran_bench")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from deltran.clients import api_client_set  # noqa: E402

PAYMENT = {
    "sender_bic": "ENBXAEADXXX",
    "receiver_bic": "SBININBBXXX",
    "amount": "125000.50",
    "currency": "USD",
    "debtor_name": "Acme Trading LLC",
    "creditor_name": "Mumbai Textiles Pvt Ltd",
}

# With --accounts: the parties' IBANs, encrypted at rest by deltran/crypto.py.
ACCOUNTS = {"debtor_iban": "AE070331234567890123456", "creditor_iban": "DE89370400440532013000"}


def backend_cpu(pid: int) -> float:
    """CPU seconds used so far by a process (the PostgreSQL backend serving this connection)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    rest = raw[raw.rindex(")") + 2 :].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


class DbTimer:
    """A connection.execute_wrapper that adds up the time spent in the driver (round trips included)."""

    def __init__(self):
        self.seconds = 0.0
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - t0
            self.count += 1


# (label, file suffix, function name): cumulative time of these, per request, from the profile.
PHASES = [
    ("whole request (test client, all middleware)", "django/core/handlers/base.py", "get_response"),
    ("  DRF APIView.dispatch", "rest_framework/views.py", "dispatch"),
    ("    JWT authentication (decode + user query)", "rest_framework_simplejwt/authentication.py", "authenticate"),
    ("    rate limit + IP allow-list (one cache round trip)", "deltran/ratelimit.py", "allow_request"),
    ("    role check (groups query)", "deltran/roles.py", "user_roles"),
    ("    request.data (JSON parse)", "rest_framework/request.py", "data"),
    ("    request_fingerprint", "deltran/idempotency.py", "request_fingerprint"),
    ("    idempotent_call", "deltran/idempotency.py", "idempotent_call"),
    ("      PaymentInitiateSerializer.is_valid", "rest_framework/serializers.py", "is_valid"),
    ("      payment_initiate (pipeline + persist)", "payments/services.py", "payment_initiate"),
    ("        _run_pipeline (validation stages)", "payments/services.py", "_run_pipeline"),
    ("        _persist (3 INSERTs + audit)", "payments/services.py", "_persist"),
    ("          audit_record_many (lock, SELECT, INSERT)", "deltran/audit.py", "audit_record_many"),
    ("          account encryption (Fernet, --accounts)", "deltran/crypto.py", "encrypt_text"),
    ("      payment_detail (re-read SELECT)", "payments/selectors.py", "payment_detail"),
    ("      Serializer.data (detail + timeline SELECT)", "rest_framework/serializers.py", "data"),
    ("  JSONRenderer.render", "rest_framework/renderers.py", "render"),
    ("all SQL execute (ORM compile excluded; driver, adapt, fetch)", "django/db/backends/utils.py", "_execute"),
    ("all SQL compile + execute (SQLCompiler.execute_sql)", "django/db/models/sql/compiler.py", "execute_sql"),
]


def phases(profiler: cProfile.Profile, n: int) -> None:
    stats = pstats.Stats(profiler).stats
    print(f"\n== initiation CPU time of the Django process by phase, ms per request (cProfile of {n} requests)")
    for label, suffix, func in PHASES:
        # Several matches (Serializer.data calls BaseSerializer.data): the outermost has the largest time.
        total, calls = max(
            (
                (ct, nc)
                for (filename, _line, name), (_cc, nc, _tt, ct, _callers) in stats.items()
                if name == func and (filename.endswith(suffix) or suffix == "~" and filename == "~")
            ),
            default=(0.0, 0),
        )
        if calls:
            print(f"{label:<52} {total / n * 1000:7.2f} ms  ({calls / n:.1f} calls)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=300, help="requests to time and profile")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument(
        "--accounts", action="store_true", help="payments carry a debtor and a creditor IBAN (encrypted at rest)"
    )
    args = parser.parse_args()

    # The operator's requests go through the bench's API client, whose rate limit the profile cannot reach.
    api_client_set(name="bench", username="operator", rate_limit_per_minute=100_000_000)
    client = Client(HTTP_HOST="127.0.0.1")
    resp = client.post(
        "/api/v1/auth/login",
        data=json.dumps({"username": "operator", "password": "deltran-operator"}),
        content_type="application/json",
    )
    assert resp.status_code == 200, resp.content
    auth = {"HTTP_AUTHORIZATION": f"Bearer {resp.json()['access']}"}
    body = json.dumps(PAYMENT | (ACCOUNTS if args.accounts else {}))

    def initiate():
        r = client.post(
            "/api/v1/payments/initiate",
            data=body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=f"profile-{uuid.uuid4().hex}",
            **auth,
        )
        assert r.status_code == 201, r.content
        return r

    def me():
        r = client.get("/api/v1/auth/me", **auth)
        assert r.status_code == 200, r.content
        return r

    for _ in range(20):  # warm: imports, directory cache, connection
        initiate()
        me()

    for name, call in (("POST /api/v1/payments/initiate", initiate), ("GET /api/v1/auth/me", me)):
        with CaptureQueriesContext(connection) as ctx:
            call()
        print(f"\n== {name}: {len(ctx.captured_queries)} queries")
        for i, q in enumerate(ctx.captured_queries, 1):
            sql = q["sql"] if len(q["sql"]) < 400 else q["sql"][:400] + " ..."
            print(f"{i:>2}. [{float(q['time']) * 1000:6.2f} ms] {sql}")

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    cpu_cost = {}
    for name, call in (("GET /api/v1/auth/me", me), ("POST /api/v1/payments/initiate", initiate)):
        timer = DbTimer()
        with connection.execute_wrapper(timer):
            pg0, cpu0, t0 = backend_cpu(backend), time.process_time(), time.perf_counter()
            for _ in range(args.n):
                call()
            wall, cpu, pg = time.perf_counter() - t0, time.process_time() - cpu0, backend_cpu(backend) - pg0
        per = wall / args.n * 1000
        db = timer.seconds / args.n * 1000
        cpu_ms, pg_ms = cpu / args.n * 1000, pg / args.n * 1000
        cpu_cost[name] = cpu_ms + pg_ms
        print(
            f"\n== {name}: {per:.2f} ms wall per request in-process ({args.n} requests, one client, no HTTP server);"
            f"\n   waiting on the database driver {db:.2f} ms ({timer.count / args.n:.1f} statements besides"
            f" BEGIN/COMMIT), the rest {per - db:.2f} ms;"
            f"\n   CPU: Django process {cpu_ms:.2f} ms + PostgreSQL backend {pg_ms:.2f} ms = {cpu_ms + pg_ms:.2f} ms"
        )
    me_cost, init_cost = cpu_cost["GET /api/v1/auth/me"], cpu_cost["POST /api/v1/payments/initiate"]
    print(
        f"\n== CPU-bound ratio estimate (me CPU / initiate CPU, without HTTP parsing and the client): "
        f"{me_cost:.2f} / {init_cost:.2f} = {me_cost / init_cost:.3f}"
    )

    # CPU time, not wall time: waits on PostgreSQL (round trips, the audit lock, the WAL flush) drop out,
    # leaving what the Django process itself spends, the resource two sync workers on two cores run out of.
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(args.n):
        initiate()
    profiler.disable()
    phases(profiler, args.n)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative")
    stats.print_stats(args.top)
    print(f"\n== cProfile (CPU time) of {args.n} initiation requests (cumulative)")
    print(out.getvalue())
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(25)
    print(f"\n== cProfile (CPU time) of {args.n} initiation requests (own time)")
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
