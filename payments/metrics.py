"""Payment metrics: counters rolled up from the payment timeline by a task, and the figures read from them.

Intake never writes a counter. The timeline (``PaymentTransition``) is append-only with an autoincrement id, and
every status change is a row of it; ``metrics_rollup`` reads the rows after its watermark, joins them to their
payments by primary key for amounts, currency and bank, and adds them to per-second, per-minute and per-day
counters, the current count per status and the processing-time histogram. It runs from beat every
``METRICS_ROLLUP_SECONDS`` and from a metrics request that finds the counters stale.

Ids are not commit-ordered on PostgreSQL (a transaction can take id 100, another 101 and commit first), so the
rollup remembers the ids it skipped as gaps and looks at them again until they expire (``METRICS_GAP_SECONDS``):
a late commit is counted when it appears, a rolled-back id is forgotten. Runs are serialised by a lock on the
watermark row, so two at once never count a row twice.
"""

import math
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from deltran.events import event_record
from deltran.relay import gaps_after_read
from payments.choices import PaymentStatus
from payments.models import (
    MetricsRollupState,
    Payment,
    PaymentDayStat,
    PaymentHourStat,
    PaymentMinuteStat,
    PaymentProcessingBucket,
    PaymentSecondStat,
    PaymentStatusCount,
    PaymentTransition,
)
from payments.selectors import payment_amount_str
from settlement.selectors import participant_directory

S = PaymentStatus
ROLLUP = "payments"
# Rows read per transaction; a run loops until it has caught up (or ran METRICS_ROLLUP_MAX_SECONDS).
BATCH = 20_000
MAX_GAPS = 1_000  # gaps kept at most (the oldest are dropped beyond)
SECOND_RETENTION = timedelta(hours=1)
MINUTE_RETENTION = timedelta(hours=48)
# Processing-time histogram bounds in seconds (received → settled); -1 stands for +Inf.
PROCESSING_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0, -1.0)
INF = -1.0
# metrics_update events are written at most this often.
PUBLISH_SECONDS = 1.0

# What the figures call waiting, in settlement, ended well and ended badly.
PENDING = (S.INITIATED, S.VALIDATED, S.SCREENED, S.APPROVED, S.QUEUED)
PROCESSING = (S.SETTLING,)
SUCCEEDED = (S.SETTLED,)
UNSUCCESSFUL = (S.REJECTED, S.FAILED, S.CANCELLED)
FAILED = (S.REJECTED, S.FAILED)


# --- Rollup --------------------------------------------------------------------


class _Counters:
    """What a batch of timeline rows adds to each counter. Rows older than a table keeps are not added to it (a
    first rollup over years of timeline writes only the day counters for the old ones)."""

    def __init__(self, now: datetime):
        self.second_from = now - SECOND_RETENTION
        self.minute_from = now - MINUTE_RETENTION
        self.status = defaultdict(int)
        self.seconds = defaultdict(lambda: [0, 0])
        self.minutes = defaultdict(lambda: [0, Decimal(0), Decimal(0), 0.0])
        self.hours = defaultdict(lambda: [0, Decimal(0), Decimal(0), 0.0])
        self.days = defaultdict(lambda: [0, Decimal(0), Decimal(0), 0.0])
        self.buckets = defaultdict(lambda: [0, 0.0])

    def add(self, row) -> None:
        _id, from_status, to_status, at, currency, sender_bic, amount, amount_usd, created_at = row
        if from_status == to_status:
            return  # a note on the timeline (released from the liquidity queue), not a change of status
        if from_status:
            self.status[(from_status, currency)] -= 1
        self.status[(to_status, currency)] += 1
        processing = 0.0
        if to_status == S.SETTLED:
            processing = max((at - created_at).total_seconds(), 0.0)
            bound = next(b for b in PROCESSING_BUCKETS if b == INF or processing <= b)
            self.buckets[bound][0] += 1
            self.buckets[INF][1] += processing
        buckets = [self.days[(at.date(), sender_bic, currency, to_status)]]
        if at >= self.minute_from:
            minute = at.replace(second=0, microsecond=0)
            buckets.append(self.minutes[(minute, currency, to_status)])
            buckets.append(self.hours[(minute.replace(minute=0), currency, to_status)])
            if at >= self.second_from and to_status in (S.INITIATED, S.SETTLED):
                self.seconds[at.replace(microsecond=0)][0 if to_status == S.INITIATED else 1] += 1
        for bucket in buckets:
            bucket[0] += 1
            bucket[1] += amount
            bucket[2] += amount_usd
            bucket[3] += processing


