"""Obligations and business-day positions in the payment pipeline: legs, limits, the liquidity queue, cancel, alerts."""

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from rest_framework.test import APIClient

from compliance.models import ReviewCase
from compliance.services import case_decide
from deltran.models import AuditEntry, OutboxEvent
from deltran.roles import COMPLIANCE_OFFICER, OPERATOR, VIEWER
from payments.choices import PaymentStatus
from payments.models import Payment
from payments.services import AWAITING_LIQUIDITY, payments_liquidity_release
from settlement.choices import POOL, ObligationLeg, ObligationStatus
from settlement.engines import limits
from settlement.models import BankPosition, Obligation
from tests.settlement.factories import (
    BUSINESS_DAY,
    ENBX,
    HABB,
    LUMI,
    SBIN,
    WEDNESDAY,
    minutes,
    pay,
    position,
    set_limit,
)

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def operator(users):
    return users[OPERATOR]


def api_client(user) -> APIClient:
    # No JWT: a token minted now would be expired at the travelled-to instants.
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- Obligations ------------------------------------------------------------------------------


def test_an_approved_payment_owes_one_direct_obligation_and_moves_both_positions(scenario, operator):
    payment = pay(operator, amount="1250.50")
    assert payment.status == PaymentStatus.QUEUED and not payment.awaiting_liquidity
    obligation = Obligation.objects.get(payment=payment)
    assert (
        obligation.leg,
        obligation.payer_code,
        obligation.payee_code,
        obligation.payer_bank.bic,
        obligation.payee_bank.bic,
        obligation.currency_id,
        obligation.amount,
        obligation.amount_usd,
        obligation.business_date,
        obligation.due_at,
        obligation.status,
        obligation.cycle_id,
    ) == (
        ObligationLeg.DIRECT,
        ENBX,
        SBIN,
        ENBX,
        SBIN,
        "USD",
        D("1250.50"),
        D("1250.50"),
        date(2026, 11, 25),
        WEDNESDAY,
        ObligationStatus.PENDING,
        None,
    )
    payer, payee = position(ENBX), position(SBIN)
    assert (payer.debit_usd, payer.credit_usd, payer.net_debit_usd) == (D("1250.50"), 0, D("1250.50"))
    assert (payee.debit_usd, payee.credit_usd, payee.net_debit_usd) == (0, D("1250.50"), D("-1250.50"))


def test_a_cross_currency_payment_owes_the_pool_and_the_pool_owes_the_payee(scenario, operator):
    payment = pay(operator, currency="AED", amount="3672.50", settlement_currency="INR")
    legs = {o.leg: o for o in Obligation.objects.filter(payment=payment)}
    assert set(legs) == {ObligationLeg.TO_POOL, ObligationLeg.FROM_POOL}
    to_pool, from_pool = legs[ObligationLeg.TO_POOL], legs[ObligationLeg.FROM_POOL]
    assert (to_pool.payer_code, to_pool.payee_code, to_pool.currency_id, to_pool.amount) == (
        ENBX,
        POOL,
        "AED",
        D("3672.50"),
    )
    assert to_pool.payee_bank_id is None and from_pool.payer_bank_id is None
    assert (from_pool.payer_code, from_pool.payee_code, from_pool.currency_id, from_pool.amount) == (
        POOL,
        SBIN,
        "INR",
        payment.settlement_amount,
    )
    # Both legs carry the payment's USD equivalent; the positions see the payment once.
    assert to_pool.amount_usd == from_pool.amount_usd == payment.amount_usd == D("1000.00")
    assert position(ENBX).debit_usd == D("1000.00") and position(SBIN).credit_usd == D("1000.00")


def test_a_payment_held_for_review_owes_nothing_until_approved(scenario, operator, users):
    payment = pay(operator, debtor_name="Vostok Shadow Shipping LLC", amount="900.00")
    assert payment.status == PaymentStatus.COMPLIANCE_REVIEW
    assert not Obligation.objects.filter(payment=payment).exists()
    assert position(ENBX) is None
    case = ReviewCase.objects.get(payment=payment)
    with time_machine.travel(minutes(30), tick=False):
        case_decide(
            case_id=case.pk, officer=users[COMPLIANCE_OFFICER], decision="approve", reason="Registry extract on file."
        )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.QUEUED
    obligation = Obligation.objects.get(payment=payment)
    assert obligation.amount == D("900.00") and obligation.due_at == minutes(30)
    assert position(ENBX).debit_usd == D("900.00")


