"""Benchmark (not a test): single-payment initiation over HTTP on PostgreSQL, beside a trivial DRF endpoint.

    .venv/bin/python bench/initiate_http.py [--duration 20 --connections 32]

What it does, and undoes:

1. drops and recreates a dedicated PostgreSQL database (``deltran_bench``), migrates it
   and loads the 4-bank scenario with its demo users;
2. starts gunicorn (sync workers, 2 by default, DEBUG off, persistent DB connections)
   on a free 127.0.0.1 port, as production serves the API (DESIGN.md, "Serving");
3. logs in as the demo operator, checks one request of each kind by hand, warms up;
4. measures, with wrk at 32 connections for a fixed duration each,
   ``GET /api/v1/auth/me`` (the trivial authenticated DRF endpoint: same JWT auth and
   role check) and ``POST /api/v1/payments/initiate`` (a unique Idempotency-Key per
   request, as integrators send them);
5. prints requests/s, p50 and p99 of both and the ratio initiate/trivial (target >= 0.5),
   checks every response was 2xx and that the database holds one payment per 201,
   writes a JSON result to bench/results/ (git-ignored);
6. stops gunicorn, also on error or Ctrl-C.

wrk (Debian package ``wrk``) is the client because a Python client would take CPU from
the server on a 2-core machine. Without wrk the script falls back to a Python asyncio
client and says so in its output and its JSON: those figures understate the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
TARGET_RATIO = 0.5

LOGIN_PATH = "/api/v1/auth/login"
TRIVIAL_PATH = "/api/v1/auth/me"
INITIATE_PATH = "/api/v1/payments/initiate"
USERNAME, PASSWORD = "operator", "deltran-operator"
BENCH_CLIENT, BENCH_RATE_PER_MINUTE = "bench", 100_000_000
PAYMENT = {
    "sender_bic": "ENBXAEADXXX",
    "receiver_bic": "SBININBBXXX",
    "amount": "125000.50",
    "currency": "USD",
    # Each request names one of 5,000 debtors (__N__ is replaced per request), as a bank's traffic does: the
    # screening's velocity check then reads one customer's recent payments, not the whole benchmark's.
    "debtor_name": "Bench Customer __N__",
    "creditor_name": "Mumbai Textiles Pvt Ltd",
}
DEBTORS = 5000

# --- wrk Lua --------------------------------------------------------------------------
# Every thread counts its responses by class; done() sums the threads and prints one JSON
# line (marked) with wrk's own latency percentiles. Bodies of the first few non-2xx
# responses are kept so errors can be reported.

LUA_COMMON = r"""
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

ok2xx = 0
non2xx = 0
statuses = ""
samples = ""
local seen = {}

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok2xx = ok2xx + 1
  else
    non2xx = non2xx + 1
    seen[status] = (seen[status] or 0) + 1
    local parts = {}
    for code, n in pairs(seen) do table.insert(parts, code .. ":" .. n) end
    statuses = table.concat(parts, ",")
    if #samples < 2000 then
      samples = samples .. status .. " " .. string.sub(body or "", 1, 300) .. "\n"
    end
  end
end

local function jstr(s)
  s = string.gsub(s, '\\', '\\\\')
  s = string.gsub(s, '"', '\\"')
  s = string.gsub(s, '\n', '\\n')
  s = string.gsub(s, '[%c]', ' ')
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local ok, bad, st, smp = 0, 0, {}, ""
  for _, t in ipairs(threads) do
    ok = ok + t:get("ok2xx")
    bad = bad + t:get("non2xx")
    local s = t:get("statuses")
    if s ~= "" then table.insert(st, s) end
    smp = smp .. t:get("samples")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"duration_us":%d,"requests":%d,"bytes":%d,"ok_2xx":%d,"non_2xx":%d,"non_2xx_statuses":%s,' ..
    '"non_2xx_samples":%s,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"stdev":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.duration, summary.requests, summary.bytes, ok, bad, jstr(table.concat(st, ",")), jstr(smp),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