def _upsert_add(model, keys: tuple[str, ...], adds: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET column = column + excluded.column (PostgreSQL and SQLite alike)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(c) for c in keys + adds)
    updates = ", ".join(f"{quote(c)} = {table}.{quote(c)} + excluded.{quote(c)}" for c in adds)
    one = "(" + ", ".join(["%s"] * (len(keys) + len(adds))) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(chunk))} "
                f"ON CONFLICT ({', '.join(quote(k) for k in keys)}) DO UPDATE SET {updates}",
                [value for row in chunk for value in row],
            )


def _write(counters: _Counters) -> None:
    ops = connection.ops
    dt, day, dec = ops.adapt_datetimefield_value, ops.adapt_datefield_value, ops.adapt_decimalfield_value
    _upsert_add(
        PaymentStatusCount,
        ("status", "currency"),
        ("count",),
        [(status, currency, n) for (status, currency), n in counters.status.items() if n],
    )
    _upsert_add(
        PaymentSecondStat,
        ("second",),
        ("received", "settled"),
        [(dt(second), received, settled) for second, (received, settled) in counters.seconds.items()],
    )
    _upsert_add(
        PaymentMinuteStat,
        ("minute", "currency", "status"),
        ("count", "volume", "volume_usd", "processing_seconds"),
        [
            (dt(minute), currency, status, n, dec(volume, 32, 4), dec(usd, 32, 2), seconds)
            for (minute, currency, status), (n, volume, usd, seconds) in counters.minutes.items()
        ],
    )
    _upsert_add(
        PaymentHourStat,
        ("hour", "currency", "status"),
        ("count", "volume", "volume_usd", "processing_seconds"),
        [
            (dt(hour), currency, status, n, dec(volume, 32, 4), dec(usd, 32, 2), seconds)
            for (hour, currency, status), (n, volume, usd, seconds) in counters.hours.items()
        ],
    )
    _upsert_add(
        PaymentDayStat,
        ("day", "sender_bic", "currency", "status"),
        ("count", "volume", "volume_usd", "processing_seconds"),
        [
            (day(d), bic, currency, status, n, dec(volume, 32, 4), dec(usd, 32, 2), seconds)
            for (d, bic, currency, status), (n, volume, usd, seconds) in counters.days.items()
        ],
    )
    _upsert_add(
        PaymentProcessingBucket,
        ("le",),
        ("count", "sum_seconds"),
        [(bound, n, total) for bound, (n, total) in counters.buckets.items()],
    )


def _rows(after_id: int, gaps: list, limit: int) -> list[tuple]:
    where = Q(id__gt=after_id)
    for first, last, _expires in gaps:
        where |= Q(id__gte=first, id__lte=last)
    return list(
        PaymentTransition.objects.filter(where)
        .order_by("id")
        .values_list(
            "id",
            "from_status",
            "to_status",
            "occurred_at",
            "payment__currency_id",
            "payment__sender_bic",
            "payment__amount",
            "payment__amount_usd",
            "payment__created_at",
        )[:limit]
    )


def _state_locked() -> MetricsRollupState:
    state = MetricsRollupState.objects.select_for_update().filter(name=ROLLUP).first()
    if state is None:
        MetricsRollupState.objects.get_or_create(name=ROLLUP, defaults={"updated_at": timezone.now()})
        state = MetricsRollupState.objects.select_for_update().get(name=ROLLUP)
    return state


