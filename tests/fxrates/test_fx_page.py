"""The FX page: roles, the rate table, 24-hour charts thinned in the database, spikes marked and listed."""

import random
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import lxml.html
import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from deltran.roles import ROLES, VIEWER
from fxrates.engines.fx import SimulationParams
from fxrates.models import FxBaseRate, FxRateHistory
from fxrates.selectors import fx_cache_clear, rate_series
from fxrates.services import fx_simulate_tick

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
SPIKES = SimulationParams(spike_probability=Decimal(1))
CALM = SimulationParams(spike_probability=Decimal(0))


@pytest.fixture(autouse=True)
def _fresh_rates():
    fx_cache_clear()
    yield
    fx_cache_clear()


@pytest.fixture
def rates(scenario):
    """The scenario's pairs, their first history entries (the base rates) three days before NOW."""
    FxRateHistory.objects.update(recorded_at=NOW - timedelta(days=3))
    FxBaseRate.objects.update(current_rate_at=NOW - timedelta(days=3))
    return scenario


@pytest.fixture
def viewer(users) -> Client:
    client = Client()
    client.force_login(users[VIEWER])
    return client


def simulate_day(*, every: timedelta = timedelta(minutes=30), spikes_at: tuple[int, ...] = (10, 30)) -> None:
    """A tick every half hour over the 24 hours before NOW (the clock travels with them); ticks 10 and 30 spike."""
    rng = random.Random(42)
    steps = int(timedelta(hours=24) / every)
    for step in range(steps + 1):
        at = NOW - timedelta(hours=24) + step * every
        with time_machine.travel(at, tick=False):
            fx_simulate_tick(rng=rng, params=SPIKES if step in spikes_at else CALM)


def get_page(client: Client):
    with time_machine.travel(NOW, tick=False):
        response = client.get("/fx/")
    assert response.status_code == 200, response.content[:500]
    return lxml.html.fromstring(response.content)


def table_rows(doc, table_id: str) -> list[dict[str, str]]:
    return [
        {td.get("data-label"): " ".join(" ".join(td.itertext()).split()) for td in tr.xpath("td")}
        for tr in doc.xpath(f'//table[@id="{table_id}"]/tbody/tr')
    ]


def chart(doc, pair: str):
    (found,) = doc.xpath(f'//*[@id="chart-{pair}"]//svg[contains(@class, "fx-svg")]')
    return found


def polyline_points(svg) -> list[tuple[float, float]]:
    (line,) = svg.xpath(".//polyline")
    return [tuple(map(float, point.split(","))) for point in line.get("points").split()]