"""

LUA_GET = r"""
local token = os.getenv("BENCH_TOKEN")
function init(args)
  wrk.method = "GET"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Accept"] = "application/json"
end
"""

LUA_POST = r"""
local token = os.getenv("BENCH_TOKEN")
local body = os.getenv("BENCH_BODY")
local prefix = ""
local counter = 0

function init(args)
  -- args[1]: a run nonce, so keys never repeat across runs; tid: this thread.
  prefix = "bench-" .. (args[1] or "x") .. "-" .. tid .. "-"
end

function request()
  counter = counter + 1
  return wrk.format("POST", nil, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
    ["Idempotency-Key"] = prefix .. counter,
  }, (body:gsub("__N__", tostring((counter * 7919 + tid) % 5000))))
end
"""


# --- helpers --------------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def db_url(admin_url: str, dbname: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, ""))


def pg_connect(url: str):
    import psycopg2

    parts = urlsplit(url)
    conn = psycopg2.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname=(parts.path or "/postgres").lstrip("/") or "postgres",
    )
    conn.autocommit = True
    return conn


def recreate_database(admin_url: str, dbname: str) -> None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", dbname):
        raise SystemExit(f"refusing odd database name {dbname!r}")
    conn = pg_connect(admin_url)
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{dbname}"')
    finally:
        conn.close()


def count_rows(url: str, table: str) -> int:
    conn = pg_connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")  # fixed table names only
            return cur.fetchone()[0]
    finally:
        conn.close()


def settled_count(url: str, table: str = "payments_payment", quiet: float = 0.5, limit: float = 15) -> int:
    """The row count once requests left over from a stopped client have been served."""
    last = count_rows(url, table)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = count_rows(url, table)
        if now == last:
            return now
        last = now
    return last


class CpuSnapshot:
    """System-wide CPU time from /proc/stat and per-process CPU time, to say who used the CPUs during a run."""

    HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self):
        self.at = time.monotonic()
        # The load client: wrk has exited (and been reaped) by the second snapshot, so its time is in our
        # children's usage; the Python fallback client is this process.
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = resource.getrusage(resource.RUSAGE_SELF)
        self.client_seconds = children.ru_utime + children.ru_stime + own.ru_utime + own.ru_stime
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        self.idle = fields[3] + fields[4]  # idle + iowait
        self.total = sum(fields[:8])  # without guest time, already counted in user
        self.procs: dict[int, tuple[str, int, int]] = {}  # pid -> (comm, pgid, jiffies)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            comm = raw[raw.index("(") + 1 : raw.rindex(")")]
            rest = raw[raw.rindex(")") + 2 :].split()
            self.procs[int(entry.name)] = (comm, int(rest[2]), int(rest[11]) + int(rest[12]))

    @classmethod
    def take(cls) -> CpuSnapshot | None:
        try:
            return cls()
        except (OSError, ValueError, IndexError):
            return None

    def since(self, before: CpuSnapshot, server_pgid: int | None) -> dict:
        """CPU used between two snapshots, in cores (1.0 = one CPU busy all the time)."""
        seconds = max(1e-6, self.at - before.at)
        cpus = os.cpu_count() or 1
        busy = ((self.total - before.total) - (self.idle - before.idle)) / max(1, self.total - before.total) * cpus
        groups = {"gunicorn": 0, "postgres": 0}
        for pid, (comm, pgid, jiffies) in self.procs.items():
            prev = before.procs.get(pid)
            used = jiffies - (prev[2] if prev and prev[0] == comm else 0)
            if server_pgid is not None and pgid == server_pgid:
                groups["gunicorn"] += used
            elif comm == "postgres":
                groups["postgres"] += used
        cores = {name: round(j / self.HZ / seconds, 2) for name, j in groups.items()}
        cores["client"] = round((self.client_seconds - before.client_seconds) / seconds, 2)
        cores["all"] = round(busy, 2)
        cores["other"] = round(max(0.0, busy - sum(v for k, v in cores.items() if k != "all")), 2)
        return cores


def idle_share(seconds: float = 2.0) -> float | None:
    """Share of all CPUs idle over a short sample."""
    a = CpuSnapshot.take()
    time.sleep(seconds)
    b = CpuSnapshot.take()
    if a is None or b is None:
        return None
    return round((b.idle - a.idle) / max(1, b.total - a.total), 3)


def wait_quiet(limit: float, threshold: float = 0.9) -> float | None:
    """Wait up to `limit` seconds for the machine to be at least `threshold` idle; returns the last idle share."""
    deadline = time.monotonic() + limit
    idle = idle_share()
    while idle is not None and idle < threshold and time.monotonic() < deadline:
        log(f"  CPUs only {idle:.0%} idle (other work on the machine); waiting for quiet")
        time.sleep(3)
        idle = idle_share()
    return idle


def server_env(args, database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="deltran.settings",
        DATABASE_URL=database_url,
        DEBUG="0",
        LOG_LEVEL="WARNING",
        # The token must outlive the run (default lifetime is 15 minutes).
        JWT_ACCESS_MINUTES="240",
        PYTHONUNBUFFERED="1",
    )
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    else:
        env.pop("REDIS_URL", None)
    return env


def manage(env: dict[str, str], *argv: str) -> None:
    cmd = [sys.executable, str(ROOT / "manage.py"), *argv]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"manage.py {' '.join(argv)} failed ({proc.returncode})")


def http(method: str, url: str, *, body: dict | None = None, headers: dict | None = None, timeout: float = 30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Server:
    """gunicorn in its own process group; stop() is safe to call more than once."""

    def __init__(self, args, env: dict[str, str], port: int, log_path: Path):
        self.args, self.env, self.port, self.log_path = args, env, port, log_path
        self.proc: subprocess.Popen | None = None
        self.pgid: int | None = None
        self.base = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        cmd = [
            str(gunicorn),
            "deltran.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.args.workers),
            "--worker-class",
            "sync",
            "--backlog",
            "2048",
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ]
        self.cmd = cmd
        self._log = open(self.log_path, "w")  # closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pgid = self.proc.pid  # its own session, so its own process group
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited ({self.proc.returncode}); see {self.log_path}")
            try:
                status, _ = http("GET", self.base + TRIVIAL_PATH, timeout=5)
                if status in (401, 403):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer within 60 s; see {self.log_path}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        self._log.close()
        if self.log_path.stat().st_size == 0:
            self.log_path.unlink()
        log(f"gunicorn (pid {proc.pid}) stopped; its output, if any, is in {self.log_path.name}")


def combine(runs: list[dict]) -> dict:
    """One endpoint's figures over its rounds: counts add up, req/s over the total time; percentiles are
    the median of the rounds' (wrk gives percentiles per run, not mergeable histograms)."""
    if len(runs) == 1:
        return runs[0]

    def median(values):
        values = sorted(values)
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2

    seconds = sum(r["seconds"] for r in runs)
    ok = sum(r["ok_2xx"] for r in runs)
    out = {
        "requests": sum(r["requests"] for r in runs),
        "seconds": round(seconds, 3),
        "rps": round(ok / seconds, 1) if seconds else 0.0,
        "p50_ms": round(median([r["p50_ms"] for r in runs]), 2),
        "p90_ms": round(median([r["p90_ms"] for r in runs]), 2),
        "p99_ms": round(median([r["p99_ms"] for r in runs]), 2),
        "max_ms": max(r["max_ms"] for r in runs),
        "mean_ms": round(sum(r["mean_ms"] * r["requests"] for r in runs) / max(1, sum(r["requests"] for r in runs)), 2),
        "ok_2xx": ok,
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "non_2xx_statuses": ",".join(r["non_2xx_statuses"] for r in runs if r["non_2xx_statuses"]),
        "non_2xx_samples": "".join(r["non_2xx_samples"] for r in runs)[:2000],
        "socket_errors": {k: sum(r["socket_errors"][k] for r in runs) for k in runs[0]["socket_errors"]},
        "percentiles_note": "p50/p90/p99: median over rounds of each round's wrk percentile",
        "rounds": runs,
    }
    if all("cpu_cores_used" in r for r in runs):
        out["cpu_cores_used"] = {
            k: round(sum(r["cpu_cores_used"][k] * r["seconds"] for r in runs) / seconds, 2)
            for k in runs[0]["cpu_cores_used"]
        }
    if all("payments_created_in_db" in r for r in runs):
        out["payments_created_in_db"] = sum(r["payments_created_in_db"] for r in runs)
    return out


