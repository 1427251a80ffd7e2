"""Health checks: what /health, /health/ready and the deltran_health_up metric report.

Required checks (the database; Redis, the Celery broker and the channel layer) decide the HTTP status: any of
them down is a 503. Informative checks (periodic tasks' last runs; the sanctions lists' age, registered by the
compliance app) are reported but never fail the service. Apps add checks with `health_check_register` in ready().
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from deltran.celery import app as celery_app
from deltran.periodic import periodic_states

OK, DOWN, WARN = "ok", "down", "warn"
CONNECT_TIMEOUT_SECONDS = 1.5


@dataclass
class CheckResult:
    status: str
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class HealthCheck:
    name: str
    run: Callable[[], CheckResult]
    required: bool


_registry: dict[str, HealthCheck] = {}


def health_check_register(name: str, run: Callable[[], CheckResult], *, required: bool = False) -> None:
    _registry[name] = HealthCheck(name=name, run=run, required=required)


def _redis_ping(url: str) -> CheckResult:
    client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return CheckResult(DOWN, {"error": f"{type(exc).__name__}: {exc}"})
    finally:
        client.close()
    return CheckResult(OK)


def check_database() -> CheckResult:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return CheckResult(DOWN, {"vendor": connection.vendor, "error": f"{type(exc).__name__}: {exc}"})
    return CheckResult(OK, {"vendor": connection.vendor})


def check_redis() -> CheckResult:
    return _redis_ping(settings.REDIS_URL)


def check_broker() -> CheckResult:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        folders = [options["data_folder_in"], options["data_folder_out"], options.get("control_folder", "")]
        missing = [folder for folder in folders if folder and not os.access(folder, os.W_OK)]
        if missing:
            return CheckResult(DOWN, {"transport": "filesystem", "error": f"not writable: {', '.join(missing)}"})
        return CheckResult(OK, {"transport": "filesystem"})
    result = _redis_ping(url)
    result.detail["transport"] = "redis"
    return result


def check_channel_layer() -> CheckResult:
    layer = settings.CHANNEL_LAYERS["default"]
    backend = layer["BACKEND"].rsplit(".", 1)[-1]
    if backend == "InMemoryChannelLayer":
        return CheckResult(OK, {"backend": backend, "note": "in-process"})
    for host in layer.get("CONFIG", {}).get("hosts", []):
        url = host if isinstance(host, str) else host.get("address")
        result = _redis_ping(url)
        if result.status != OK:
            result.detail["backend"] = backend
            return result
    return CheckResult(OK, {"backend": backend})


def _interval_seconds(schedule) -> float | None:
    if isinstance(schedule, int | float):
        return float(schedule)
    if isinstance(schedule, timedelta):
        return schedule.total_seconds()
    run_every = getattr(schedule, "run_every", None)
    return run_every.total_seconds() if isinstance(run_every, timedelta) else None


def check_periodic_tasks() -> CheckResult:
    """Each beat task's last start, success and failure; `late` when beat has not started it for a while."""
    now = timezone.now()
    states = periodic_states()
    tasks = {}
    late = []
    celery_app.loader.import_default_modules()  # once per process: every app's tasks.py
    for name, entry in sorted(settings.CELERY_BEAT_SCHEDULE.items()):
        task_name = entry["task"]
        interval = _interval_seconds(entry["schedule"])
        state = states.get(task_name)
        started = state.last_started_at if state else None
        task = celery_app.tasks.get(task_name)
        if not getattr(task, "records_runs", False):
            # Not made with @periodic_task: it keeps no run record, so its absence says nothing.
            tasks[name] = {"status": "unrecorded", "interval_seconds": interval}
            continue
        if started is None:
            status = "never"
        elif interval and (now - started).total_seconds() > interval * settings.HEALTH_BEAT_LATE_FACTOR:
            status = "late"
        else:
            status = OK
        if status != OK:
            late.append(name)
        tasks[name] = {
            "status": status,
            "interval_seconds": interval,
            "last_started_at": started,
            "last_succeeded_at": state.last_succeeded_at if state else None,
            "last_failed_at": state.last_failed_at if state else None,
            "last_error": state.last_error if state else "",
            "last_duration_seconds": state.last_duration_seconds if state else None,
            "skipped": state.skip_count if state else 0,
        }
    return CheckResult(WARN if late else OK, {"tasks": tasks, "late_or_never": late})


def required_checks() -> list[HealthCheck]:
    checks = [HealthCheck("database", check_database, True)]
    if settings.REDIS_URL:
        checks.append(HealthCheck("redis", check_redis, True))
    checks += [HealthCheck("broker", check_broker, True), HealthCheck("channel_layer", check_channel_layer, True)]
    return checks


def _run(check: HealthCheck) -> dict:
    started = time.perf_counter()
    try:
        result = check.run()
    except Exception as exc:  # a check that breaks says so; it never breaks the health page
        result = CheckResult(DOWN if check.required else WARN, {"error": f"{type(exc).__name__}: {exc}"})
    return {
        "status": result.status,
        "required": check.required,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        **result.detail,
    }


def health_report(*, full: bool = True) -> tuple[bool, dict]:
    """(healthy, body): healthy unless a required check is down. `full` adds the informative checks."""
    checks = required_checks()
    database_up = True
    results = {}
    for check in checks:
        results[check.name] = _run(check)
        database_up = database_up and not (check.name == "database" and results[check.name]["status"] == DOWN)
    if full:
        periodic = HealthCheck("periodic_tasks", check_periodic_tasks, False)
        for check in [periodic, *_registry.values()]:
            results[check.name] = (
                _run(check) if database_up else {"status": WARN, "required": False, "error": "database down"}
            )
    healthy = all(result["status"] != DOWN for result in results.values() if result["required"])
    degraded = any(result["status"] != OK for result in results.values())
    status = "down" if not healthy else "degraded" if degraded else "ok"
    body = {"status": status, "checked_at": timezone.now(), "checks": results}
    return healthy, body


_migrated = False


def migrations_pending() -> bool:
    """True while the database lacks a migration of this code; once all are applied, not asked again."""
    global _migrated
    if not _migrated:
        executor = MigrationExecutor(connection)
        _migrated = not executor.migration_plan(executor.loader.graph.leaf_nodes())
    return not _migrated
