"""Benchmark (not a test): what the API edge adds per request and per payment, in-process, in microseconds.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/deltran_bench REDIS_URL=redis://127.0.0.1:6379/15 \\
        .venv/bin/python bench/api_edge.py [-n 20000]

Measures, each as the median of 5 rounds of n calls, wall time (a Redis round trip counts) and CPU time:

* the rate-limit counter (`deltran.ratelimit.counter_hit`): on Redis when REDIS_URL is set (one INCR round trip),
  and on the embedded default's file cache;
* the whole throttle for a user with an API client (`ApiRateLimit.allow_request`: the per-process client map,
  the IP allow-list check, one counter hit);
* encrypting and decrypting one IBAN (`deltran.crypto`, Fernet), the cost per encrypted party field of a payment;
* one JSON access-log line (request id filter + python-json-logger), written to an in-memory stream.

Needs a migrated database with the demo users (bench/initiate_http.py leaves `deltran_bench` behind; or migrate and
`load_scenario` any database). Creates or updates the API client `bench` for the demo operator, as
bench/initiate_http.py does.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deltran.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/deltran_bench")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache import caches  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402
from rest_framework.test import APIRequestFactory, force_authenticate  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from deltran.clients import api_client_set  # noqa: E402
from deltran.crypto import decrypt_text, encrypt_text  # noqa: E402
from deltran.ratelimit import ApiRateLimit, counter_hit  # noqa: E402
from deltran.requestid import RequestContextFilter  # noqa: E402

IBAN = "AE070331234567890123456"


def per_call_us(call, n: int, rounds: int = 5) -> tuple[float, float]:
    """Median wall and CPU microseconds per call: wall counts a Redis round trip, CPU is what other load on the
    machine changes least."""
    wall, cpu = [], []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            call()
        wall.append((time.perf_counter() - t0) / n * 1e6)
        cpu.append((time.process_time() - c0) / n * 1e6)
    return statistics.median(wall), statistics.median(cpu)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20000)
    args = parser.parse_args()
    n = args.n
    rows: list[tuple[str, tuple[float, float]]] = []

    backend = type(caches["ratelimit"]).__name__
    key = f"bench-{uuid.uuid4().hex}"
    rows.append((f"rate-limit counter hit ({backend})", per_call_us(lambda: counter_hit(key, ttl=120), n)))
    if backend == "RedisCache":
        files = {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": f"/tmp/deltran-bench-ratelimit-{uuid.uuid4().hex}",
        }
        with override_settings(CACHES={**settings.CACHES, "ratelimit": files}):
            rows.append(("rate-limit counter hit (FileBasedCache)", per_call_us(lambda: counter_hit(key, ttl=120), n)))

    user = get_user_model().objects.get(username="operator")
    api_client_set(name="bench", username="operator", rate_limit_per_minute=100_000_000, allowed_networks="")
    request = APIRequestFactory().get("/api/v1/auth/me", REMOTE_ADDR="127.0.0.1")
    force_authenticate(request, user=user)
    drf_request = APIView().initialize_request(request)
    drf_request.user = user
    throttle = ApiRateLimit()
    assert throttle.allow_request(drf_request, None)
    rows.append(
        (
            "ApiRateLimit.allow_request (API client, counter hit)",
            per_call_us(lambda: throttle.allow_request(drf_request, None), n),
        )
    )

    token = encrypt_text(IBAN)
    rows.append(("encrypt one IBAN (Fernet)", per_call_us(lambda: encrypt_text(IBAN), n)))
    rows.append(("decrypt one IBAN (Fernet)", per_call_us(lambda: decrypt_text(token), n)))

    options = dict(settings.LOGGING["formatters"]["json"])
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(import_string(options.pop("()"))(**options))
    handler.addFilter(RequestContextFilter())
    access = logging.getLogger("bench.access")
    access.propagate = False
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    extra = {"method": "POST", "path": "/api/v1/payments/initiate", "status": 201, "duration_ms": 7.31}
    rows.append(
        (
            "one JSON access-log line",
            per_call_us(
                lambda: access.info("%s %s %s %.2fms", "POST", "/api/v1/payments/initiate", 201, 7.31, extra=extra), n
            ),
        )
    )

    print(f"\n== API edge costs, median of 5 rounds of {n} calls, per call (load average {os.getloadavg()[0]:.1f})")
    print(f"{'':<58} {'wall':>9} {'CPU':>9}")
    for label, (wall, cpu) in rows:
        print(f"{label:<58} {wall:7.1f} µs {cpu:6.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