def test_a_rejected_payment_owes_nothing(scenario, operator, users):
    payment = pay(operator, debtor_name="Vostok Shadow Shipping LLC")
    case = ReviewCase.objects.get(payment=payment)
    case_decide(case_id=case.pk, officer=users[COMPLIANCE_OFFICER], decision="reject", reason="Confirmed match.")
    assert not Obligation.objects.filter(payment=payment).exists()
    assert not BankPosition.objects.exists()


def test_the_business_day_is_the_payers_local_date(scenario, operator):
    # 2026-11-25 21:00Z is already Thursday 01:00 in Dubai, still Wednesday 23:00 in Jerusalem.
    late = WEDNESDAY.replace(hour=21)
    from_dubai = pay(operator, at=late)
    from_jerusalem = pay(operator, at=late, sender_bic=LUMI)
    assert Obligation.objects.get(payment=from_dubai).business_date == date(2026, 11, 26)
    assert Obligation.objects.get(payment=from_jerusalem).business_date == date(2026, 11, 25)
    assert position(ENBX, date(2026, 11, 26)).debit_usd == D("100.00")
    # The payee's credit lands on its own business day: Thursday 02:30 in Kolkata.
    assert position(SBIN, date(2026, 11, 26)).credit_usd == D("200.00")


def test_a_payment_within_one_bank_leaves_its_position_alone(scenario, operator):
    set_limit(ENBX, 100)
    payment = pay(operator, receiver_bic=ENBX, currency="AED", amount="700.00")
    assert not payment.awaiting_liquidity
    obligation = Obligation.objects.get(payment=payment)
    assert (obligation.payer_code, obligation.payee_code) == (ENBX, ENBX)
    assert not BankPosition.objects.filter(debit_usd__gt=0).exists()


def test_utilisation_is_the_net_debit_over_the_limit(scenario, operator):
    set_limit(ENBX, 1000)
    pay(operator, amount="500.00")
    pay(operator, sender_bic=SBIN, receiver_bic=ENBX, amount="125.00")
    payer = position(ENBX)
    assert payer.net_debit_usd == D("375.00")
    assert limits.utilisation(debit=payer.debit_usd, credit=payer.credit_usd, limit=D(1000)) == D("0.3750")


# --- The liquidity queue ----------------------------------------------------------------------


def test_a_payment_over_the_limit_waits_without_obligations(scenario, operator):
    set_limit(ENBX, 1000)
    first = pay(operator, amount="800.00")
    over = pay(operator, amount="300.00", at=minutes(1))
    assert not first.awaiting_liquidity
    over.refresh_from_db()
    assert over.status == PaymentStatus.QUEUED
    assert over.awaiting_liquidity and over.status_reason == AWAITING_LIQUIDITY
    assert not Obligation.objects.filter(payment=over).exists()
    assert position(ENBX).debit_usd == D("800.00")
    last = over.timeline.order_by("-id").first()
    assert (last.from_status, last.to_status) == (PaymentStatus.APPROVED, PaymentStatus.QUEUED)
    assert last.reason.startswith("Awaiting liquidity: ENBXAEADXXX's net debit for 2026-11-25 would be 1100.00 USD")
    event = OutboxEvent.objects.filter(event_type="payments.payment_update", payload__id=str(over.pk)).get()
    assert event.payload["awaiting_liquidity"] is True
    audit = AuditEntry.objects.get(action="payment.initiate", object_id=str(over.pk))
    assert audit.payload["awaiting_liquidity"] is True


