"""FX writes: currencies, base rates, the volatility simulation's ticks, imported rates, history pruning."""

import csv
import logging
import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pycountry
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from deltran.errors import ValidationFailed
from deltran.events import event_record_many
from fxrates.engines.fx import PairState, SimulationParams, Tick, simulate_step
from fxrates.iso4217 import NOT_MONEY, minor_units
from fxrates.models import Currency, FxBaseRate, FxRateHistory
from fxrates.selectors import fx_cache_clear

logger = logging.getLogger(__name__)


@transaction.atomic
def currency_load_iso4217() -> int:
    """Create every ISO 4217 currency that is missing; existing rows are left as an admin set them."""
    existing = set(Currency.objects.values_list("code", flat=True))
    created = [
        Currency(
            code=c.alpha_3,
            name=c.name,
            numeric_code=getattr(c, "numeric", ""),
            minor_units=minor_units(c.alpha_3),
            is_active=c.alpha_3 not in NOT_MONEY,
        )
        for c in pycountry.currencies
        if c.alpha_3 not in existing
    ]
    Currency.objects.bulk_create(created)
    return len(created)


@transaction.atomic
def fx_base_rate_ensure(*, base: str, quote: str, rate: Decimal, volatility: Decimal, source: str = "Internal") -> bool:
    """Create the pair's base rate, and its first history entry, if it has none; True when created."""
    now = timezone.now()
    _, created = FxBaseRate.objects.get_or_create(
        base_currency_id=base,
        quote_currency_id=quote,
        defaults={
            "rate": rate,
            "volatility": volatility,
            "source": source,
            "current_rate": rate,
            "current_rate_at": now,
        },
    )
    if created:
        FxRateHistory.objects.create(
            base_currency_id=base,
            quote_currency_id=quote,
            rate=rate,
            recorded_at=now,
            source=FxRateHistory.Source.BASE,
        )
        fx_cache_clear()
    return created


def fx_simulate_tick(
    *, rng: random.Random | None = None, now: datetime | None = None, params: SimulationParams | None = None
) -> list[Tick]:
    """Move every pair one step of the mean-reverting walk; record history; log and announce spikes."""
    rng = rng or random.Random()
    now = now or timezone.now()
    params = params or SimulationParams()
    ticks: list[Tick] = []
    with transaction.atomic():
        pairs = list(FxBaseRate.objects.select_for_update().order_by("pk"))
        history = []
        for pair in pairs:
            state = PairState(
                base=pair.base_currency_id,
                quote=pair.quote_currency_id,
                base_rate=pair.rate,
                volatility=pair.volatility,
                rate=pair.current_rate if pair.current_rate is not None else pair.rate,
            )
            new_state, tick = simulate_step(state, rng, params)
            pair.current_rate = new_state.rate
            pair.current_rate_at = now
            pair.current_rate_source = FxRateHistory.Source.SIMULATION
            history.append(
                FxRateHistory(
                    base_currency_id=pair.base_currency_id,
                    quote_currency_id=pair.quote_currency_id,
                    rate=new_state.rate,
                    recorded_at=now,
                    source=FxRateHistory.Source.SIMULATION,
                    is_spike=tick.is_spike,
                    spike_size=tick.spike_size,
                )
            )
            ticks.append(tick)
        FxBaseRate.objects.bulk_update(pairs, ["current_rate", "current_rate_at", "current_rate_source"])
        FxRateHistory.objects.bulk_create(history)
        spikes = [tick for tick in ticks if tick.is_spike]
        for tick in spikes:
            logger.warning(
                "FX spike %s/%s %+.2f%%: %s -> %s at %s",
                tick.base,
                tick.quote,
                tick.spike_size * 100,
                tick.previous,
                tick.rate,
                now.isoformat(),
            )
        if spikes:
            event_record_many(
                events=[
                    (
                        "fx",
                        "fxrates.fx_spike",
                        {
                            "pair": f"{t.base}/{t.quote}",
                            "rate": t.rate,
                            "previous": t.previous,
                            "spike_size": t.spike_size,
                            "at": now,
                        },
                    )
                    for t in spikes
                ]
            )
    fx_cache_clear()
    return ticks


