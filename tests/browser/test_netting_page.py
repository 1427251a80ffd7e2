"""The netting pages in headless Chromium: an operator runs a cycle, opens it, reads gross against net and the
instructions; and cancels a payment waiting for liquidity.

Screenshots at 1280 and 390 px go to tests/browser/screenshots/ (netting-*, netting-cycle-*, payment-cancel-*); the
pages must fit their viewport, name their controls and fetch nothing from the internet.
"""

import re

import pytest
import time_machine
from playwright.sync_api import expect

from deltran.roles import OPERATOR
from tests.browser.conftest import NARROW, WIDE
from tests.browser.test_pages import log_in, page_problems
from tests.conftest import ROLE_USERS
from tests.settlement.factories import ENBX, HABB, LUMI, SBIN, minutes, pay, set_limit

pytestmark = pytest.mark.browser

VIEWPORTS = pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])


@pytest.fixture
def book(scenario, users):
    """USD among four banks and one AED → INR payment through the pool, due at minutes(5)."""
    actor = users[OPERATOR]
    pay(actor, amount="1000.00")
    pay(actor, sender_bic=SBIN, receiver_bic=ENBX, amount="600.00")
    pay(actor, sender_bic=LUMI, receiver_bic=ENBX, amount="300.00")
    pay(actor, sender_bic=SBIN, receiver_bic=HABB, amount="200.00")
    pay(actor, currency="AED", amount="3672.50", settlement_currency="INR")


@VIEWPORTS
def test_operator_runs_a_cycle_and_reads_it(book, users, page, viewport, screenshot, offsite_requests):
    width = viewport["width"]
    page.set_viewport_size(viewport)
    with time_machine.travel(minutes(5)):
        log_in(page, ROLE_USERS[OPERATOR])
        expect(page).to_have_url(re.compile(r"/payments/$"))
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Netting").click()
        expect(page).to_have_url(re.compile(r"/netting/$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Netting cycles")
        expect(page.locator("#cycles tbody tr")).to_have_text("No netting cycle has run yet.")

        page.get_by_role("button", name="Run netting now").click()
        expect(page).to_have_url(re.compile(r"/netting/$"))
        message = page.locator(".messages li.success")
        expect(message).to_contain_text(re.compile(r"Netting cycle \d+ settled 5 payments \(6 obligations\)"))
        expect(message).to_contain_text("gross 4,100.00 USD, net 2,400.00 USD, netting efficiency 41.46%.")
        rows = page.locator("#cycles tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first.locator(".status")).to_have_text("Settled")
        assert page_problems(page) == []
        screenshot(page, f"netting-{width}")

        rows.first.get_by_role("link").click()
        expect(page).to_have_url(re.compile(r"/netting/\d+/$"))
        expect(page.locator("#cycle-status")).to_have_text("Settled")
        charts = page.locator("article.netting-currency")
        expect(charts).to_have_count(3)
        usd = page.get_by_role("img", name=re.compile(r"^USD: gross 2,100\.00 USD, bilateral net 900\.00 USD"))
        expect(usd).to_be_visible()
        # Drawn with real widths: gross is the widest, the multilateral net the narrowest.
        boxes = [
            page.locator(f"article[data-currency=USD] rect.bar.{kind}").bounding_box()
            for kind in ("gross", "bilateral", "multilateral")
        ]
        assert all(boxes) and boxes[0]["width"] > boxes[1]["width"] > boxes[2]["width"] > 2

        instructions = page.get_by_role("table", name="Settlement instructions").locator("tbody tr")
        expect(instructions.first).to_be_visible()
        expect(page.get_by_role("table", name="Settlement instructions")).to_contain_text("Liquidity pool")
        totals = page.locator("#positions tr.total td.position-total")
        expect(totals).to_have_count(3)
        for index in range(3):
            expect(totals.nth(index)).to_have_text(re.compile(r"^0(\.0+)?$"))
        expect(page.get_by_role("link", name="Positions CSV")).to_be_visible()
        expect(page.get_by_role("link", name="Instructions CSV")).to_be_visible()
        expect(page.get_by_role("table", name="Ledger postings").locator("tbody tr").first).to_be_visible()
        assert page_problems(page) == []
        screenshot(page, f"netting-cycle-{width}")
    assert offsite_requests == []


@VIEWPORTS
def test_operator_cancels_a_payment_waiting_for_liquidity(
    scenario, users, page, viewport, screenshot, offsite_requests
):
    width = viewport["width"]
    set_limit(ENBX, 1000)
    pay(users[OPERATOR], amount="800.00")
    waiting = pay(users[OPERATOR], amount="300.00", at=minutes(1))
    with time_machine.travel(minutes(10)):
        page.set_viewport_size(viewport)
        log_in(page, ROLE_USERS[OPERATOR])
        expect(page).to_have_url(re.compile(r"/payments/$"))
        page.get_by_role("link", name="Awaiting liquidity").click()
        expect(page.locator("#result-count")).to_have_text("1 payment waiting for liquidity")
        page.get_by_role("link", name=waiting.payment_reference).click()
        expect(page.get_by_role("heading", name="Waiting for liquidity")).to_be_visible()

        page.get_by_role("button", name="Cancel payment").click()  # the browser refuses an empty reason
        expect(page).to_have_url(re.compile(rf"/payments/{waiting.pk}/$"))
        page.get_by_label("Reason for cancelling").fill("   ")
        page.get_by_role("button", name="Cancel payment").click()
        expect(page.locator("#cancel-errors")).to_have_text("Give the reason for cancelling the payment.")
        assert page_problems(page) == []
        screenshot(page, f"payment-cancel-error-{width}")

        page.get_by_label("Reason for cancelling").fill("The customer withdrew the order")
        page.get_by_role("button", name="Cancel payment").click()
        expect(page.locator(".messages li.success")).to_have_text(
            f"Payment {waiting.payment_reference} is cancelled; it will not be settled."
        )
        expect(page.locator("#payment-status")).to_have_text("Cancelled")
        expect(page.get_by_role("button", name="Cancel payment")).to_have_count(0)
        assert page_problems(page) == []
        screenshot(page, f"payment-cancelled-{width}")
    assert offsite_requests == []
