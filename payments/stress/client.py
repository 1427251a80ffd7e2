"""The stress test's load client: asyncio, keep-alive HTTP/1.1 over a few connections, bodies built beforehand.

One process, one thread: it writes prepared bytes and reads answers, so it costs the server's machine little
CPU (the run reports how much). Each connection takes the next request of the plan and sends it when it is due;
when the server is slower than the plan, requests leave late and the rate reached falls below the target (the
lag is reported). Sending stops at the end of the duration (with ``drain``, once every request due within it has
been sent); answers still due are awaited for a grace period.
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from payments.stress.mix import Plan, PlannedRequest

PATHS = {
    "batch": "/api/v1/payments/batch",
    "pacs008": "/api/v1/iso20022/pacs008",
    "single": "/api/v1/payments/initiate",
}
CONTENT_TYPES = {"batch": "application/json", "pacs008": "application/xml", "single": "application/json"}
METRICS_PATH = "/api/v1/metrics/realtime"
LOGIN_PATH = "/api/v1/auth/login"
_TX = re.compile(rb"<TxInfAndSts>(.*?)</TxInfAndSts>", re.S)
_E2E = re.compile(rb"<OrgnlEndToEndId>([^<]*)</OrgnlEndToEndId>")


@dataclass
class Answer:
    """What one request came back with."""

    kind: str
    sent_at: float  # seconds after the start
    latency: float  # seconds
    status: int  # HTTP status; 0 for a connection error or timeout
    payments: int
    recorded: int  # payments the answer says have a record (accepted, held or rejected by screening)
    refused_keys: list[str] = field(default_factory=list)  # refused at intake: no record expected
    error: str = ""


@dataclass
class RunResult:
    started_at: float  # time.time() of the start
    seconds: float
    answers: list[Answer]
    sent_keys: list[str]
    unsent_requests: int
    unsent_payments: int
    client_cpu_seconds: float
    queue_samples: list[dict]
    intervals: list[dict]
    lag_p99_s: float
    errors: list[str]


def _request_bytes(host: str, token: str, req: PlannedRequest) -> bytes:
    head = (
        f"POST {PATHS[req.kind]} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {CONTENT_TYPES[req.kind]}\r\nAccept: */*\r\nContent-Length: {len(req.body)}\r\n"
    )
    if req.kind == "single":
        head += f"Idempotency-Key: {req.keys[0]}\r\n"
    return head.encode() + b"\r\n" + req.body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {ln.split(":", 1)[0].lower(): ln.split(":", 1)[1].strip() for ln in lines[1:] if ":" in ln}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


def judge(req: PlannedRequest, status: int, body: bytes) -> tuple[int, list[str]]:
    """(payments with a record, keys refused at intake) from one answer."""
    if req.kind == "single":
        if status in (200, 201):
            return 1, []
        return 0, list(req.keys) if 400 <= status < 500 else []
    if status != 200:
        return 0, list(req.keys) if 400 <= status < 500 else []
    if req.kind == "batch":
        items = json.loads(body)["items"]
        refused = [req.keys[item["index"]] for item in items if "id" not in item]
        return len(items) - len(refused), refused
    recorded, refused = 0, []
    for block in _TX.findall(body):
        if b"<StsId>" in block:
            recorded += 1
        else:
            match = _E2E.search(block)
            e2e = match.group(1).decode() if match else ""
            refused += [key for key in req.keys if key.endswith(":" + e2e)][:1]
    return recorded, refused


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def latency_summary(latencies: list[float]) -> dict:
    return {
        "requests": len(latencies),
        "p50_ms": round(_percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(_percentile(latencies, 95) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies, default=0.0) * 1000, 1),
    }


async def _login(host: str, port: int, username: str, password: str) -> str:
    reader, writer = await asyncio.open_connection(host, port)
    body = json.dumps({"username": username, "password": password}).encode()
    writer.write(
        f"POST {LOGIN_PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    status, _, answer = await _read_response(reader)
    writer.close()
    if status != 200:
        raise RuntimeError(f"login as {username} failed: {status} {answer[:300]!r}")
    return json.loads(answer)["access"]


async def _get_json(host: str, port: int, path: str, token: str) -> tuple[int, dict]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nAccept: application/json\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        status, _, body = await asyncio.wait_for(_read_response(reader), 30)
        return status, (json.loads(body) if status == 200 else {})
    finally:
        writer.close()


async def _run(
    plan: Plan,
    *,
    url: str,
    username: str,
    password: str,
    duration: float,
    connections: int,
    interval: float,
    grace: float,
    timeout: float,
    on_interval: Callable[[dict], None],
    poll_queue: bool = True,
    drain: bool = False,
) -> RunResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    host_header = f"{host}:{port}"
    token = await _login(host, port, username, password)
    pending: deque[PlannedRequest] = deque(plan.requests)
    answers: list[Answer] = []
    sent_keys: list[str] = []
    lags: list[float] = []
    errors: list[str] = []
    queue_samples: list[dict] = []
    intervals: list[dict] = []
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    loop = asyncio.get_running_loop()
    start = loop.time()
    wall_start = time.time()
    stop_sending = start + duration

    async def connection() -> None:
        reader = writer = None
        while pending:
            req = pending[0]
            now = loop.time()
            if start + req.due > stop_sending or (now >= stop_sending and not drain):
                return
            pending.popleft()
            if start + req.due > now:
                await asyncio.sleep(start + req.due - now)
            payload = _request_bytes(host_header, token, req)
            sent_at = loop.time()
            lags.append(sent_at - (start + req.due))
            sent_keys.extend(req.keys)
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                writer.write(payload)
                await writer.drain()
                status, headers, body = await asyncio.wait_for(_read_response(reader), timeout)
                latency = loop.time() - sent_at
                recorded, refused = judge(req, status, body)
                error = "" if status < 400 else f"{status} {body[:200]!r}"
                if headers.get("connection", "").lower() == "close":
                    writer.close()
                    reader = writer = None
            except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
                latency, status, recorded, refused = loop.time() - sent_at, 0, 0, []
                error = f"{type(exc).__name__}: {exc}"
                if writer is not None:
                    writer.close()
                reader = writer = None
            if error and len(errors) < 20:
                errors.append(f"{req.kind}: {error}")
            answers.append(
                Answer(
                    kind=req.kind,
                    sent_at=sent_at - start,
                    latency=latency,
                    status=status,
                    payments=len(req.keys),
                    recorded=recorded,
                    refused_keys=refused,
                    error=error,
                )
            )
        if writer is not None:
            writer.close()

    async def reporter() -> None:
        seen = 0
        number = 0
        while True:
            number += 1
            target = start + number * interval
            await asyncio.sleep(max(0.0, target - loop.time()))
            window = answers[seen:]
            seen += len(window)
            metrics = {}
            if poll_queue:
                try:
                    _, metrics = await _get_json(host, port, METRICS_PATH, token)
                except (TimeoutError, ConnectionError, OSError):
                    pass
            sample = {
                "t": round(loop.time() - start, 1),
                "queue_depth": metrics.get("queue_depth"),
                "awaiting_liquidity": metrics.get("awaiting_liquidity"),
                "compliance_review": metrics.get("compliance_review"),
            }
            queue_samples.append(sample)
            row = interval_row(window, seconds=interval, t=sample["t"], queue=sample)
            intervals.append(row)
            on_interval(row)
            if loop.time() >= stop_sending and not any(not t.done() for t in workers):
                return

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    progress = asyncio.create_task(reporter())
    done, still = await asyncio.wait(workers, timeout=duration + grace)
    for task in still:
        task.cancel()
    if still:
        errors.append(f"{len(still)} connections still waiting for an answer {grace:g} s after the end; cancelled")
    await asyncio.gather(*still, return_exceptions=True)
    progress.cancel()
    await asyncio.gather(progress, return_exceptions=True)
    seconds = loop.time() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    return RunResult(
        started_at=wall_start,
        seconds=seconds,
        answers=answers,
        sent_keys=sent_keys,
        unsent_requests=len(pending),
        unsent_payments=sum(len(r.keys) for r in pending),
        client_cpu_seconds=(cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
        queue_samples=queue_samples,
        intervals=intervals,
        lag_p99_s=round(_percentile(lags, 99), 3),
        errors=errors,
    )


def interval_row(window: list[Answer], *, seconds: float, t: float, queue: dict) -> dict:
    """One interval's figures: payments/s answered, success rate, latency per kind, queue depth."""
    payments = sum(a.payments for a in window)
    recorded = sum(a.recorded for a in window)
    by_kind = {}
    for kind in ("batch", "pacs008", "single"):
        latencies = [a.latency for a in window if a.kind == kind]
        if latencies:
            by_kind[kind] = latency_summary(latencies)
    return {
        "t": t,
        "payments": payments,
        "rate": round(payments / seconds, 1),
        "success_rate": round(recorded / payments, 5) if payments else None,
        "latency": by_kind,
        "queue_depth": queue.get("queue_depth"),
        "awaiting_liquidity": queue.get("awaiting_liquidity"),
    }


def run_plan(plan: Plan, **kwargs) -> RunResult:
    return asyncio.run(_run(plan, **kwargs))