def fx_history_prune(*, now: datetime | None = None) -> int:
    """Delete history older than FX_HISTORY_RETENTION, keeping each pair's latest entry."""
    cutoff = (now or timezone.now()) - settings.FX_HISTORY_RETENTION
    keep = []
    for base, quote in FxBaseRate.objects.values_list("base_currency_id", "quote_currency_id"):
        latest = (
            FxRateHistory.objects.filter(base_currency_id=base, quote_currency_id=quote)
            .order_by("-recorded_at")
            .values_list("pk", flat=True)
            .first()
        )
        if latest is not None:
            keep.append(latest)
    deleted, _ = FxRateHistory.objects.filter(recorded_at__lt=cutoff).exclude(pk__in=keep).delete()
    return deleted


@dataclass(frozen=True)
class ImportedRate:
    base: str
    quote: str
    rate: Decimal
    at: datetime


IMPORT_COLUMNS = ("base", "quote", "rate", "recorded_at")


def fx_rates_parse_csv(path: Path) -> list[ImportedRate]:
    """Read `base,quote,rate,recorded_at` rows; every bad line is reported with its number, nothing is half read."""
    known = set(Currency.objects.filter(is_active=True).values_list("code", flat=True))
    rows: list[ImportedRate] = []
    errors: list[str] = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in IMPORT_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValidationFailed(
                f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(IMPORT_COLUMNS)}.",
                code="invalid_file",
            )
        for line, record in enumerate(reader, start=2):
            base = (record["base"] or "").strip().upper()
            quote = (record["quote"] or "").strip().upper()
            try:
                rate = Decimal((record["rate"] or "").strip())
            except InvalidOperation:
                rate = None
            at = parse_datetime((record["recorded_at"] or "").strip())
            problem = None
            if base not in known or quote not in known:
                problem = f"unknown currency {base if base not in known else quote!r}"
            elif base == quote:
                problem = "base and quote are the same currency"
            elif rate is None or not rate.is_finite() or rate <= 0:
                problem = f"rate {record['rate']!r} is not a positive decimal"
            elif at is None:
                problem = f"recorded_at {record['recorded_at']!r} is not an ISO 8601 date-time"
            if problem:
                errors.append(f"line {line}: {problem}")
                continue
            if timezone.is_naive(at):
                at = timezone.make_aware(at, timezone.get_fixed_timezone(0))
            rows.append(ImportedRate(base=base, quote=quote, rate=rate.quantize(Decimal("0.00000001")), at=at))
    if errors:
        raise ValidationFailed(f"{path}: {len(errors)} bad line(s): " + "; ".join(errors[:20]), code="invalid_file")
    return rows


@transaction.atomic
def fx_rates_import(*, rates: list[ImportedRate]) -> int:
    """Record imported rates in history; a pair's current rate moves when an imported one is newer."""
    FxRateHistory.objects.bulk_create(
        [
            FxRateHistory(
                base_currency_id=r.base,
                quote_currency_id=r.quote,
                rate=r.rate,
                recorded_at=r.at,
                source=FxRateHistory.Source.IMPORT,
            )
            for r in rates
        ]
    )
    latest: dict[tuple[str, str], ImportedRate] = {}
    for r in rates:
        key = (r.base, r.quote)
        if key not in latest or r.at > latest[key].at:
            latest[key] = r
    for (base, quote), r in sorted(latest.items()):
        pair, _ = FxBaseRate.objects.select_for_update().get_or_create(
            base_currency_id=base,
            quote_currency_id=quote,
            defaults={"rate": r.rate, "volatility": Decimal(0), "source": "Import", "current_rate_source": "import"},
        )
        # Real rates replace base and simulated ones; among imported rates the newest wins.
        imported_is_newer = pair.current_rate_at is None or r.at >= pair.current_rate_at
        if pair.current_rate_source != FxRateHistory.Source.IMPORT or imported_is_newer:
            pair.current_rate = r.rate
            pair.current_rate_at = r.at
            pair.current_rate_source = FxRateHistory.Source.IMPORT
            pair.save(update_fields=["current_rate", "current_rate_at", "current_rate_source", "updated_at"])
    transaction.on_commit(fx_cache_clear)
    return len(rates)