def _prune(now: datetime) -> None:
    PaymentSecondStat.objects.filter(second__lt=now - SECOND_RETENTION).delete()
    PaymentMinuteStat.objects.filter(minute__lt=now - MINUTE_RETENTION).delete()
    PaymentHourStat.objects.filter(hour__lt=now - MINUTE_RETENTION).delete()


def metrics_rollup(*, batch: int = BATCH, max_seconds: float | None = None) -> int:
    """Count the timeline rows committed since the last run; the number of rows read. Safe to run at once twice."""
    max_seconds = settings.METRICS_ROLLUP_MAX_SECONDS if max_seconds is None else max_seconds
    started = time.monotonic()
    total = 0
    while True:
        with transaction.atomic():
            state = _state_locked()
            rows = _rows(state.last_transition_id, state.gaps, batch)
            counters = _Counters(timezone.now())
            for row in rows:
                counters.add(row)
            _write(counters)
            wall = time.time()
            state.last_transition_id, state.gaps = gaps_after_read(
                gaps=state.gaps,
                after_id=state.last_transition_id,
                seen=[row[0] for row in rows],
                expires_at=wall + settings.METRICS_GAP_SECONDS,
                now=wall,
                max_gaps=MAX_GAPS,
            )
            now = timezone.now()
            if state.updated_at.replace(second=0, microsecond=0) != now.replace(second=0, microsecond=0):
                _prune(now)
            total += len(rows)
            last = len(rows) < batch or time.monotonic() - started > max_seconds
            if last:
                _publish_if_due(state, changed=total > 0, now=now)
            state.updated_at = now
            state.save(update_fields=["last_transition_id", "gaps", "updated_at", "published"])
        if last:
            return total


def _publish_if_due(state: MetricsRollupState, *, changed: bool, now: datetime) -> None:
    """Write a ``payments.metrics_update`` event, at most once a second, while something changed (and once more
    after, so payments/s falls back to zero on the dashboards)."""
    published = state.published or {}
    if not changed and not published.get("tps"):
        return
    if now.timestamp() - published.get("at", 0.0) < PUBLISH_SECONDS:
        return
    figures = metrics_realtime(now=now)
    figures["per_second"] = [row["received"] for row in payments_per_second(now=now)]
    event_record(topic="payments", event_type="payments.metrics_update", payload=figures)
    state.published = {"at": now.timestamp(), "tps": figures["tps"]}


def metrics_fresh(*, max_age_seconds: float | None = None) -> None:
    """Roll up first when the counters are older than ``max_age_seconds`` (beat may be late, or not running)."""
    max_age = settings.METRICS_STALE_SECONDS if max_age_seconds is None else max_age_seconds
    updated = MetricsRollupState.objects.filter(name=ROLLUP).values_list("updated_at", flat=True).first()
    if updated is None or (timezone.now() - updated).total_seconds() > max_age:
        metrics_rollup()


# --- Figures ---------------------------------------------------------------------


def _money(amount, currency: str) -> str:
    return payment_amount_str(Decimal(amount or 0), currency)


def _rate(good: int, bad: int) -> float | None:
    """Settled as a percentage of the payments that ended (settled, rejected, failed, cancelled); None if none did."""
    ended = good + bad
    return round(100.0 * good / ended, 2) if ended else None


def status_counts() -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for status, n in PaymentStatusCount.objects.values_list("status", "count"):
        counts[status] += n
    return counts


