"""The liquidity pool page in headless Chromium: an operator rebalances the pool and sees what moved.

Screenshots at 1280 and 390 px go to tests/browser/screenshots/ (liquidity-*, liquidity-rebalanced-*); the page
must fit its viewport, name its controls and fetch nothing from the internet.
"""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from deltran.roles import OPERATOR, VIEWER
from liquidity.models import PoolBalance
from tests.browser.conftest import NARROW, WIDE
from tests.browser.test_pages import log_in, page_problems
from tests.conftest import ROLE_USERS

pytestmark = pytest.mark.browser

VIEWPORTS = pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])
MILLION = Decimal(1_000_000)


@pytest.fixture
def unbalanced_pool(scenario):
    """USD 2,000m (+100 %), EUR 50m (below its 100m minimum), INR exactly 20 % above target (within), ILS +8 %."""
    available = {"USD": 2000, "EUR": 50, "GBP": 150, "AED": 500, "ILS": 270, "PKR": 25000, "INR": 36000}
    for code, millions in available.items():
        PoolBalance.objects.filter(currency_id=code).update(available=millions * MILLION)
    return scenario


def open_pool_page(page, viewport, username: str) -> None:
    page.set_viewport_size(viewport)
    log_in(page, username)
    expect(page).to_have_url(re.compile(r"/payments/$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Liquidity pool").click()
    expect(page).to_have_url(re.compile(r"/liquidity/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Liquidity pool")


@VIEWPORTS
def test_operator_rebalances_the_pool_and_sees_what_moved(
    unbalanced_pool, users, page, viewport, screenshot, offsite_requests
):
    width = viewport["width"]
    open_pool_page(page, viewport, ROLE_USERS[OPERATOR])

    cards = page.locator("article.pool-currency")
    expect(cards).to_have_count(7)
    expect(page.get_by_role("img", name=re.compile(r"^USD: 2,000,000,000\.00 available"))).to_be_visible()
    eur = page.get_by_role("article", name=re.compile(r"^EUR"))
    expect(eur).to_have_attribute("data-state", "below_minimum")
    expect(eur.locator(".pool-state")).to_have_text("Below minimum")
    expect(page.get_by_role("article", name=re.compile(r"^GBP"))).to_have_attribute("data-state", "ok")
    expect(page.get_by_role("article", name=re.compile(r"^INR"))).to_have_attribute("data-state", "ok")
    # The bars are drawn with a real width: EUR's is short, USD's long.
    eur_bar = eur.locator("rect.balance").bounding_box()
    usd_bar = page.locator("article[data-currency=USD] rect.balance").bounding_box()
    assert eur_bar and usd_bar and 2 < eur_bar["width"] < usd_bar["width"]
    expect(page.locator("#pool-movements")).to_have_text("No movements yet.")
    assert page_problems(page) == []
    screenshot(page, f"liquidity-{width}")

    page.get_by_role("button", name="Rebalance now").click()
    expect(page).to_have_url(re.compile(r"/liquidity/$"))
    message = page.locator(".messages li.success")
    expect(message).to_contain_text(
        "applied: sold 217,500,054.03 USD for 200,000,000.00 EUR at 1 USD = 0.92000000 EUR."
    )
    expect(message).to_contain_text("FX cost 108,750.03 USD.")

    movements = page.get_by_role("table", name="Recent movements").locator("tbody tr")
    expect(movements).to_have_count(2)
    expect(movements.nth(0)).to_contain_text("Rebalance in")
    expect(movements.nth(0)).to_contain_text("+200,000,000.00 EUR")
    expect(movements.nth(0)).to_contain_text("250,000,000.00 EUR")
    expect(movements.nth(1)).to_contain_text("−217,500,054.03 USD")
    history = page.get_by_role("table", name="Rebalance history").locator("tbody tr")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("217,500,054.03 USD → 200,000,000.00 EUR")
    expect(history.first).to_contain_text(ROLE_USERS[OPERATOR])
    expect(eur).to_have_attribute("data-state", "ok")
    expect(eur.locator(".pool-state")).to_have_text("Within threshold")
    assert page_problems(page) == []
    screenshot(page, f"liquidity-rebalanced-{width}")
    assert offsite_requests == []


def test_a_viewer_sees_the_pool_without_the_rebalance_button(unbalanced_pool, users, page, offsite_requests):
    open_pool_page(page, WIDE, ROLE_USERS[VIEWER])
    expect(page.locator("article.pool-currency")).to_have_count(7)
    expect(page.get_by_role("button", name="Rebalance now")).to_have_count(0)
    assert page_problems(page) == []
    assert offsite_requests == []
