"""The payment page's technical tab in headless Chromium: the pacs.008 a payment came in, as the bank sent it.

Screenshots at 1280 and 390 px go to tests/browser/screenshots/ (payment-technical-*).
"""

import re

import pytest
from playwright.sync_api import expect

from deltran.roles import OPERATOR
from payments.messages.services import pacs008_intake
from tests.browser.conftest import NARROW, WIDE
from tests.browser.test_pages import log_in, page_problems
from tests.conftest import ROLE_USERS
from tests.payments.test_iso20022 import build

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])
def test_technical_tab_shows_the_original_message(scenario, users, page, viewport, screenshot, offsite_requests):
    intake = pacs008_intake(actor=users[OPERATOR], raw=build([{"e2e": "E2E-TAB-1"}, {"e2e": "E2E-TAB-2"}]))
    payment_id = intake.statuses[1].payment_id
    page.set_viewport_size(viewport)
    log_in(page, ROLE_USERS[OPERATOR])
    expect(page).to_have_url(re.compile(r"/payments/$"))
    page.goto(f"/payments/{payment_id}/")
    tab = page.get_by_role("region", name="Technical")
    expect(tab).to_contain_text("pacs.008.001.08")
    expect(tab).to_contain_text("MSG-TEST-1")
    expect(tab).to_contain_text("transaction 2 of 2 (2 accepted, 0 rejected)")
    original = page.locator("#original-message")
    expect(original).to_contain_text("<EndToEndId>E2E-TAB-2</EndToEndId>")
    expect(original).to_contain_text("<EndToEndId>E2E-TAB-1</EndToEndId>")
    original.scroll_into_view_if_needed()
    assert page_problems(page) == []
    screenshot(page, f"payment-technical-{viewport['width']}")
    assert offsite_requests == []
