"""Benchmark (not a test): the 4-bank stress test on PostgreSQL + Redis, the whole system serving.

    .venv/bin/python bench/stress.py [--rate 3000 --duration 300 --ramp 30]

What it does, and undoes:
1. drops and recreates a dedicated PostgreSQL database (``deltran_stress``), migrates it and loads the 4-bank
   scenario with its demo users;
2. starts the system as production runs it: gunicorn (2 sync workers, DEBUG off, persistent connections), a
   Celery worker and Celery beat (netting cycles, FX simulation ticks with their spikes, pool rebalancing,
   metrics roll-ups), with Redis as broker and cache (``--redis-url``, default db 11);
3. runs ``manage.py stress`` against it (``--rate``, ``--duration``, ``--ramp``, ...): the seed's mix as JSON
   micro-batches, pacs.008 messages and single payments, live progress every 5 s, then the reconciliation and
   the JSON + HTML report (in bench/results/, git-ignored);
4. records the CPU used meanwhile by gunicorn, Celery, PostgreSQL, the load client and other processes (the
   machine is shared), and with ``--profile`` samples the gunicorn workers with py-spy;
5. stops every process it started, also on error or Ctrl-C.

Its figures (steady payments/s, success rate, batch p99, reconciliation) go into ``make bench``'s table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from initiate_http import (  # noqa: E402  (the bench helpers live beside this script)
    RESULTS_DIR,
    ROOT,
    CpuSnapshot,
    Server,
    db_url,
    free_port,
    log,
    manage,
    recreate_database,
    server_env,
)

TARGET_RATE = 3000.0


class Celery:
    """A Celery worker and beat in their own process group."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path = env, log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        celery = str(Path(sys.executable).with_name("celery"))
        self._log = open(self.log_path, "w")  # closed in stop()
        # One process: worker with an embedded beat (-B), concurrency 1, to leave the CPUs to the web server.
        cmd = [celery, "--app", "deltran", "worker", "-B", "--concurrency", "1", "--loglevel", "WARNING"]
        cmd += ["--schedule", str(Path(self.env["DELTRAN_VAR_DIR"]) / "celerybeat-schedule")]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pgid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self._log.close()
        log(f"celery (pid {proc.pid}) stopped; its output is in {self.log_path.name}")


def cpu_by_group(before: CpuSnapshot, after: CpuSnapshot, server_pgid: int, celery_pgid: int | None) -> dict:
    cores = after.since(before, server_pgid)
    if celery_pgid is not None:
        seconds = max(1e-6, after.at - before.at)
        jiffies = 0
        for pid, (comm, pgid, used) in after.procs.items():
            if pgid == celery_pgid:
                prev = before.procs.get(pid)
                jiffies += used - (prev[2] if prev and prev[0] == comm else 0)
        cores["celery"] = round(jiffies / CpuSnapshot.HZ / seconds, 2)
        cores["other"] = round(max(0.0, cores["other"] - cores["celery"]), 2)
    return cores


