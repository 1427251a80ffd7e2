"""Compliance figures for /metrics: screening time and hits by level over the latest screenings, list age, cases."""

from collections.abc import Iterable

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import Metric

from compliance.choices import OPEN_STATUSES, MatchLevel
from compliance.models import ReviewCase, ScreeningCheck, ScreeningList, ScreeningMatch
from deltran.prometheus import DatabaseCollector, as_float, gauge, quantiles

# The recent window: the latest screenings by primary key (an index scan backwards), never the whole table.
RECENT_SCREENINGS = 1000


class ComplianceCollector(DatabaseCollector):
    name = "compliance"

    def metrics(self) -> Iterable[Metric]:
        now = timezone.now()
        age = gauge(
            "deltran_screening_list_age_seconds", "Seconds since the list's current version was imported", ["list"]
        )
        entries = gauge("deltran_screening_list_entries", "Entries in the list's current version", ["list"])
        for code, imported_at, count in ScreeningList.objects.filter(
            is_active=True, current_version__isnull=False
        ).values_list("code", "current_version__imported_at", "current_version__entry_count"):
            age.add_metric([code], (now - imported_at).total_seconds())
            entries.add_metric([code], count)
        yield from (age, entries)

        recent = list(
            ScreeningCheck.objects.order_by("-id").values_list("id", "duration_ms", "risk_level")[:RECENT_SCREENINGS]
        )
        window = gauge("deltran_screening_recent_window", "Screenings in the recent window (the latest, by id)")
        window.add_metric([], len(recent))
        yield window
        durations = [as_float(duration_ms) / 1000 for _, duration_ms, _ in recent]
        time_quantiles = gauge(
            "deltran_screening_recent_duration_seconds",
            "Screening time of one payment over the recent window (nearest-rank quantiles)",
            ["quantile"],
        )
        for point, value in quantiles(durations).items():
            time_quantiles.add_metric([str(point)], value)
        yield time_quantiles
        by_level = gauge("deltran_screening_recent_checks", "Screenings in the recent window by risk level", ["level"])
        counted = {level: 0 for level in MatchLevel.values}
        for _, _, level in recent:
            counted[level] = counted.get(level, 0) + 1
        for level, count in counted.items():
            by_level.add_metric([level], count)
        yield by_level
        hits = gauge("deltran_screening_recent_hits", "List matches in the recent window by match level", ["level"])
        matched = dict.fromkeys(MatchLevel.values, 0)
        if recent:
            oldest = recent[-1][0]
            matched |= dict(
                ScreeningMatch.objects.filter(screening_id__gte=oldest, whitelisted=False)
                .values_list("level")
                .annotate(n=Count("id"))
                .values_list("level", "n")
            )
        for level, count in matched.items():
            hits.add_metric([level], count)
        yield hits

        cases = gauge("deltran_compliance_cases_open", "Review cases waiting for a decision", ["status"])
        open_counts = dict(
            ReviewCase.objects.filter(status__in=OPEN_STATUSES)
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        for status in OPEN_STATUSES:
            cases.add_metric([status], open_counts.get(status, 0))
        yield cases
        overdue = gauge("deltran_compliance_cases_overdue", "Open review cases past their SLA")
        overdue.add_metric([], ReviewCase.objects.filter(status__in=OPEN_STATUSES, sla_due_at__lt=now).count())
        yield overdue