def test_an_incoming_payment_releases_the_oldest_waiting_payment_first(scenario, operator):
    set_limit(ENBX, 1000)
    pay(operator, amount="800.00")
    older = pay(operator, amount="300.00", at=minutes(1))
    younger = pay(operator, amount="250.00", at=minutes(2))
    assert Payment.objects.filter(awaiting_liquidity=True).count() == 2
    # 300 comes in: net debit 500. Oldest first, 300 fits (800) and then 250 does not (1050); taking the younger
    # first would have fitted it (750) and left the older one waiting.
    incoming = pay(operator, sender_bic=SBIN, receiver_bic=ENBX, amount="300.00", at=minutes(3))
    older.refresh_from_db()
    younger.refresh_from_db()
    assert not older.awaiting_liquidity and younger.awaiting_liquidity
    released = Obligation.objects.get(payment=older)
    assert (released.amount, released.due_at, released.business_date) == (D("300.00"), minutes(3), BUSINESS_DAY)
    assert not Obligation.objects.filter(payment=younger).exists()
    assert position(ENBX).net_debit_usd == D("800.00")
    step = older.timeline.order_by("-id").first()
    assert (step.from_status, step.to_status, step.actor_label) == ("queued", "queued", "system")
    assert step.reason.startswith("Released from the liquidity queue: ENBXAEADXXX's net debit for 2026-11-25 is 800.00")
    assert older.status == PaymentStatus.QUEUED and older.status_reason.startswith("Released")
    assert AuditEntry.objects.filter(action="payment.liquidity_release", object_id=str(older.pk)).exists()
    # The release happened in the incoming payment's transaction: its audit entries are one run of the chain.
    initiate = AuditEntry.objects.get(action="payment.initiate", object_id=str(incoming.pk))
    release = AuditEntry.objects.get(action="payment.liquidity_release", object_id=str(older.pk))
    assert release.pk == initiate.pk + 1


def test_a_younger_payment_that_fits_is_not_held_back(scenario, operator):
    set_limit(ENBX, 1000)
    pay(operator, amount="800.00")
    big = pay(operator, amount="500.00", at=minutes(1))
    small = pay(operator, amount="150.00", at=minutes(2))
    assert Payment.objects.get(pk=big.pk).awaiting_liquidity
    assert not Payment.objects.get(pk=small.pk).awaiting_liquidity


def test_a_release_can_release_the_payees_waiting_payments_too(scenario, operator):
    set_limit(ENBX, 1000)
    set_limit(LUMI, 1000)
    pay(operator, amount="1000.00")
    enbx_waiting = pay(operator, receiver_bic=LUMI, amount="200.00", at=minutes(1))
    pay(operator, sender_bic=LUMI, receiver_bic=HABB, amount="1000.00", at=minutes(2))
    lumi_waiting = pay(operator, sender_bic=LUMI, receiver_bic=HABB, amount="100.00", at=minutes(3))
    assert Payment.objects.filter(awaiting_liquidity=True).count() == 2
    pay(operator, sender_bic=SBIN, receiver_bic=ENBX, amount="500.00", at=minutes(4))
    # ENBX's release credits LUMI 200, which makes room for LUMI's waiting 100: both in that one transaction.
    assert not Payment.objects.filter(awaiting_liquidity=True).exists()
    assert Obligation.objects.filter(payment__in=[enbx_waiting, lumi_waiting]).count() == 2
    assert position(LUMI).net_debit_usd == D("900.00")


def test_a_new_business_day_releases_what_fits_it(scenario, operator):
    set_limit(ENBX, 1000)
    pay(operator, amount="900.00")
    waiting = pay(operator, amount="600.00", at=minutes(1))
    assert payments_liquidity_release(now=minutes(2)) == 0
    thursday = WEDNESDAY + timedelta(days=1)
    with time_machine.travel(thursday, tick=False):
        assert payments_liquidity_release() == 1
    waiting.refresh_from_db()
    assert not waiting.awaiting_liquidity
    obligation = Obligation.objects.get(payment=waiting)
    assert obligation.business_date == date(2026, 11, 26) and obligation.due_at == thursday
    assert position(ENBX, date(2026, 11, 26)).debit_usd == D("600.00")
    assert position(ENBX).debit_usd == D("900.00")  # Wednesday's position stays as it was


def test_a_payment_released_after_its_windows_closed_waits_for_the_next_opening(scenario, operator):
    set_limit(ENBX, 1000)
    pay(operator, amount="1000.00")
    waiting = pay(operator, amount="10.00", at=minutes(1))
    # Wednesday 14:00Z both banks are closed; the next joint opening is Thursday 04:30Z.
    pay(operator, sender_bic=SBIN, receiver_bic=ENBX, amount="10.00", at=WEDNESDAY.replace(hour=14))
    waiting.refresh_from_db()
    assert not waiting.awaiting_liquidity
    assert Obligation.objects.get(payment=waiting).due_at == WEDNESDAY.replace(day=26, hour=4, minute=30)
    assert "Scheduled for 2026-11-26 04:30 UTC" in waiting.timeline.order_by("-id").first().reason


