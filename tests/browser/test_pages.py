"""The pages in headless Chromium: log in, filter the payments list, open a payment.

Each test gets a fresh browser context on the live server (tests/browser/conftest.py);
the context may reach nothing but the live server, so a page that needs the
internet shows up as a failed assertion on `offsite_requests`.
"""

import csv
import io
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from deltran.roles import OPERATOR
from payments.choices import PaymentStatus
from payments.models import Payment
from payments.services import PaymentInstruction, payment_initiate
from tests.browser.conftest import NARROW, WIDE
from tests.conftest import ROLE_USERS, payment_body
from tests.otp_helpers import otp_code

pytestmark = pytest.mark.browser

OPERATOR_NAME = ROLE_USERS[OPERATOR]


def log_in(page, username: str, password: str | None = None, path: str = "/login/") -> None:
    page.goto(path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password if password is not None else "pw-" + username)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    if "/account/two-factor/verify/" in page.url:
        # A user who has enrolled an authenticator gives its current code, as a person would.
        page.get_by_label("Code").fill(otp_code(get_user_model().objects.get(username=username)))
        with page.expect_navigation():
            page.get_by_role("button", name="Verify").click()


def initiate(actor, **overrides) -> Payment:
    body = payment_body(**overrides)
    body["amount"] = Decimal(body["amount"])
    return payment_initiate(actor=actor, instruction=PaymentInstruction(**body)).payment


def listed_references(page) -> list[str]:
    return page.locator("table.data tbody td.ref a").all_inner_texts()


def references(*payments: Payment) -> list[str]:
    """As the list shows them: newest first."""
    return [p.payment_reference for p in sorted(payments, key=lambda p: (p.created_at, p.id), reverse=True)]


@pytest.fixture
def payments(scenario, users):
    """Six payments over four banks, two currencies and four statuses."""
    actor = users[OPERATOR]
    made = {
        "usd_enbx_sbin": initiate(actor),  # 125,000.50 USD, queued
        "eur_enbx_lumi": initiate(actor, receiver_bic="LUMIILITXXX", currency="EUR", amount="2500.00"),
        "usd_habb_sbin": initiate(actor, sender_bic="HABBPKKKXXX", amount="50.00"),
        "eur_lumi_enbx": initiate(
            actor, sender_bic="LUMIILITXXX", receiver_bic="ENBXAEADXXX", currency="EUR", amount="990000.00"
        ),
        "usd_sbin_habb": initiate(actor, sender_bic="SBININBBXXX", receiver_bic="HABBPKKKXXX", amount="1000000"),
        "usd_lumi_habb": initiate(actor, sender_bic="LUMIILITXXX", receiver_bic="HABBPKKKXXX", amount="75000.25"),
    }
    # Later pipeline stages do not exist yet; give two payments other end states for the status filter.
    for key, status in (("usd_habb_sbin", PaymentStatus.FAILED), ("eur_lumi_enbx", PaymentStatus.CANCELLED)):
        Payment.objects.filter(pk=made[key].pk).update(status=status)
        made[key].status = status
    return made


@pytest.fixture
def operator_page(page, users):
    log_in(page, OPERATOR_NAME)
    expect(page).to_have_url(re.compile(r"/payments/$"))
    return page


def apply_filters(page, **values: str) -> None:
    """Fill the filter form like a person would (labels, not ids) and submit it."""
    form = page.get_by_role("form", name="Filter payments")
    with page.expect_navigation():
        form.get_by_role("link", name="Clear").click()
    for label, value in values.items():
        field = form.get_by_label(label, exact=True)
        if label == "Status":
            field.select_option(label=value)
        else:
            field.fill(value)
    # Wait for the page the submit leads to (through the redirect that drops blank fields).
    with page.expect_navigation():
        form.get_by_role("button", name="Filter").click()


def test_operator_logs_in_and_a_wrong_password_is_refused(page, users, offsite_requests):
    log_in(page, OPERATOR_NAME, password="not-the-password")
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_role("alert")).to_have_text("Your username and password did not match. Please try again.")
    expect(page.get_by_label("Username")).to_have_value(OPERATOR_NAME)

    page.get_by_label("Password").fill("pw-" + OPERATOR_NAME)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(r"/payments/$"))
    expect(page).to_have_title("Payments · DelTran")
    expect(page.get_by_role("heading", level=1)).to_have_text("Payments")
    expect(page.get_by_role("banner")).to_contain_text(OPERATOR_NAME)
    expect(page.get_by_role("banner")).to_contain_text("Operator")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Payments")).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.locator("#result-count")).to_have_text("0 payments")
    expect(page.get_by_role("cell", name="No payments match these filters.")).to_be_visible()
    assert offsite_requests == []