def metrics_realtime(*, now: datetime | None = None) -> dict:
    """The overview figures: rates over the last minute, volumes over 24 hours, counts now."""
    now = now or timezone.now()
    # The 24 hours: whole hours from the first hour boundary after 24 hours ago, minutes before it.
    day_ago = (now - timedelta(hours=24)).replace(second=0, microsecond=0)
    boundary = day_ago.replace(minute=0) + timedelta(hours=1) if day_ago.minute else day_ago
    columns = {
        "n": Sum("count"),
        "volume": Sum("volume"),
        "usd": Sum("volume_usd"),
        "seconds": Sum("processing_seconds"),
    }
    minute_rows = list(
        PaymentHourStat.objects.filter(hour__gte=boundary).values("currency", "status").annotate(**columns).order_by()
    ) + list(
        PaymentMinuteStat.objects.filter(minute__gte=day_ago, minute__lt=boundary)
        .values("currency", "status")
        .annotate(**columns)
        .order_by()
    )
    hour_ago = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    failed_last_hour = (
        PaymentMinuteStat.objects.filter(minute__gte=hour_ago, status__in=FAILED).aggregate(n=Sum("count"))["n"] or 0
    )
    received_last_minute = (
        PaymentSecondStat.objects.filter(second__gt=now - timedelta(seconds=60), second__lte=now).aggregate(
            n=Sum("received")
        )["n"]
        or 0
    )
    settled_today = (
        PaymentDayStat.objects.filter(day=now.astimezone(UTC).date(), status__in=SUCCEEDED).aggregate(n=Sum("count"))[
            "n"
        ]
        or 0
    )
    volume: dict[str, Decimal] = defaultdict(Decimal)
    volume_usd: dict[str, Decimal] = defaultdict(Decimal)
    received: dict[str, int] = defaultdict(int)
    good = bad = settled = 0
    settled_seconds = 0.0
    for row in minute_rows:
        if row["status"] == S.INITIATED:
            volume[row["currency"]] += row["volume"]
            volume_usd[row["currency"]] += row["usd"]
            received[row["currency"]] += row["n"]
        if row["status"] in SUCCEEDED:
            good += row["n"]
            settled += row["n"]
            settled_seconds += row["seconds"] or 0.0
        elif row["status"] in UNSUCCESSFUL:
            bad += row["n"]
    counts = status_counts()
    pending = sum(counts[s] for s in PENDING)
    processing = sum(counts[s] for s in PROCESSING)
    currencies = sorted(volume)
    return {
        "tps": round(received_last_minute / 60.0, 2),
        "volume_24h": {c: _money(volume[c], c) for c in currencies},
        "volume_24h_usd": {c: _money(volume_usd[c], "USD") for c in currencies},
        "count_24h": {c: received[c] for c in currencies},
        "average_amount": {c: _money(volume[c] / received[c], c) for c in currencies if received[c]},
        "success_rate": _rate(good, bad),
        "pending_count": pending,
        "processing_count": processing,
        "queue_depth": pending + processing,
        "awaiting_liquidity": Payment.objects.filter(awaiting_liquidity=True).count(),
        "average_processing_seconds": round(settled_seconds / settled, 3) if settled else None,
        "failed_last_1h": failed_last_hour,
        "settled_today": settled_today,
        "active_banks": sum(1 for bank in participant_directory().banks.values() if bank.is_active),
        "compliance_review": counts[S.COMPLIANCE_REVIEW],
        "status_counts": {s: counts[s] for s in S.values},
        "timestamp": now,
    }


def payments_per_second(*, now: datetime | None = None, seconds: int = 120) -> list[dict]:
    """Payments received and settled in each of the last ``seconds`` seconds (zeros included), oldest first."""
    now = (now or timezone.now()).replace(microsecond=0)
    start = now - timedelta(seconds=seconds - 1)
    found = {
        row["second"]: row
        for row in PaymentSecondStat.objects.filter(second__gte=start, second__lte=now).values(
            "second", "received", "settled"
        )
    }
    out = []
    for i in range(seconds):
        at = start + timedelta(seconds=i)
        row = found.get(at, {})
        out.append({"second": at, "received": row.get("received", 0), "settled": row.get("settled", 0)})
    return out


