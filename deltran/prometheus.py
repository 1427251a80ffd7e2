"""Prometheus collectors that read the database at scrape time, so every figure is right whichever process (web,
worker, beat) did the work. Each query is bounded: a small table, an indexed recent window, or a rollup.

Apps define their collectors in `<app>/prometheus.py` and register them in ready() with `collectors_register`.
"""

import logging
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.db import DatabaseError
from django.db.models import Count
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from deltran.health import DOWN, required_checks
from deltran.models import DeadLetter
from deltran.periodic import periodic_states

logger = logging.getLogger(__name__)

_registered: set[str] = set()


class DatabaseCollector(Collector):
    """A collector whose figures come from queries; a failing query drops its figures and is counted, never
    breaking the scrape."""

    name = "deltran"

    def describe(self) -> Iterable[Metric]:
        # Nothing at registration time: the registry would otherwise run collect() (and its queries) on import.
        return []

    def collect(self) -> Iterator[Metric]:
        try:
            metrics = list(self.metrics())
        except DatabaseError:
            logger.exception("Collector %s could not read the database", self.name)
            failed = GaugeMetricFamily(
                "deltran_collector_failed", "1 when a collector could not read its figures", labels=["collector"]
            )
            failed.add_metric([self.name], 1)
            yield failed
            return
        yield from metrics

    def metrics(self) -> Iterable[Metric]:
        raise NotImplementedError


def collectors_register(*collectors: DatabaseCollector) -> None:
    """Register once per process (ready() may run again in tests)."""
    for collector in collectors:
        if collector.name not in _registered:
            REGISTRY.register(collector)
            _registered.add(collector.name)


def gauge(name: str, documentation: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels or [])


def as_float(value) -> float:
    return float(value) if isinstance(value, Decimal | int | float) else 0.0


def quantiles(values: list[float], points=(0.5, 0.95, 0.99)) -> dict[float, float]:
    """Nearest-rank quantiles of a small sample."""
    if not values:
        return {}
    ordered = sorted(values)
    return {point: ordered[min(len(ordered) - 1, max(0, round(point * len(ordered) + 0.5) - 1))] for point in points}


class PlatformCollector(DatabaseCollector):
    name = "deltran.platform"

    def metrics(self) -> Iterable[Metric]:
        letters = gauge("deltran_dead_letters", "Tasks that failed for good and are not resolved", ["status"])
        counts = dict(
            DeadLetter.objects.exclude(status=DeadLetter.Status.RESOLVED)
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        for status in (DeadLetter.Status.DEAD, DeadLetter.Status.RETRYING):
            letters.add_metric([status], counts.get(status, 0))
        yield letters

        started = gauge("deltran_periodic_task_last_start_timestamp_seconds", "Last start of a periodic task", ["task"])
        succeeded = gauge(
            "deltran_periodic_task_last_success_timestamp_seconds", "Last successful run of a periodic task", ["task"]
        )
        failing = gauge("deltran_periodic_task_failing", "1 when the task's last run failed", ["task"])
        duration = gauge("deltran_periodic_task_last_duration_seconds", "How long the last run took", ["task"])
        runs = CounterMetricFamily("deltran_periodic_task_runs", "Runs of a periodic task", labels=["task"])
        skips = CounterMetricFamily(
            "deltran_periodic_task_skips", "Runs skipped because the previous one still ran", labels=["task"]
        )
        for name, state in sorted(periodic_states().items()):
            if state.last_started_at:
                started.add_metric([name], state.last_started_at.timestamp())
            if state.last_succeeded_at:
                succeeded.add_metric([name], state.last_succeeded_at.timestamp())
            last_failed = state.last_failed_at and (
                state.last_succeeded_at is None or state.last_failed_at > state.last_succeeded_at
            )
            failing.add_metric([name], 1 if last_failed else 0)
            if state.last_duration_seconds is not None:
                duration.add_metric([name], state.last_duration_seconds)
            runs.add_metric([name], state.run_count)
            skips.add_metric([name], state.skip_count)
        yield from (started, succeeded, failing, duration, runs, skips)

        up = gauge(
            "deltran_health_up", "1 when a required part (database, Redis, broker, channel layer) answers", ["check"]
        )
        for check in required_checks():
            try:
                status = check.run().status
            except Exception:  # a probe that breaks counts as down
                status = DOWN
            up.add_metric([check.name], 0 if status == DOWN else 1)
        yield up
