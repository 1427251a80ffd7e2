"""The audit log viewer and the dead letters in headless Chromium: an auditor filters the log and verifies the
chain; an operator reads a dead letter and closes it. Screenshots at 1280 and 390 px (audit-log-*, dead-letters-*,
dead-letter-*) go to tests/browser/screenshots/; the pages must fit their viewport and fetch nothing offsite."""

import re

import pytest
from django.db import transaction
from playwright.sync_api import expect

from deltran.audit import audit_record
from deltran.deadletters import dead_letter_record
from deltran.roles import AUDITOR, OPERATOR
from tests.browser.conftest import NARROW, WIDE
from tests.browser.test_pages import log_in, page_problems
from tests.conftest import ROLE_USERS

pytestmark = pytest.mark.browser

VIEWPORTS = pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])


@pytest.fixture
def audit_entries(users):
    with transaction.atomic():
        for n in range(3):
            audit_record(
                actor=users[OPERATOR],
                action="payment.initiated",
                object_type="payment",
                object_id=f"0193a6c1-7f00-7000-8000-00000000000{n}",
                payload={"amount": "125000.50", "currency": "USD", "reference": f"INV-{n}"},
            )
        audit_record(
            actor=None, action="settlement.netting_cycle", object_type="netting_cycle", object_id="1", payload={}
        )


@VIEWPORTS
def test_an_auditor_filters_the_log_and_verifies_the_chain(audit_entries, page, viewport, screenshot, offsite_requests):
    width = viewport["width"]
    page.set_viewport_size(viewport)
    log_in(page, ROLE_USERS[AUDITOR])
    page.goto("/audit/")
    expect(page.locator("#result-count")).to_contain_text("4 entries")
    page.get_by_label("Action").fill("payment.initiated")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"action=payment.initiated"))
    expect(page.locator("#result-count")).to_contain_text("3 entries")
    page.get_by_role("button", name="Verify the chain now").click()
    expect(page.locator("#verification-result")).to_contain_text("The chain holds.")
    expect(page.locator("#result-count")).to_contain_text("3 entries")  # still filtered
    expect(page.get_by_role("link", name="Export CSV")).to_be_visible()
    assert page_problems(page) == []
    screenshot(page, f"audit-log-{width}")
    assert offsite_requests == []


@VIEWPORTS
def test_an_operator_reads_a_dead_letter_and_closes_it(users, page, viewport, screenshot, offsite_requests):
    width = viewport["width"]
    dead_letter_record(
        task_name="settlement.netting_cycle",
        task_id="8c1e6c1e-0f7a-4b5e-9d1a-5f0c2b7e9a10",
        args=[],
        kwargs={},
        exception=ConnectionError("could not connect to server: Connection refused"),
        traceback='Traceback (most recent call last):\n  File "settlement/tasks.py", line 14\nConnectionError: refused',
        attempts=6,
    )
    page.set_viewport_size(viewport)
    log_in(page, ROLE_USERS[OPERATOR])
    page.goto("/")
    page.get_by_role("link", name="Dead letters").click()
    expect(page.locator("#dead-letters tbody tr")).to_have_count(1)
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    assert page_problems(page) == []
    screenshot(page, f"dead-letters-{width}")
    page.get_by_role("link", name="settlement.netting_cycle").click()
    expect(page.locator("#traceback")).to_contain_text("ConnectionError")
    assert page_problems(page) == []
    screenshot(page, f"dead-letter-{width}")
    page.get_by_role("button", name="Mark resolved without running").click()
    expect(page.locator("#dead-letter-status")).to_have_text("Resolved")
    expect(page.get_by_role("button", name="Retry now")).to_have_count(0)
    assert offsite_requests == []