def metrics_daily(*, days: int = 30, today: date | None = None) -> list[dict]:
    """Per UTC day, oldest first: payments received (count, volume per currency and in USD), settled, ended badly
    and the success rate."""
    today = today or timezone.now().astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    per_day: dict[date, dict] = {
        first + timedelta(days=i): {
            "volume": defaultdict(Decimal),
            "volume_usd": Decimal(0),
            "count": 0,
            "good": 0,
            "bad": 0,
        }
        for i in range(days)
    }
    rows = (
        PaymentDayStat.objects.filter(day__gte=first, day__lte=today)
        .values("day", "currency", "status")
        .annotate(n=Sum("count"), volume=Sum("volume"), usd=Sum("volume_usd"))
        .order_by()
    )
    for row in rows:
        entry = per_day[row["day"]]
        if row["status"] == S.INITIATED:
            entry["volume"][row["currency"]] += row["volume"]
            entry["volume_usd"] += row["usd"]
            entry["count"] += row["n"]
        elif row["status"] in SUCCEEDED:
            entry["good"] += row["n"]
        elif row["status"] in UNSUCCESSFUL:
            entry["bad"] += row["n"]
    return [
        {
            "date": day,
            "total_volume": {c: _money(v, c) for c, v in sorted(entry["volume"].items())},
            "total_volume_usd": _money(entry["volume_usd"], "USD"),
            "payment_count": entry["count"],
            "settled_count": entry["good"],
            "unsuccessful_count": entry["bad"],
            "success_rate": _rate(entry["good"], entry["bad"]),
        }
        for day, entry in per_day.items()
    ]


def metrics_banks(*, days: int = 30, today: date | None = None) -> list[dict]:
    """Per sending bank over the last ``days`` UTC days: payments sent (count, volume), settled, success rate.
    Every participant is listed, idle ones with zeros."""
    today = today or timezone.now().astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    directory = participant_directory()
    per_bank: dict[str, dict] = {
        bic: {"volume": defaultdict(Decimal), "volume_usd": Decimal(0), "count": 0, "good": 0, "bad": 0}
        for bic in directory.banks
    }
    rows = (
        PaymentDayStat.objects.filter(day__gte=first, day__lte=today)
        .values("sender_bic", "currency", "status")
        .annotate(n=Sum("count"), volume=Sum("volume"), usd=Sum("volume_usd"))
        .order_by()
    )
    for row in rows:
        entry = per_bank.setdefault(
            row["sender_bic"],
            {"volume": defaultdict(Decimal), "volume_usd": Decimal(0), "count": 0, "good": 0, "bad": 0},
        )
        if row["status"] == S.INITIATED:
            entry["volume"][row["currency"]] += row["volume"]
            entry["volume_usd"] += row["usd"]
            entry["count"] += row["n"]
        elif row["status"] in SUCCEEDED:
            entry["good"] += row["n"]
        elif row["status"] in UNSUCCESSFUL:
            entry["bad"] += row["n"]
    out = []
    for bic, entry in sorted(per_bank.items()):
        bank = directory.banks.get(bic)
        out.append(
            {
                "bic": bic,
                "name": bank.name if bank else bic,
                "volume": {c: _money(v, c) for c, v in sorted(entry["volume"].items())},
                "volume_usd": _money(entry["volume_usd"], "USD"),
                "payment_count": entry["count"],
                "settled_count": entry["good"],
                "unsuccessful_count": entry["bad"],
                "success_rate": _rate(entry["good"], entry["bad"]),
            }
        )
    return out


def processing_histogram() -> tuple[list[tuple[float, int]], int, float]:
    """Cumulative (upper bound, count) pairs ending with +Inf, the total count and the sum of seconds."""
    rows = {row.le: row for row in PaymentProcessingBucket.objects.all()}
    cumulative, running = [], 0
    for bound in PROCESSING_BUCKETS:
        row = rows.get(bound)
        running += row.count if row else 0
        cumulative.append((math.inf if bound == INF else bound, running))
    total_seconds = rows[INF].sum_seconds if INF in rows else 0.0
    return cumulative, running, total_seconds