# --- Cancel -------------------------------------------------------------------------------------


def test_an_operator_cancels_a_payment_waiting_for_liquidity(scenario, operator):
    set_limit(ENBX, 1000)
    queued = pay(operator, amount="1000.00")
    waiting = pay(operator, amount="300.00", at=minutes(1))
    client = api_client(operator)
    url = f"/api/v1/payments/{waiting.pk}/cancel"
    with time_machine.travel(minutes(5), tick=False):
        missing_reason = client.post(url, {"reason": "  "}, format="json")
        assert missing_reason.status_code == 400
        assert missing_reason.json()["code"] == "validation_error"
        response = client.post(url, {"reason": "Customer withdrew the instruction."}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "cancelled" and body["awaiting_liquidity"] is False
    assert body["timeline"][-1]["from_status"] == "queued" and body["timeline"][-1]["to_status"] == "cancelled"
    assert "Customer withdrew the instruction." in body["timeline"][-1]["reason"]
    assert AuditEntry.objects.filter(action="payment.cancel", object_id=str(waiting.pk)).exists()
    # A payment with obligations belongs to settlement; a cancelled one cannot be cancelled again.
    for other in (queued, waiting):
        refused = client.post(f"/api/v1/payments/{other.pk}/cancel", {"reason": "x"}, format="json")
        assert refused.status_code == 409 and refused.json()["code"] == "not_cancellable"
    assert position(ENBX).debit_usd == D("1000.00")


def test_cancel_needs_an_operator(scenario, operator, users):
    set_limit(ENBX, 0)
    waiting = pay(operator, amount="1.00")
    assert Payment.objects.get(pk=waiting.pk).awaiting_liquidity
    response = api_client(users[VIEWER]).post(f"/api/v1/payments/{waiting.pk}/cancel", {"reason": "x"}, format="json")
    assert response.status_code == 403
    missing = api_client(operator).post(
        "/api/v1/payments/0190c2a4-0000-7000-8000-000000000000/cancel", {"reason": "x"}, format="json"
    )
    assert missing.status_code == 404


def test_the_list_filters_payments_waiting_for_liquidity(scenario, operator):
    set_limit(ENBX, 100)
    pay(operator, amount="100.00")
    waiting = pay(operator, amount="1.00", at=minutes(1))
    rows = api_client(operator).get("/api/v1/payments?awaiting_liquidity=true").json()["payments"]
    assert [row["id"] for row in rows] == [str(waiting.pk)]


# --- Limit alerts -----------------------------------------------------------------------------


def limit_alerts() -> list[dict]:
    return [e.payload for e in OutboxEvent.objects.filter(event_type="settlement.limit_alert").order_by("id")]


def test_limit_alerts_at_80_and_95_percent_once_each(scenario, operator):
    set_limit(ENBX, 1000)
    pay(operator, amount="700.00")
    assert limit_alerts() == []
    pay(operator, amount="150.00")  # 85 %
    pay(operator, amount="50.00")  # 90 %: 80 % was already alerted
    pay(operator, amount="60.00")  # 96 %
    pay(operator, amount="10.00")  # 97 %
    alerts = limit_alerts()
    assert [(a["threshold"], a["utilisation"]) for a in alerts] == [("0.80", "0.8500"), ("0.95", "0.9600")]
    assert alerts[0] == {
        "bic": ENBX,
        "business_date": "2026-11-25",
        "utilisation": "0.8500",
        "threshold": "0.80",
        "net_debit_usd": "850.00",
        "limit_usd": "1000.00",
    }
    assert json.loads(json.dumps(alerts)) == alerts
    assert position(ENBX).alerted_threshold == D("0.95")
    # Coming down and going up again the same day alerts nothing new.
    pay(operator, sender_bic=SBIN, receiver_bic=ENBX, amount="500.00")
    pay(operator, amount="480.00")
    assert len(limit_alerts()) == 2


def test_one_payment_past_both_thresholds_raises_both_alerts(scenario, operator):
    set_limit(ENBX, 1000)
    pay(operator, amount="960.00")
    assert [a["threshold"] for a in limit_alerts()] == ["0.80", "0.95"]
    # The next business day starts again.
    pay(operator, amount="850.00", at=WEDNESDAY + timedelta(days=1))
    assert [(a["business_date"], a["threshold"]) for a in limit_alerts()][-1] == ("2026-11-26", "0.80")
