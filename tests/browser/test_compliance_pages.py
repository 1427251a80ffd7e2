"""The compliance pages in headless Chromium: an officer works a held payment from the queue to a decision.

Screenshots at 1280 and 390 px go to tests/browser/screenshots/ (compliance-queue-*, compliance-case-*,
compliance-case-error-*); every page must fit its viewport, name its controls and fetch nothing from the internet.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from compliance.models import ReviewCase
from compliance.services import case_assign, case_decide
from deltran.roles import ADMIN, COMPLIANCE_OFFICER, OPERATOR
from payments.choices import PaymentStatus
from payments.services import PaymentInstruction, payment_initiate
from tests.browser.conftest import NARROW, WIDE
from tests.browser.test_pages import log_in, page_problems
from tests.conftest import ROLE_USERS

pytestmark = pytest.mark.browser

OFFICER_NAME = ROLE_USERS[COMPLIANCE_OFFICER]
VIEWPORTS = pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])


def hold(actor, **overrides) -> ReviewCase:
    fields = {
        "sender_bic": "ENBXAEADXXX",
        "receiver_bic": "SBININBBXXX",
        "amount": "125000.50",
        "currency": "USD",
        "debtor_name": "VOSTOK SHADOW SHIPPING LLC",
        "creditor_name": "Mumbai Textiles Pvt Ltd",
        "remittance_info": "Invoice 2026-114",
    }
    fields.update(overrides)
    fields["amount"] = Decimal(fields["amount"])
    payment = payment_initiate(actor=actor, instruction=PaymentInstruction(**fields)).payment
    assert payment.status == PaymentStatus.COMPLIANCE_REVIEW
    return ReviewCase.objects.select_related("payment").get(payment=payment)


def open_queue(page, viewport=WIDE) -> None:
    page.set_viewport_size(viewport)
    log_in(page, OFFICER_NAME)
    expect(page).to_have_url(re.compile(r"/payments/$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Compliance").click()
    expect(page).to_have_url(re.compile(r"/compliance/$"))


def queue_rows(page):
    return page.get_by_role("table", name="Review cases").locator("tbody tr")


def test_officer_approves_a_held_payment_and_it_leaves_the_queue(scenario, users, page, offsite_requests):
    held = hold(users[OPERATOR])
    other = hold(users[OPERATOR], debtor_name="AL-NOOR PHANTOM EXCHANGE", amount="40000.00")
    open_queue(page)
    expect(queue_rows(page)).to_have_count(2)
    expect(page.locator("#result-count")).to_have_text("2 cases")

    row = queue_rows(page).filter(has_text=held.payment.payment_reference)
    row.get_by_role("link", name=f"Case {held.pk}").click()
    expect(page).to_have_url(re.compile(rf"/compliance/cases/{held.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(held.payment.payment_reference)
    expect(page.locator("#payment-status")).to_have_text("Compliance review")
    match = page.get_by_role("article").first
    expect(match).to_contain_text("VOSTOK SHADOW SHIPPING LLC")
    expect(match.get_by_role("region", name=re.compile(r"^List entry"))).to_contain_text("VOSTOK SHADOW MARITIME")

    decision = page.get_by_role("region", name="Decision", exact=True)
    decision.get_by_role("radio", name="Approve").check()
    decision.get_by_label("Reason").fill("Different company: registry extract and vessel list checked.")
    decision.get_by_role("button", name="Record decision").click()

    expect(page).to_have_url(re.compile(r"/compliance/$"))
    expect(page.locator(".messages")).to_contain_text(
        f"Case {held.pk} approved. Payment {held.payment.payment_reference}"
    )
    expect(queue_rows(page)).to_have_count(1)
    expect(queue_rows(page).first).to_contain_text(other.payment.payment_reference)
    expect(page.get_by_role("table", name="Review cases")).not_to_contain_text(held.payment.payment_reference)
    held.refresh_from_db()
    held.payment.refresh_from_db()
    assert held.status == "approved"
    assert held.payment.status not in (PaymentStatus.COMPLIANCE_REVIEW, PaymentStatus.REJECTED)
    assert offsite_requests == []


def test_bulk_reject_and_a_refusal_read_as_messages(scenario, users, page, screenshot, offsite_requests):
    first, second = hold(users[OPERATOR]), hold(users[OPERATOR], amount="9000.00")
    open_queue(page)
    page.get_by_role("checkbox", name=f"Tick case {first.pk}").check()
    page.get_by_role("checkbox", name=f"Tick case {second.pk}").check()
    bulk = page.get_by_role("form", name="Decide the ticked cases")
    bulk.get_by_role("radio", name="Reject").check()
    bulk.get_by_label("Reason, recorded on every ticked case").fill("True matches on the demo SDN entry.")
    bulk.get_by_role("button", name="Decide ticked cases").click()
    expect(page.locator(".messages")).to_contain_text(f"2 cases rejected: {first.pk}, {second.pk}.")
    expect(queue_rows(page)).to_have_count(1)
    expect(queue_rows(page).first).to_contain_text("No case matches these filters.")

    # Deciding one of them again, from its page, is refused with the reason, not with an error page.
    page.goto(f"/compliance/cases/{first.pk}/")
    expect(page.get_by_role("region", name="Decision", exact=True)).to_have_count(0)
    expect(page.locator("#decisions")).to_contain_text("Rejected by t_compliance")
    third = hold(users[OPERATOR], amount="12000.00")
    case_decide(case_id=third.pk, officer=users[COMPLIANCE_OFFICER], decision="escalate", reason="Second look.")
    page.goto(f"/compliance/cases/{third.pk}/")
    expect(page.locator("#four-eyes")).to_contain_text("You escalated this case")
    decision = page.get_by_role("region", name="Decision", exact=True)
    decision.get_by_role("radio", name="Approve").check()
    decision.get_by_label("Reason").fill("Fine after all.")
    decision.get_by_role("button", name="Record decision").click()
    expect(page.locator(".messages .error")).to_contain_text("Four eyes")
    expect(page.locator("#case-status")).to_have_text("Escalated")
    assert page_problems(page) == []
    screenshot(page, "compliance-case-four-eyes-1280")
    assert offsite_requests == []


@pytest.fixture
def busy_queue(scenario, users):
    """Five cases: a definite hit overdue, one escalated, one assigned, a PEP, a cross-currency one."""
    operator, officer, admin = users[OPERATOR], users[COMPLIANCE_OFFICER], users[ADMIN]
    late = hold(operator)
    ReviewCase.objects.filter(pk=late.pk).update(
        opened_at=timezone.now() - timedelta(hours=6), sla_due_at=timezone.now() - timedelta(hours=2)
    )
    pep = hold(
        operator,
        debtor_name="Acme Trading LLC",
        creditor_name="Marguerite Demo-Valcourt",
        amount="600000.00",
        sender_bic="HABBPKKKXXX",
    )
    both = hold(
        operator,
        creditor_name="Marguerite Demo-Valcourt",
        currency="EUR",
        amount="2500.00",
        receiver_bic="LUMIILITXXX",
    )
    escalated = hold(operator, debtor_name="CRIMSON LOTUS TRADING FZE", amount="75000.25")
    case_decide(case_id=escalated.pk, officer=admin, decision="escalate", reason="Trade documents look odd.")
    assigned = hold(operator, debtor_name="AL-NOOR PHANTOM EXCHANGE", amount="1000000")
    case_assign(case_id=assigned.pk, officer=officer)
    return {"late": late, "pep": pep, "both": both, "escalated": escalated, "assigned": assigned}


@VIEWPORTS
def test_queue_and_case_pages_fit_the_screen_and_are_saved_as_screenshots(
    busy_queue, viewport, page, screenshot, offsite_requests
):
    name = viewport["width"]
    open_queue(page, viewport)
    expect(queue_rows(page)).to_have_count(5)
    expect(page.locator("#overdue-total")).to_contain_text("1 case past its SLA")
    expect(page.locator(f"#case-{busy_queue['late'].pk}")).to_have_class(re.compile(r"\boverdue\b"))
    assert page_problems(page) == []
    screenshot(page, f"compliance-queue-{name}")

    page.get_by_label("Min amount (USD)").fill("abc")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("alert")).to_contain_text("Min amount (USD)")
    assert page_problems(page) == []
    screenshot(page, f"compliance-queue-invalid-{name}")

    case = busy_queue["both"]
    page.goto(f"/compliance/cases/{case.pk}/")
    expect(page.get_by_role("article")).to_have_count(2)
    assert page_problems(page) == []
    screenshot(page, f"compliance-case-{name}")

    # A reason of only spaces passes the browser's `required` and is refused by the page, readably.
    decision = page.get_by_role("region", name="Decision", exact=True)
    decision.get_by_role("radio", name="Reject").check()
    decision.get_by_label("Reason").fill("   ")
    decision.get_by_role("button", name="Record decision").click()
    expect(page.get_by_role("alert")).to_contain_text("Give the reason for the decision.")
    assert page_problems(page) == []
    screenshot(page, f"compliance-case-error-{name}")

    page.goto(f"/compliance/cases/{busy_queue['escalated'].pk}/")
    expect(page.locator("#case-status")).to_have_text("Escalated")
    assert page_problems(page) == []
    screenshot(page, f"compliance-case-escalated-{name}")
    assert offsite_requests == []
