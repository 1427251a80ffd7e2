"""The reference pages in headless Chromium: the clearing calendar, the FX rates, a cross-currency payment.

Screenshots at 1280 and 390 px go to tests/browser/screenshots/ (calendar-*, fx-*,
payment-fx-*); every page must fit its viewport and fetch nothing from the internet.
"""

import random
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from deltran.roles import OPERATOR, VIEWER
from fxrates.engines.fx import SimulationParams
from fxrates.models import FxBaseRate, FxRateHistory
from fxrates.selectors import fx_cache_clear
from fxrates.services import fx_simulate_tick
from payments.services import PaymentInstruction, payment_initiate
from tests.browser.conftest import NARROW, SCREENSHOTS, WIDE
from tests.browser.test_pages import log_in, page_problems
from tests.conftest import ROLE_USERS

pytestmark = pytest.mark.browser

VIEWER_NAME = ROLE_USERS[VIEWER]
VIEWPORTS = pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])


@pytest.fixture
def fx_day(scenario):
    """72 ticks, one every 20 minutes over the last 24 hours (real clock); three of them spike in every pair."""
    fx_cache_clear()
    now = timezone.now()
    FxRateHistory.objects.update(recorded_at=now - timedelta(days=3))
    rng = random.Random(5)
    calm, spikes = SimulationParams(spike_probability=Decimal(0)), SimulationParams(spike_probability=Decimal(1))
    for step in range(71, -1, -1):
        fx_simulate_tick(
            rng=rng, now=now - step * timedelta(minutes=20), params=spikes if step in (60, 33, 9) else calm
        )
    fx_cache_clear()
    yield
    fx_cache_clear()


def open_page(page, viewport, name: str = VIEWER_NAME):
    page.set_viewport_size(viewport)
    log_in(page, name)
    expect(page).to_have_url(re.compile(r"/payments/$"))


@VIEWPORTS
def test_calendar_draws_each_banks_hours_on_one_utc_axis(scenario, users, page, viewport, screenshot, offsite_requests):
    open_page(page, viewport)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar").click()
    expect(page).to_have_url(re.compile(r"/calendar/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Clearing calendar")
    chart = page.locator("svg#calendar-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("g.lane")).to_have_count(4)
    assert chart.locator("rect.bar").count() >= 4 * 9
    # The bars are drawn with a real width, and their hover text gives local time and UTC.
    box = chart.locator("g[data-bic='SBININBBXXX'] rect.bar").first.bounding_box()
    assert box and box["width"] > 4 and box["height"] > 10
    title = chart.locator("g[data-bic='SBININBBXXX'] rect.bar title").first.text_content()
    assert re.fullmatch(r"State Bank of India: open \w{3} \d+ \w{3} 10:00–18:00 IST \(04:30–12:30 UTC\)", title), title
    expect(chart.locator("g.now line")).to_have_count(1)
    expect(page.locator("#bank-calendars tbody tr")).to_have_count(4)
    assert page_problems(page) == []
    screenshot(page, f"calendar-{viewport['width']}")
    chart.screenshot(path=str(SCREENSHOTS / f"calendar-chart-{viewport['width']}.png"))

    # The week with Guru Nanak's birthday: a hatched marker on India's lane, and the holiday listed.
    form = page.get_by_role("form", name="Calendar range")
    form.get_by_label("From (UTC)").fill("2026-11-23")
    form.get_by_label("Currency").select_option("USD")
    with page.expect_navigation():
        form.get_by_role("button", name="Show").click()
    assert "from=2026-11-23" in page.url and "currency=USD" in page.url
    holiday = chart.locator("g[data-bic='SBININBBXXX'] rect.holiday")
    expect(holiday.locator("title")).to_have_text(re.compile("Guru Nanak's Birthday"))
    assert holiday.first.bounding_box()["width"] > 4
    expect(page.locator("#holiday-list")).to_contain_text("Guru Nanak's Birthday")
    expect(chart.locator("g.now")).to_have_count(0)
    assert page_problems(page) == []
    screenshot(page, f"calendar-holiday-{viewport['width']}")
    assert offsite_requests == []


@VIEWPORTS
def test_fx_page_charts_the_last_day_and_marks_spikes(fx_day, users, page, viewport, screenshot, offsite_requests):
    open_page(page, viewport)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="FX rates").click()
    expect(page).to_have_url(re.compile(r"/fx/$"))
    expect(page.locator("#fx-rates tbody tr")).to_have_count(7)
    charts = page.locator("svg.fx-svg")
    expect(charts).to_have_count(7)
    inr = page.locator("#chart-USD-INR svg.fx-svg")
    line = inr.locator("polyline")
    assert len(line.get_attribute("points").split()) == 72
    assert line.bounding_box()["width"] > 250
    spikes = inr.locator("svg.spike polygon")
    expect(spikes).to_have_count(3)
    assert spikes.first.bounding_box()["width"] >= 10
    expect(spikes.first.locator("title")).to_have_text(re.compile(r"^USD/INR spike [+-]5\.00% to [\d.]+ at .+ UTC$"))
    expect(page.locator("#fx-spikes tbody tr")).to_have_count(21)
    assert page_problems(page) == []
    screenshot(page, f"fx-{viewport['width']}")
    page.locator("#chart-USD-INR").screenshot(path=str(SCREENSHOTS / f"fx-chart-{viewport['width']}.png"))
    assert offsite_requests == []


@VIEWPORTS
def test_cross_currency_payment_shows_its_locked_rate_and_schedule(
    scenario, users, page, viewport, screenshot, offsite_requests
):
    # Saturday: Dubai does not clear, so the payment waits for Monday 04:30 UTC, when both banks are open.
    fx_cache_clear()
    sent_at = datetime(2026, 11, 28, 9, tzinfo=UTC)
    FxBaseRate.objects.filter(quote_currency_id="INR").update(
        current_rate=Decimal("83.41250000"), current_rate_at=sent_at - timedelta(seconds=4)
    )
    with time_machine.travel(sent_at, tick=False):
        payment = payment_initiate(
            actor=users[OPERATOR],
            instruction=PaymentInstruction(
                sender_bic="ENBXAEADXXX",
                receiver_bic="SBININBBXXX",
                amount=Decimal("125000.50"),
                currency="USD",
                settlement_currency="INR",
                debtor_name="Acme Trading LLC",
                creditor_name="Mumbai Textiles Pvt Ltd",
                remittance_info="Invoice 2026-115",
            ),
        ).payment
    fx_cache_clear()
    assert payment.clearing_window_violation
    open_page(page, viewport, ROLE_USERS[OPERATOR])
    page.goto(f"/payments/{payment.id}/")
    settlement = page.get_by_role("region", name="Settlement")
    expect(settlement.locator(".settlement-amount")).to_have_text("10,426,604.21 INR")
    expect(settlement.locator(".fx-rate")).to_have_text("1 USD = 83.41250000 INR")
    expect(settlement.locator(".fx-rate-at")).to_have_text("2026-11-28 08:59:56 UTC")
    expect(settlement.locator(".scheduled-for")).to_have_text("2026-11-30 04:30:00 UTC")
    expect(settlement.locator("#clearing-window-violation")).to_contain_text("Clearing-window violation")
    assert page_problems(page) == []
    screenshot(page, f"payment-fx-{viewport['width']}")
    assert offsite_requests == []