def test_anonymous_visit_redirects_to_login_and_back(page, users, offsite_requests):
    page.goto("/payments/?currency=USD")
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    assert parse_qs(urlsplit(page.url).query) == {"next": ["/payments/?currency=USD"]}
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)

    page.get_by_label("Username").fill(OPERATOR_NAME)
    page.get_by_label("Password").fill("pw-" + OPERATOR_NAME)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/payments/\?currency=USD$"))
    expect(page.get_by_label("Currency", exact=True)).to_have_value("USD")
    assert offsite_requests == []


def test_filtering_the_list_shows_exactly_the_matching_rows(payments, operator_page, context, offsite_requests):
    page = operator_page
    p = payments
    expect(page.locator("#result-count")).to_have_text("6 payments")
    assert listed_references(page) == references(*p.values())

    cases = [
        ({"Currency": "eur"}, [p["eur_enbx_lumi"], p["eur_lumi_enbx"]], "2 payments"),
        ({"Sender BIC": "ENBXAEAD", "Min amount": "100000"}, [p["usd_enbx_sbin"]], "1 payment"),
        (
            {"Min amount": "75000.25"},
            [p["usd_enbx_sbin"], p["eur_lumi_enbx"], p["usd_sbin_habb"], p["usd_lumi_habb"]],
            "4 payments",
        ),
        ({"Currency": "USD", "Receiver BIC": "habbpkkkxxx"}, [p["usd_sbin_habb"], p["usd_lumi_habb"]], "2 payments"),
        ({"Status": "Cancelled"}, [p["eur_lumi_enbx"]], "1 payment"),
        ({"Currency": "GBP"}, [], "0 payments"),
    ]
    for values, expected, count in cases:
        apply_filters(page, **values)
        expect(page.locator("#result-count")).to_have_text(count)
        assert listed_references(page) == references(*expected), values
        form = page.get_by_role("form", name="Filter payments")
        for label, value in values.items():
            if label != "Status":
                expect(form.get_by_label(label, exact=True)).to_have_value(value)

        # Only the filled-in filters reach the address (an empty status would be refused).
        submitted = parse_qs(urlsplit(page.url).query, keep_blank_values=True)
        assert len(submitted) == len(values) and all(all(v) for v in submitted.values()), page.url

        # The export link carries the page's query string, so the CSV holds the same rows.
        export = page.get_by_role("link", name="Export CSV")
        href = export.get_attribute("href")
        assert urlsplit(href).path == "/api/v1/export/payments"
        assert urlsplit(href).query == urlsplit(page.url).query
        response = context.request.get(href)
        assert response.ok, response.text()
        rows = list(csv.reader(io.StringIO(response.text())))[1:]
        by_id = {str(payment.id): payment.payment_reference for payment in p.values()}
        exported = [next(by_id[cell] for cell in row if cell in by_id) for row in rows]
        assert exported == references(*expected), values

    # A filter value that is not valid says so, and lists nothing rather than everything.
    apply_filters(page, **{"Min amount": "lots"})
    expect(page.get_by_role("alert")).to_contain_text("Some filters are not valid")
    expect(page.get_by_role("alert")).to_contain_text("Min amount")
    expect(page.locator("#result-count")).to_have_text("0 payments")
    assert offsite_requests == []


