"""The content security policy in Chromium: no page of the back office, the admin or the API docs trips it.

The policy (deltran/settings.py) allows only this origin's scripts and styles, no inline code, and no framing; a
page with an inline script, style element or style attribute would show a console error here. The API docs page
alone gets inline code for Redoc (deltran/urls.py) and must still render.
"""

import pytest
from django.urls import Resolver404, resolve
from playwright.sync_api import expect

from deltran.clients import api_client_set
from deltran.roles import ADMIN, OPERATOR, VIEWER
from tests.browser.test_pages import initiate, log_in
from tests.conftest import ROLE_USERS

pytestmark = pytest.mark.browser

PAGES = [
    "/payments/",
    "/compliance/",
    "/netting/",
    "/calendar/",
    "/fx/",
    "/liquidity/",
    "/audit/",
    "/operations/dead-letters/",
    "/dashboard/",
    "/activity/",
    "/account/two-factor/",
    "/admin/",
    "/admin/deltran/apiclient/",
    "/admin/deltran/apiclient/add/",
    "/admin/auth/user/",
]


def served(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def watch_csp(page) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(f"{page.url}: {message.text}")
        if "Content Security Policy" in message.text
        else None,
    )
    return violations


def test_no_page_trips_the_content_security_policy(scenario, users, page, screenshot, offsite_requests):
    admin = users[ADMIN]
    payment = initiate(admin, debtor_iban="AE070331234567890123456")
    api_client_set(name="ENBX treasury", username=ROLE_USERS[OPERATOR], rate_limit_per_minute=600)
    violations = watch_csp(page)
    log_in(page, ROLE_USERS[ADMIN])
    visited = []
    for path in [*PAGES, f"/payments/{payment.pk}/", "/admin/deltran/apiclient/1/change/"]:
        if not served(path):
            continue
        response = page.goto(path)
        page.wait_for_load_state("load")
        assert response.status < 400, f"{path}: {response.status}"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        visited.append(path)
    screenshot(page, "csp-admin-api-client")
    assert len(visited) >= 12
    assert violations == []
    assert offsite_requests == []


def test_the_api_docs_render_under_their_own_policy(page, users, screenshot, offsite_requests):
    violations = watch_csp(page)
    page.goto("/api/v1/docs/")
    expect(page.locator("h1").first).to_contain_text("DelTran API", timeout=20_000)
    expect(page.get_by_text("Initiate a payment").last).to_be_attached()
    screenshot(page, "csp-api-docs")
    # The Redoc bundle's "by Redocly" logo from its CDN is refused on purpose: the back office works offline
    # (templates/drf_spectacular/redoc.html). Nothing else may be.
    assert [v for v in violations if "cdn.redoc.ly" not in v] == []
    assert offsite_requests == []


def test_a_viewer_sees_masked_accounts_on_the_payment_page(scenario, users, page, screenshot):
    payment = initiate(users[ADMIN], debtor_iban="AE070331234567890123456", creditor_account="0099-1234567")
    log_in(page, ROLE_USERS[VIEWER])
    page.goto(f"/payments/{payment.pk}/")
    parties = page.locator("section[aria-labelledby='h-parties']")
    expect(parties).to_contain_text("AE07 **** **** 3456")
    expect(parties).to_contain_text("**** 4567")
    expect(parties).not_to_contain_text("AE070331234567890123456")
    screenshot(page, "masked-accounts-viewer")
