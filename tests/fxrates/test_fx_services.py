"""FX services on the database: simulation ticks, spikes, history at a past instant, import, pruning, the API."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command

from deltran.models import OutboxEvent
from fxrates.engines.fx import NoRate, SimulationParams, UnknownCurrency
from fxrates.models import FxBaseRate, FxRateHistory
from fxrates.selectors import current_rate_table, fx_cache_clear, fx_rate
from fxrates.services import fx_history_prune, fx_simulate_tick

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rates():
    fx_cache_clear()
    yield
    fx_cache_clear()


def test_a_tick_moves_every_pair_and_records_history(scenario):
    before = {p.quote_currency_id: p.current_rate for p in FxBaseRate.objects.all()}
    history_before = FxRateHistory.objects.count()
    ticks = fx_simulate_tick(rng=random.Random(7))
    assert len(ticks) == 7
    after = {p.quote_currency_id: p.current_rate for p in FxBaseRate.objects.all()}
    assert after != before
    assert FxRateHistory.objects.count() == history_before + 7
    assert all(rate > 0 for rate in after.values())
    assert current_rate_table().rate("USD", "INR") == after["INR"]


def test_spikes_are_logged_recorded_and_announced(scenario, caplog):
    always = SimulationParams(spike_probability=Decimal(1))
    ticks = fx_simulate_tick(rng=random.Random(1), params=always)
    assert all(tick.is_spike for tick in ticks)
    spikes = FxRateHistory.objects.filter(is_spike=True)
    assert spikes.count() == 7
    assert {abs(s.spike_size) for s in spikes} == {Decimal("0.05")}
    assert "FX spike" in caplog.text
    events = OutboxEvent.objects.filter(event_type="fxrates.fx_spike")
    assert events.count() == 7
    assert {e.payload["pair"] for e in events} >= {"USD/INR", "USD/AED"}


def test_rate_in_force_at_a_past_instant_comes_from_history(scenario):
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    with time_machine.travel(t0, tick=False):
        pass
    FxRateHistory.objects.all().delete()
    for minutes, rate in [(0, "3.6700"), (10, "3.6800"), (20, "3.6900")]:
        FxRateHistory.objects.create(base_currency_id="USD", quote_currency_id="AED", rate=Decimal(rate),
                                     recorded_at=t0 + timedelta(minutes=minutes), source="import")
    assert fx_rate("USD", "AED", t0 + timedelta(minutes=15))[0] == Decimal("3.68")
    assert fx_rate("USD", "AED", t0 + timedelta(minutes=20))[0] == Decimal("3.69")
    assert fx_rate("AED", "USD", t0 + timedelta(minutes=5))[0] == (1 / Decimal("3.67")).quantize(Decimal("1e-8"))
    with pytest.raises(NoRate):
        fx_rate("USD", "AED", t0 - timedelta(seconds=1))
    with pytest.raises(UnknownCurrency):
        fx_rate("USD", "QQQ")


def test_history_is_pruned_by_retention_keeping_the_latest(scenario, settings):
    settings.FX_HISTORY_RETENTION = timedelta(days=7)
    old = datetime(2026, 1, 1, tzinfo=UTC)
    FxRateHistory.objects.update(recorded_at=old)
    FxRateHistory.objects.create(base_currency_id="USD", quote_currency_id="AED", rate=Decimal("3.6"),
                                 recorded_at=old - timedelta(days=1), source="import")
    deleted = fx_history_prune(now=old + timedelta(days=30))
    assert deleted == 1
    assert FxRateHistory.objects.count() == 7  # each pair keeps its latest entry


def test_import_fx_rates_command_loads_real_rates_and_refuses_bad_files(scenario, tmp_path):
    good = tmp_path / "rates.csv"
    good.write_text("base,quote,rate,recorded_at\nUSD,AED,3.6731,2026-11-20T16:00:00Z\n"
                    "USD,CHF,0.8812,2026-11-20T16:00:00Z\n")
    call_command("import_fx_rates", str(good))
    fx_cache_clear()
    assert current_rate_table().rate("USD", "AED") == Decimal("3.6731")
    assert current_rate_table().rate("USD", "CHF") == Decimal("0.8812")
    bad = tmp_path / "bad.csv"
    bad.write_text("base,quote,rate,recorded_at\nUSD,AED,3.7,2026-11-21T16:00:00Z\nUSD,QQQ,1,2026-11-21T16:00:00Z\n"
                   "USD,EUR,-1,2026-11-21T16:00:00Z\nUSD,EUR,0.9,yesterday\n")
    with pytest.raises(CommandError) as info:
        call_command("import_fx_rates", str(bad))
    assert "line 3" in str(info.value) and "line 4" in str(info.value) and "line 5" in str(info.value)
    fx_cache_clear()
    assert current_rate_table().rate("USD", "AED") == Decimal("3.6731")  # nothing of the bad file was taken


def test_fx_rates_api_and_history_api(scenario, viewer_client):
    fx_simulate_tick(rng=random.Random(3), params=SimulationParams(spike_probability=Decimal(1)))
    body = viewer_client.get("/api/v1/fx/rates").json()
    assert {row["pair"] for row in body["rates"]} == {"USD/AED", "USD/ILS", "USD/PKR", "USD/INR", "USD/EUR",
                                                      "USD/GBP", "USD/SAR"}
    history = viewer_client.get("/api/v1/fx/rates/history?pair=USD/INR").json()
    assert history["pair"] == "USD/INR"
    assert [p["source"] for p in history["points"]] == ["base", "simulation"]
    assert history["points"][1]["is_spike"] is True
    bad = viewer_client.get("/api/v1/fx/rates/history?pair=USD/XYZ")
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"
    assert viewer_client.get("/api/v1/fx/rates/history?pair=USD/INR&from=nonsense").status_code == 400