# --- clients --------------------------------------------------------------------------


def wrk_version() -> str:
    proc = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    out = (proc.stdout + proc.stderr).strip().splitlines()
    first = out[0] if out else "wrk"
    return first.split(" Copyright")[0].replace("debian/", "")


def run_wrk(args, *, url: str, lua: str, seconds: float, env: dict[str, str], nonce: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(lua)
        script = fh.name
    try:
        cmd = [
            "wrk",
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            script,
            url,
            "--",
            nonce,
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(script)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if proc.returncode != 0 or line is None:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"wrk failed ({proc.returncode})")
    raw = json.loads(line[len("WRKJSON ") :])
    return summarise(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        ok=raw["ok_2xx"],
        non2xx=raw["non_2xx"],
        statuses=raw["non_2xx_statuses"],
        samples=raw["non_2xx_samples"],
        socket_errors=raw["errors"],
        lat_us=raw["latency_us"],
    )


def summarise(*, requests, seconds, ok, non2xx, statuses, samples, socket_errors, lat_us) -> dict:
    sock = {k: v for k, v in socket_errors.items() if k != "status"}
    return {
        "requests": requests,
        "seconds": round(seconds, 3),
        "rps": round(ok / seconds, 1) if seconds else 0.0,
        "p50_ms": round(lat_us["p50"] / 1000, 2),
        "p90_ms": round(lat_us["p90"] / 1000, 2),
        "p99_ms": round(lat_us["p99"] / 1000, 2),
        "max_ms": round(lat_us["max"] / 1000, 2),
        "mean_ms": round(lat_us["mean"] / 1000, 2),
        "ok_2xx": ok,
        "non_2xx": non2xx,
        "non_2xx_statuses": statuses,
        "non_2xx_samples": samples[:2000],
        "socket_errors": sock,
    }


async def _py_client(host: str, port: int, raw_requests, seconds: float, connections: int) -> dict:
    """Fallback closed-loop HTTP/1.1 client: one coroutine per connection, reconnecting when the server closes."""
    latencies: list[float] = []
    counts = {"ok": 0, "non2xx": 0, "requests": 0}
    statuses: dict[int, int] = {}
    samples: list[str] = []
    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    stop_at = time.perf_counter() + seconds

    async def one(worker: int) -> None:
        reader = writer = None
        n = 0
        while time.perf_counter() < stop_at:
            n += 1
            payload = raw_requests(worker, n)
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                t0 = time.perf_counter()
                writer.write(payload)
                await writer.drain()
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                hdrs = {ln.split(":", 1)[0].lower(): ln.split(":", 1)[1].strip() for ln in lines[1:] if ":" in ln}
                body = await reader.readexactly(int(hdrs.get("content-length", "0")))
                latencies.append(time.perf_counter() - t0)
                counts["requests"] += 1
                if 200 <= status < 300:
                    counts["ok"] += 1
                else:
                    counts["non2xx"] += 1
                    statuses[status] = statuses.get(status, 0) + 1
                    if len(samples) < 5:
                        samples.append(f"{status} {body[:300].decode(errors='replace')}")
                if hdrs.get("connection", "").lower() == "close":
                    writer.close()
                    reader = writer = None
            except TimeoutError:
                errors["timeout"] += 1
                reader = writer = None
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                errors["read" if writer is not None else "connect"] += 1
                reader = writer = None

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1e6 if latencies else 0.0

    lat = {
        "p50": pct(50),
        "p90": pct(90),
        "p99": pct(99),
        "max": latencies[-1] * 1e6 if latencies else 0.0,
        "mean": sum(latencies) / len(latencies) * 1e6 if latencies else 0.0,
    }
    return summarise(
        requests=counts["requests"],
        seconds=elapsed,
        ok=counts["ok"],
        non2xx=counts["non2xx"],
        statuses=",".join(f"{k}:{v}" for k, v in statuses.items()),
        samples="\n".join(samples),
        socket_errors=errors,
        lat_us=lat,
    )


def run_python_client(args, *, port: int, kind: str, token: str, seconds: float, nonce: str) -> dict:
    body = json.dumps(PAYMENT).encode()

    def raw(worker: int, n: int) -> bytes:
        if kind == "trivial":
            return (
                f"GET {TRIVIAL_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
                "Accept: application/json\r\n\r\n"
            ).encode()
        return (
            f"POST {INITIATE_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Accept: application/json\r\nContent-Type: application/json\r\n"
            f"Idempotency-Key: bench-{nonce}-{worker}-{n}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    return asyncio.run(_py_client("127.0.0.1", port, raw, seconds, args.connections))


# --- main -----------------------------------------------------------------------------


def machine_info() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "git_commit": commit.stdout.strip(),
        "git_dirty": bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip()
        ),
    }


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=20, help="seconds measured per endpoint (default 20)")
    p.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="split --duration into this many alternating trivial/initiate rounds (default 1); on a shared "
        "machine, interleaving spreads other load evenly over both endpoints",
    )
    p.add_argument("--warmup", type=float, default=5, help="seconds of warm-up per endpoint (default 5)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (default 1, to leave the CPUs to the server)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    p.add_argument("--pg-admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--db", default="deltran_bench", help="database to (re)create (default deltran_bench)")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/15", help="REDIS_URL for the server ('' for none)")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=60,
        help="before each measurement wait up to this many seconds for the CPUs to be 90%% idle (0: do not wait)",
    )
    p.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--json-out", type=Path, help="also write the result JSON here")
    return p.parse_args(argv)


