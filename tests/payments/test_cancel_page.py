"""The liquidity queue for operators: the "Awaiting liquidity" quick filter, and cancelling a waiting payment from
its page (roles, mandatory reason, refusals as messages, never a server error)."""

import lxml.html
import pytest
from django.test import Client

from deltran.models import AuditEntry
from deltran.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, OPERATOR, ROLES, VIEWER
from payments.choices import PaymentStatus
from payments.models import Payment
from tests.settlement.factories import ENBX, minutes, pay, set_limit

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def queue(scenario, users):
    """ENBX may owe 1,000 USD today: the first payment fits, the second waits for liquidity."""
    set_limit(ENBX, 1000)
    actor = users[OPERATOR]
    fits = pay(actor, amount="800.00")
    waiting = pay(actor, amount="300.00", at=minutes(1))
    waiting.refresh_from_db()
    assert waiting.awaiting_liquidity and not fits.awaiting_liquidity
    return {"fits": fits, "waiting": waiting}


def doc_of(response):
    return lxml.html.fromstring(response.content)


def messages_of(response) -> list[tuple[str, str]]:
    return [(li.get("class"), li.text_content()) for li in doc_of(response).xpath('//ul[@class="messages"]/li')]


def test_the_quick_filter_lists_the_payments_waiting_for_liquidity(queue, users):
    client = client_for(users[VIEWER])
    doc = doc_of(client.get("/payments/"))
    (link,) = doc.xpath('//a[@id="awaiting-liquidity-filter"]')
    assert link.text_content() == "Awaiting liquidity" and link.get("href") == "/payments/?awaiting_liquidity=true"
    doc = doc_of(client.get(link.get("href")))
    refs = [a.text_content() for a in doc.xpath("//table[@class='data']//td[@class='ref']/a")]
    assert refs == [queue["waiting"].payment_reference]
    assert doc.xpath('//*[@id="result-count"]')[0].text_content() == "1 payment waiting for liquidity"
    assert doc.xpath('//a[@id="awaiting-liquidity-filter"]')[0].get("aria-current") == "page"
    # The filter form keeps the quick filter when another filter is applied.
    assert doc.xpath('//form[@aria-label="Filter payments"]//input[@name="awaiting_liquidity"]')[0].get("value") == (
        "true"
    )


@pytest.mark.parametrize("role", ROLES)
def test_the_cancel_form_shows_for_admin_and_operator_on_a_waiting_payment(queue, users, role):
    client = client_for(users[role])
    doc = doc_of(client.get(f"/payments/{queue['waiting'].pk}/"))
    assert doc.xpath('//section[@id="awaiting-liquidity"]')
    forms = doc.xpath('//form[@id="cancel-form"]')
    assert bool(forms) == (role in {ADMIN, OPERATOR})
    if forms:
        (form,) = forms
        assert form.get("method") == "post" and form.get("action") == f"/payments/{queue['waiting'].pk}/cancel/"
        assert form.xpath('.//input[@name="csrfmiddlewaretoken"]') and form.xpath(".//textarea[@required]")
    # A payment not waiting shows neither the section nor the form.
    doc = doc_of(client.get(f"/payments/{queue['fits'].pk}/"))
    assert not doc.xpath('//section[@id="awaiting-liquidity"]') and not doc.xpath('//form[@id="cancel-form"]')


@pytest.mark.parametrize("role", [ADMIN, OPERATOR])
def test_cancelling_with_a_reason_cancels_the_payment(queue, users, role):
    waiting = queue["waiting"]
    response = client_for(users[role]).post(
        f"/payments/{waiting.pk}/cancel/", {"reason": "  Customer withdrew the order  "}, follow=True
    )
    assert response.redirect_chain == [(f"/payments/{waiting.pk}/", 302)]
    assert messages_of(response) == [
        ("success", f"Payment {waiting.payment_reference} is cancelled; it will not be settled.")
    ]
    waiting.refresh_from_db()
    assert waiting.status == PaymentStatus.CANCELLED and not waiting.awaiting_liquidity
    last = waiting.timeline.order_by("-id").first()
    assert last.to_status == PaymentStatus.CANCELLED and last.reason.endswith("Customer withdrew the order")
    assert last.actor_label == users[role].username
    audit = AuditEntry.objects.get(action="payment.cancel", object_id=str(waiting.pk))
    assert audit.payload["reason"] == "Customer withdrew the order"
    doc = doc_of(response)
    assert doc.xpath('//*[@id="payment-status"]')[0].text_content() == "Cancelled"
    assert not doc.xpath('//form[@id="cancel-form"]')


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_missing_reason_is_a_readable_error_and_cancels_nothing(queue, users, reason):
    waiting = queue["waiting"]
    response = client_for(users[OPERATOR]).post(f"/payments/{waiting.pk}/cancel/", {"reason": reason})
    assert response.status_code == 400
    doc = doc_of(response)
    assert doc.xpath('//*[@id="cancel-errors"]')[0].text_content().strip() == (
        "Give the reason for cancelling the payment."
    )
    assert doc.xpath('//textarea[@id="cancel-reason"]')[0].get("aria-invalid") == "true"
    waiting.refresh_from_db()
    assert waiting.status == PaymentStatus.QUEUED and waiting.awaiting_liquidity


def test_a_payment_not_waiting_is_refused_with_a_message(queue, users):
    fits = queue["fits"]
    response = client_for(users[OPERATOR]).post(f"/payments/{fits.pk}/cancel/", {"reason": "try"}, follow=True)
    assert response.status_code == 200
    ((level, message),) = messages_of(response)
    assert level == "error"
    assert message.startswith("The payment was not cancelled: ")
    assert "only a payment waiting for liquidity can be cancelled" in message
    fits.refresh_from_db()
    assert fits.status == PaymentStatus.QUEUED


def test_cancelling_twice_is_refused_the_second_time(queue, users):
    waiting = queue["waiting"]
    client = client_for(users[OPERATOR])
    client.post(f"/payments/{waiting.pk}/cancel/", {"reason": "first"}, follow=True)
    response = client.post(f"/payments/{waiting.pk}/cancel/", {"reason": "second"}, follow=True)
    ((level, message),) = messages_of(response)
    assert level == "error" and "is cancelled" in message
    assert AuditEntry.objects.filter(action="payment.cancel", object_id=str(waiting.pk)).count() == 1


@pytest.mark.parametrize("role", [COMPLIANCE_OFFICER, AUDITOR, VIEWER])
def test_other_roles_may_not_cancel(queue, users, role):
    waiting = queue["waiting"]
    response = client_for(users[role]).post(f"/payments/{waiting.pk}/cancel/", {"reason": "no"})
    assert response.status_code == 403
    waiting.refresh_from_db()
    assert waiting.status == PaymentStatus.QUEUED


def test_anonymous_is_sent_to_log_in_and_get_is_refused(queue, users):
    waiting = queue["waiting"]
    response = Client().post(f"/payments/{waiting.pk}/cancel/", {"reason": "x"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client_for(users[OPERATOR]).get(f"/payments/{waiting.pk}/cancel/").status_code == 405
    assert Payment.objects.get(pk=waiting.pk).status == PaymentStatus.QUEUED


def test_an_unknown_payment_is_not_found(queue, users):
    response = client_for(users[OPERATOR]).post(
        "/payments/00000000-0000-0000-0000-000000000000/cancel/", {"reason": "x"}
    )
    assert response.status_code == 404