def test_anonymous_visitor_is_sent_to_log_in(rates):
    response = Client().get("/fx/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/fx/"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_rates(rates, users, role):
    client = Client()
    client.force_login(users[role])
    doc = get_page(client)
    assert doc.xpath("//h1")[0].text_content() == "FX rates"
    assert len(doc.xpath('//table[@id="fx-rates"]/tbody/tr')) == 7
    assert [a.get("aria-current") for a in doc.xpath('//nav[@aria-label="Main"]//a') if a.text == "FX rates"] == [
        "page"
    ]


def test_rate_table_shows_rate_base_deviation_volatility_time_and_source(rates, viewer):
    FxBaseRate.objects.filter(quote_currency_id="INR").update(
        current_rate=Decimal("84.0825"), current_rate_at=NOW - timedelta(minutes=5), current_rate_source="simulation"
    )
    rows = {row["Pair"]: row for row in table_rows(get_page(viewer), "fx-rates")}
    assert rows["USD/INR"] == {
        "Pair": "USD/INR",
        "Rate": "84.08250000",
        "Base rate": "83.25000000",
        "From base": "+1.000%",
        "Volatility (daily)": "1.80%",
        "As of (UTC)": "2026-11-23 11:55:00",
        "Source": "Volatility simulation base: Internal",
    }
    assert rows["USD/AED"]["From base"] == "0.000%"
    assert rows["USD/AED"]["Source"].startswith("Base rate")


def test_charts_draw_the_last_24_hours_and_mark_spikes(rates, viewer):
    simulate_day()
    doc = get_page(viewer)
    svg = chart(doc, "USD-INR")
    points = polyline_points(svg)
    # The base-rate entry is older than 24 hours: 49 half-hourly ticks in the window, left to right.
    assert len(points) == 49
    assert points[0][0] == 0.0 and points[-1][0] == pytest.approx(1000, abs=0.1)
    assert [x for x, _ in points] == sorted(x for x, _ in points)
    markers = svg.xpath('.//svg[contains(@class, "spike")]/polygon/title/text()')
    times = ["2026-11-22 17:00:00 UTC", "2026-11-23 03:00:00 UTC"]  # ticks 10 and 30
    assert len(markers) == 2
    for title, at in zip(markers, times, strict=True):
        assert re.fullmatch(rf"USD/INR spike [+-]5\.00% to \d+\.\d{{8}} at {at}", title), title
    # 5 hours in (tick 10) is 5/24 of the width.
    first = svg.xpath('.//svg[contains(@class, "spike")]')[0]
    assert first.get("x") == f"{5 / 24 * 100:.4f}%"
    assert svg.get("role") == "img" and "2 spikes" in svg.findtext("title")
    # A chart has a base-rate line and time ticks every 6 hours in UTC.
    assert svg.xpath('.//line[@class="base"]')
    assert svg.xpath('.//text[@class="axis"]/text()')[-4:] == ["18:00", "00:00", "06:00", "12:00"]


def test_spikes_of_the_last_24_hours_are_listed_newest_first(rates, viewer):
    simulate_day()
    old = NOW - timedelta(hours=30)
    FxRateHistory.objects.create(
        base_currency_id="USD",
        quote_currency_id="EUR",
        rate=Decimal("0.97"),
        recorded_at=old,
        source="simulation",
        is_spike=True,
        spike_size=Decimal("0.05"),
    )
    rows = table_rows(get_page(viewer), "fx-spikes")
    assert len(rows) == 14  # 7 pairs x 2 spiking ticks; the 30-hour-old spike is not listed
    assert [row["Time (UTC)"] for row in rows[:7]] == ["2026-11-23 03:00:00"] * 7
    assert {row["Pair"] for row in rows} == {
        "USD/AED",
        "USD/ILS",
        "USD/PKR",
        "USD/INR",
        "USD/EUR",
        "USD/GBP",
        "USD/SAR",
    }
    assert {row["Size"] for row in rows} <= {"+5.00%", "-5.00%"}
    inr = FxRateHistory.objects.get(quote_currency_id="INR", recorded_at=NOW - timedelta(hours=9))
    assert {
        "Time (UTC)": "2026-11-23 03:00:00",
        "Pair": "USD/INR",
        "Size": f"{inr.spike_size * 100:+.2f}%",
        "Rate after": str(inr.rate),
    } in rows


def test_a_pair_without_history_in_the_window_is_drawn_flat(rates, viewer):
    doc = get_page(viewer)  # only the base-rate entries, three days old
    svg = chart(doc, "USD-GBP")
    assert [y for _, y in polyline_points(svg)] == [polyline_points(svg)[0][1]] * 2
    assert "No rate recorded in the last 24 hours" in doc.xpath('//*[@id="chart-USD-GBP"]')[0].text_content()
    assert doc.xpath('//p[@id="fx-spikes"]')[0].text_content() == "No spikes in the last 24 hours."


def history(pair: str, count: int, *, spike_every: int = 0) -> None:
    """`count` evenly spaced rows in the 24 hours before NOW; every `spike_every`-th one a spike."""
    base, quote = pair.split("/")
    span = timedelta(hours=24) / count
    FxRateHistory.objects.bulk_create(
        FxRateHistory(
            base_currency_id=base,
            quote_currency_id=quote,
            rate=Decimal("83") + Decimal(i % 97) / 100,
            recorded_at=NOW - timedelta(hours=24) + (i + 1) * span,
            source="simulation",
            is_spike=bool(spike_every) and i % spike_every == spike_every // 2,
            spike_size=Decimal("0.05") if spike_every and i % spike_every == spike_every // 2 else None,
        )
        for i in range(count)
    )


def test_rate_series_is_thinned_in_the_database_keeping_ends_and_spikes(rates):
    history("USD/INR", 5000, spike_every=1000)
    history("USD/EUR", 120)
    series = rate_series(start=NOW - timedelta(hours=24), end=NOW, max_points=300)
    inr = series[("USD", "INR")]
    assert 250 <= len(inr) <= 300 + 5 + 2
    stored = list(
        FxRateHistory.objects.filter(quote_currency_id="INR", recorded_at__gte=NOW - timedelta(hours=24))
        .order_by("recorded_at")
        .values_list("recorded_at", flat=True)
    )
    assert inr[0].at == stored[0] and inr[-1].at == stored[-1]
    assert sum(p.is_spike for p in inr) == 5
    assert [p.at for p in inr] == sorted(p.at for p in inr)
    assert len(series[("USD", "EUR")]) == 120  # fewer than the budget: every point


def test_query_count_does_not_grow_with_history(rates, viewer):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            get_page(viewer)
        return len(captured)

    get_page(viewer)  # warm the session
    pairs = ("USD/INR", "USD/EUR", "USD/AED")
    for pair in pairs:
        history(pair, 40, spike_every=10)
    small = queries()
    FxRateHistory.objects.filter(recorded_at__gt=NOW - timedelta(hours=25)).delete()
    for pair in pairs:
        history(pair, 3000, spike_every=750)
    large = queries()
    # Session, user, roles, pairs, history counts, one thinned history per pair that has some, spikes.
    assert large == small == 6 + len(pairs)
    doc = get_page(viewer)
    assert 250 <= len(polyline_points(chart(doc, "USD-INR"))) <= 310
    assert len(chart(doc, "USD-INR").xpath('.//svg[contains(@class, "spike")]')) == 4
    assert len(table_rows(doc, "fx-spikes")) == 12