def print_table(result: dict) -> None:
    t, i = result["trivial"], result["initiate"]
    rows = [
        (f"GET {TRIVIAL_PATH}", t),
        (f"POST {INITIATE_PATH}", i),
    ]
    print()
    print(
        f"client: {result['client']}   connections: {result['connections']}   "
        f"duration: {result['duration_s']:g} s each"
        + (f" in {result['rounds']} alternating rounds" if result["rounds"] > 1 else "")
        + f"   gunicorn sync workers: {result['workers']}"
    )
    print(f"{'endpoint':<34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'2xx':>8} {'non-2xx':>8} {'sock err':>8}")
    for name, r in rows:
        sock = sum(r["socket_errors"].values())
        print(
            f"{name:<34} {r['rps']:>9.1f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{r['ok_2xx']:>8} {r['non_2xx']:>8} {sock:>8}"
        )
    for name, r in rows:
        cpu = r.get("cpu_cores_used")
        if cpu:
            per = r.get("cpu_ms_per_request", {})
            print(
                f"  CPU during {name.split()[1]} (cores of {result['machine']['cpus']}): gunicorn {cpu['gunicorn']}, "
                f"postgres {cpu['postgres']}, client {cpu['client']}, other processes {cpu['other']}"
                + ("  <- other work on the machine skews this run" if cpu["other"] > 0.2 else "")
            )
            if per:
                print(f"    per request: gunicorn {per['gunicorn']} ms CPU, postgres {per['postgres']} ms CPU")
    verdict = "meets" if result["ratio"] >= TARGET_RATIO else "BELOW"
    print(f"ratio initiate/trivial: {result['ratio']:.3f}  ({verdict} target >= {TARGET_RATIO})")
    if result.get("client_note"):
        print("NOTE:", result["client_note"])
    print()