def profile_workers(server_pgid: int, seconds: int, out: Path) -> str | None:
    """py-spy record of the gunicorn workers (the master's children) for ``seconds``; the flame graph's path."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        log("py-spy not found (pip install py-spy): no profile")
        return None
    children = subprocess.run(["pgrep", "-P", str(server_pgid)], capture_output=True, text=True).stdout.split()
    procs = []
    for pid in children:
        target = out.with_name(f"{out.stem}-{pid}.txt")
        record = [spy, "record", "--pid", pid, "--duration", str(seconds), "--format", "raw", "--output", str(target)]
        procs.append(
            (
                target,
                subprocess.Popen(
                    record,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ),
            )
        )
    for _, proc in procs:
        proc.wait(timeout=seconds + 60)
    return ", ".join(str(t) for t, _ in procs)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=TARGET_RATE, help="target payments/s (default 3000)")
    p.add_argument("--duration", type=float, default=300, help="seconds of sending (default 300)")
    p.add_argument("--ramp", type=float, default=30, help="ramp-up seconds (default 30)")
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    p.add_argument("--no-celery", action="store_true", help="web server only: no netting, FX ticks or rebalancing")
    p.add_argument("--profile", type=int, default=0, help="py-spy the gunicorn workers for this many seconds")
    p.add_argument("--pg-admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--db", default="deltran_stress", help="database to (re)create (default deltran_stress)")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/11", help="REDIS_URL for the system ('' for none)")
    p.add_argument("--json-out", type=Path, help="also write the result JSON here")
    return p.parse_known_args(argv)[0]  # run_all passes every benchmark the same extra arguments


def main(argv=None) -> int:
    args = parse_args(argv)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    database_url = db_url(args.pg_admin_url, args.db)
    env = server_env(args, database_url)
    var_dir = RESULTS_DIR / f"stress-var-{stamp}"
    var_dir.mkdir()
    env.update(
        DELTRAN_VAR_DIR=str(var_dir),
        JWT_ACCESS_MINUTES="240",
        # Within a run of a few minutes: a netting cycle every 30 s, FX ticks every 5 s, a rebalance each minute.
        NETTING_CYCLE_SECONDS="30",
        POOL_REBALANCE_SECONDS="60",
    )
    load_before = os.getloadavg()
    log(f"recreating database {args.db}")
    recreate_database(args.pg_admin_url, args.db)
    manage(env, "migrate", "--noinput")
    manage(env, "load_scenario")

    port = free_port()
    server = Server(args, env, port, RESULTS_DIR / f"gunicorn-stress-{stamp}.log")
    celery = Celery(env, RESULTS_DIR / f"celery-stress-{stamp}.log")

    def on_signal(signum, frame):
        server.stop()
        celery.stop()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    problems: list[str] = []
    report: dict = {}
    profile = None
    report_path = None
    try:
        log(f"starting gunicorn on 127.0.0.1:{port} ({args.workers} sync workers)")
        server.start()
        if not args.no_celery:
            log("starting a Celery worker with beat")
            celery.start()
        cmd = [
            sys.executable,
            str(ROOT / "manage.py"),
            "stress",
            "--url",
            server.base,
            "--rate",
            str(args.rate),
            "--duration",
            str(args.duration),
            "--ramp",
            str(args.ramp),
            "--connections",
            str(args.connections),
            "--batch-size",
            str(args.batch_size),
            "--out-dir",
            str(RESULTS_DIR),
        ]
        cpu0 = CpuSnapshot.take()
        stress = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        if args.profile:
            time.sleep(min(args.ramp + 5, args.duration / 2))
            log(f"profiling the gunicorn workers for {args.profile} s with py-spy")
            profile = profile_workers(server.pgid, args.profile, RESULTS_DIR / f"pyspy-stress-{stamp}.txt")
        for line in stress.stdout:
            print(line, end="", flush=True)
            if line.startswith("report: "):
                report_path = line.split()[1]
        stress.wait()
        cpu1 = CpuSnapshot.take()
        if report_path is None:
            raise SystemExit(f"manage.py stress wrote no report (exit {stress.returncode})")
        report = json.loads(Path(report_path).read_text())
        if stress.returncode != 0:
            problems.append(f"manage.py stress exit {stress.returncode} (reconciliation: see the report)")
        if cpu0 and cpu1:
            report["cpu_cores_used"] = cpu_by_group(cpu0, cpu1, server.pgid, celery.pgid)
            log(f"CPU used (cores of {os.cpu_count()}): {report['cpu_cores_used']}")
    finally:
        server.stop()
        celery.stop()
    result = {
        "benchmark": "stress",
        "at": stamp,
        "command": "bench/stress.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "rate": args.rate,
        "duration_s": args.duration,
        "workers": args.workers,
        "celery": not args.no_celery,
        "steady_payments_per_s": report["rate"]["steady_payments_per_s"],
        "success_rate": report["success_rate"],
        "batch_p99_ms": report["targets"]["batch_p99_ms"]["value"],
        "reconciliation_ok": bool(report.get("reconciliation") and report["reconciliation"]["ok"]),
        "target_rate": TARGET_RATE,
        "target_success_rate": 0.999,
        "target_batch_p99_ms": 200.0,
        "cpu_cores_used": report.get("cpu_cores_used"),
        "client_cpu_cores": report["client"]["cpu_cores"],
        "profile": profile,
        "report": report_path,
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "problems": problems,
    }
    text = json.dumps(result, indent=2)
    (RESULTS_DIR / f"stress-{stamp}.json").write_text(text)
    if args.json_out:
        args.json_out.write_text(text)
    print(text)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