def test_opening_a_payment_shows_amount_parties_and_timeline(payments, operator_page, offsite_requests):
    page = operator_page
    payment = payments["usd_enbx_sbin"]
    page.get_by_role("link", name=payment.payment_reference, exact=True).click()

    expect(page).to_have_url(re.compile(rf"/payments/{payment.id}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Payment {payment.payment_reference}")
    expect(page.locator("#payment-status")).to_have_text("Queued")

    amount = page.get_by_role("region", name="Amount")
    expect(amount.locator(".big")).to_have_text("125,000.50 USD")
    expect(amount).to_contain_text(str(payment.id))
    expect(amount).to_contain_text("Invoice 2026-114")

    parties = page.get_by_role("region", name="Parties")
    for text in (
        "ENBXAEADXXX",
        "Emirates National Bank",
        "Acme Trading LLC",
        "SBININBBXXX",
        "State Bank of India",
        "Mumbai Textiles Pvt Ltd",
    ):
        expect(parties).to_contain_text(text)

    steps = page.get_by_role("region", name="Timeline").get_by_role("listitem")
    expect(steps).to_have_count(5)
    expect(steps.nth(0).locator(".transition")).to_have_text("Initiated")
    expect(steps.nth(1).locator(".transition")).to_have_text("Initiated → Validated")
    expect(steps.nth(2).locator(".transition")).to_have_text("Validated → Screened")
    expect(steps.nth(3).locator(".transition")).to_have_text("Screened → Approved")
    expect(steps.nth(4).locator(".transition")).to_have_text("Approved → Queued")
    expect(steps.nth(0)).to_contain_text(f"by {OPERATOR_NAME}")
    expect(steps.locator(".reason").filter(has_text=re.compile(r"\S"))).to_have_count(5)

    page.get_by_role("link", name="Payments").first.click()
    expect(page).to_have_url(re.compile(r"/payments/$"))
    assert offsite_requests == []


# Every control needs an accessible name; every page must fit its viewport (a wide
# table may scroll inside its own box, the page itself must not scroll sideways).
PAGE_PROBLEMS = """() => {
  const problems = [];
  const named = (el) => (el.getAttribute('aria-label') || '').trim() || (el.labels && el.labels.length)
    || el.getAttribute('aria-labelledby') || (el.innerText || el.value || '').trim() || el.title;
  for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea')) {
    if (!named(el)) problems.push('no accessible name: ' + el.outerHTML.slice(0, 80));
  }
  for (const el of document.querySelectorAll('table')) {
    if (!el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby') && !el.querySelector('caption')) {
      problems.push('table without a name');
    }
  }
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width) {
    problems.push('page scrolls sideways: ' + document.documentElement.scrollWidth + ' > ' + width);
  }
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('.table-wrap')) continue;
    const box = el.getBoundingClientRect();
    if (box.width && (box.right > width + 0.5 || box.left < -0.5)) {
      problems.push('outside the viewport: ' + el.outerHTML.slice(0, 80));
    }
  }
  return problems;
}"""


def page_problems(page) -> list[str]:
    # A URL or element check passes once the document arrives; measure only once its stylesheet is in.
    page.wait_for_load_state("load")
    return page.evaluate(PAGE_PROBLEMS)


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])
def test_pages_fit_the_screen_and_are_saved_as_screenshots(payments, viewport, screenshot, offsite_requests, context):
    name = viewport["width"]
    page = context.new_page()
    page.set_viewport_size(viewport)

    page.goto("/login/")
    assert page_problems(page) == []
    screenshot(page, f"login-{name}")
    log_in(page, OPERATOR_NAME, password="wrong")
    expect(page.get_by_role("alert")).to_be_visible()
    assert page_problems(page) == []
    screenshot(page, f"login-error-{name}")

    log_in(page, OPERATOR_NAME)
    expect(page).to_have_url(re.compile(r"/payments/$"))
    assert page_problems(page) == []
    screenshot(page, f"payments-{name}")

    apply_filters(page, Currency="USD", **{"Min amount": "abc"})
    expect(page.get_by_role("alert")).to_be_visible()
    assert page_problems(page) == []
    screenshot(page, f"payments-invalid-{name}")

    apply_filters(page, Currency="USD")
    expect(page.locator("#result-count")).to_have_text("4 payments")
    assert page_problems(page) == []
    screenshot(page, f"payments-usd-{name}")

    page.get_by_role("link", name=payments["usd_enbx_sbin"].payment_reference, exact=True).click()
    expect(page.get_by_role("region", name="Timeline").get_by_role("listitem")).to_have_count(5)
    assert page_problems(page) == []
    screenshot(page, f"payment-detail-{name}")
    assert offsite_requests == []


def test_api_docs_from_the_menu_need_nothing_from_the_internet(operator_page, offsite_requests):
    page = operator_page
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API docs").click()
    expect(page).to_have_url(re.compile(r"/api/v1/docs/$"))
    expect(page.get_by_role("heading", name=re.compile(r"^DelTran API"))).to_be_visible(timeout=15_000)
    page.wait_for_load_state("networkidle")
    assert errors == []
    assert offsite_requests == []