def main(argv=None) -> int:
    args = parse_args(argv)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")

    client = args.client
    note = ""
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
        if client == "python":
            note = (
                "wrk not found (apt-get install wrk): used the Python asyncio fallback client, which shares the "
                "2 CPUs with the server; figures understate the server."
            )
    elif client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk, or --client python")
    if note:
        log("NOTE: " + note)

    if args.redis_url:
        try:
            import redis

            redis.Redis.from_url(args.redis_url, socket_connect_timeout=2).ping()
        except Exception as exc:
            log(f"Redis at {args.redis_url} unreachable ({exc}); running without REDIS_URL")
            args.redis_url = ""

    database_url = db_url(args.pg_admin_url, args.db)
    env = server_env(args, database_url)

    log(f"recreating database {args.db}")
    recreate_database(args.pg_admin_url, args.db)
    log("migrating")
    manage(env, "migrate", "--noinput")
    log("loading the scenario")
    manage(env, "load_scenario")
    # The demo operator sends every request: as an API client with a limit no run reaches, so the rate limit
    # (100/min per user by default) is counted on every request, as in production, but never refuses one.
    manage(env, "api_client_set", BENCH_CLIENT, "--user", USERNAME, "--rate", str(BENCH_RATE_PER_MINUTE))

    port = free_port()
    server = Server(args, env, port, RESULTS_DIR / f"gunicorn-{stamp}.log")

    def on_signal(signum, frame):
        server.stop()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    results: dict[str, dict] = {}
    warmups: dict[str, dict] = {}
    try:
        log(f"starting gunicorn on 127.0.0.1:{port} ({args.workers} sync workers)")
        server.start()

        status, body = http("POST", server.base + LOGIN_PATH, body={"username": USERNAME, "password": PASSWORD})
        if status != 200:
            raise SystemExit(f"login failed: {status} {body[:300]!r}")
        token = json.loads(body)["access"]
        auth = {"Authorization": f"Bearer {token}"}

        status, body = http("GET", server.base + TRIVIAL_PATH, headers=auth)
        if status != 200:
            raise SystemExit(f"{TRIVIAL_PATH} answered {status}: {body[:300]!r}")
        status, body = http(
            "POST", server.base + INITIATE_PATH, body=PAYMENT, headers={**auth, "Idempotency-Key": f"check-{stamp}"}
        )
        if status != 201:
            raise SystemExit(f"{INITIATE_PATH} answered {status}: {body[:500]!r}")
        sample = json.loads(body)
        log(f"checked by hand: {TRIVIAL_PATH} 200, {INITIATE_PATH} 201 (status {sample.get('status')})")

        wrk_env = {**os.environ, "BENCH_TOKEN": token, "BENCH_BODY": json.dumps(PAYMENT)}
        nonce = uuid.uuid4().hex[:12]

        def measure(kind: str, seconds: float, tag: str) -> dict:
            if client == "wrk":
                url = server.base + (TRIVIAL_PATH if kind == "trivial" else INITIATE_PATH)
                lua = LUA_COMMON + (LUA_GET if kind == "trivial" else LUA_POST)
                return run_wrk(args, url=url, lua=lua, seconds=seconds, env=wrk_env, nonce=f"{nonce}{tag}")
            return run_python_client(args, port=port, kind=kind, token=token, seconds=seconds, nonce=f"{nonce}{tag}")

        rounds: dict[str, list[dict]] = {"trivial": [], "initiate": []}
        per_round = args.duration / args.rounds
        for n in range(args.rounds):
            for kind in ("trivial", "initiate"):
                if n == 0 and args.warmup > 0:
                    log(f"warming up {kind} for {args.warmup:g} s")
                    warmups[kind] = measure(kind, args.warmup, "w")
                before = settled_count(database_url) if kind == "initiate" else 0
                idle = wait_quiet(args.wait_quiet) if args.wait_quiet > 0 else idle_share()
                if idle is not None:
                    log(f"CPUs idle before measuring {kind}: {idle:.0%}")
                    if idle < 0.9:
                        log("WARNING: other work on the machine; the figures will be low and noisy")
                label = f" (round {n + 1} of {args.rounds})" if args.rounds > 1 else ""
                log(f"measuring {kind} for {per_round:g} s at {args.connections} connections{label}")
                cpu0 = CpuSnapshot.take()
                r = measure(kind, per_round, f"m{n}")
                cpu1 = CpuSnapshot.take()
                r["cpu_idle_before"] = idle
                if cpu0 and cpu1:
                    r["cpu_cores_used"] = cpu1.since(cpu0, server.pgid)
                    log(f"  CPU used (cores of {os.cpu_count()}): {r['cpu_cores_used']}")
                log(
                    f"  {r['rps']:.1f} req/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
                    f"{r['ok_2xx']} 2xx, {r['non_2xx']} non-2xx"
                )
                if kind == "initiate":
                    # Requests still queued when the client stops are served after it has gone, so the
                    # database may hold up to one payment per connection more than the client saw.
                    r["payments_created_in_db"] = settled_count(database_url) - before
                rounds[kind].append(r)
        for kind, runs in rounds.items():
            results[kind] = r = combine(runs)
            cpu = r.get("cpu_cores_used")
            if cpu and r["rps"]:
                # Less sensitive to other load than req/s: what one request costs the server's processes.
                r["cpu_ms_per_request"] = {
                    "gunicorn": round(cpu["gunicorn"] / r["rps"] * 1000, 2),
                    "postgres": round(cpu["postgres"] / r["rps"] * 1000, 2),
                }
        created = results["initiate"]["payments_created_in_db"]
        ok = results["initiate"]["ok_2xx"]
        results["initiate"]["db_matches_2xx"] = ok <= created <= ok + args.connections * args.rounds
    finally:
        server.stop()

    problems = []
    for kind, r in {**{f"warm-up {k}": v for k, v in warmups.items()}, **results}.items():
        if r["non_2xx"]:
            problems.append(f"{kind}: {r['non_2xx']} non-2xx responses ({r['non_2xx_statuses']})")
            if r["non_2xx_samples"]:
                problems.append("  e.g. " + r["non_2xx_samples"].strip().splitlines()[0][:300])
        if any(r["socket_errors"].values()):
            problems.append(f"{kind}: socket errors {r['socket_errors']}")
    if results["initiate"].get("db_matches_2xx") is False:
        problems.append(
            f"initiate: {results['initiate']['ok_2xx']} responses 2xx but "
            f"{results['initiate']['payments_created_in_db']} payments in the database "
            f"(expected between the 2xx count and {args.connections} more)"
        )

    ratio = results["initiate"]["rps"] / results["trivial"]["rps"] if results["trivial"]["rps"] else 0.0
    result = {
        "benchmark": "initiate_http",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "bench/initiate_http.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine_info(),
        "client": wrk_version() if client == "wrk" else "python-asyncio (fallback)",
        "client_note": note,
        "wrk_threads": args.threads if client == "wrk" else None,
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "warmup_s": args.warmup,
        "workers": args.workers,
        "server": " ".join(["gunicorn", *server.cmd[1:]]),
        "database": "postgresql " + database_url,
        "redis": args.redis_url or None,
        "trivial": results["trivial"],
        "initiate": results["initiate"],
        "ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio >= TARGET_RATIO,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "problems": problems,
    }
    out = RESULTS_DIR / f"initiate_http-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")

    print_table(result)
    log(f"result written to {out.relative_to(ROOT)}")
    if problems:
        print("ERRORS:")
        for line in problems:
            print("  " + line)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
