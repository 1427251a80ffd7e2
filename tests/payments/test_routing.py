"""Routing stage: a payment outside either bank's clearing window is accepted, queued and scheduled."""

import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from rest_framework.test import APIClient

from deltran.roles import OPERATOR
from payments.models import Payment
from settlement.models import Bank, Holiday
from tests.conftest import payment_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(users):
    # Session-less and token-less: a JWT minted now would be expired at the travelled-to instants.
    client = APIClient()
    client.force_authenticate(users[OPERATOR])
    return client


def initiate(client, **overrides) -> Payment:
    response = client.post(
        "/api/v1/payments/initiate", data=json.dumps(payment_body(**overrides)), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return Payment.objects.get(pk=response.json()["id"])


def test_inside_both_windows_is_scheduled_now_without_violation(scenario, operator_client):
    # Wednesday 2026-11-25 08:00Z: Dubai 12:00 (08-16), Kolkata 13:30 (10-18).
    with time_machine.travel(datetime(2026, 11, 25, 8, 0, tzinfo=UTC), tick=False):
        payment = initiate(operator_client)
    assert payment.status == "queued"
    assert payment.scheduled_for == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert payment.clearing_window_violation is False


def test_after_hours_payment_is_queued_for_the_next_joint_opening(scenario, operator_client):
    # Wednesday 2026-11-25 14:00Z: Dubai 18:00 (closed since 16:00), Kolkata 19:30 (closed since 18:00).
    # Next: Thursday; Dubai opens 04:00Z, Kolkata opens 04:30Z -> both open at 04:30Z.
    with time_machine.travel(datetime(2026, 11, 25, 14, 0, tzinfo=UTC), tick=False):
        payment = initiate(operator_client)
    assert payment.status == "queued"
    assert payment.clearing_window_violation is True
    assert payment.scheduled_for == datetime(2026, 11, 26, 4, 30, tzinfo=UTC)
    last = payment.timeline.order_by("-id").first()
    assert "ENBXAEADXXX" in last.reason and "SBININBBXXX" in last.reason and "2026-11-26 04:30" in last.reason


def test_an_imported_public_holiday_closes_the_day(scenario, operator_client):
    # Guru Nanak's birthday, Tuesday 2026-11-24, is an Indian public holiday in the loaded calendar.
    assert Holiday.objects.filter(country="IN", date=date(2026, 11, 24)).exists()
    with time_machine.travel(datetime(2026, 11, 24, 8, 0, tzinfo=UTC), tick=False):
        payment = initiate(operator_client)
    assert payment.clearing_window_violation is True
    assert payment.scheduled_for == datetime(2026, 11, 25, 4, 30, tzinfo=UTC)


def test_weekend_of_one_bank_waits_for_its_next_working_day(scenario, operator_client):
    # Friday 2026-11-27 07:00Z: Karachi 12:00 (Mon-Fri) is open, Dubai 11:00 is closed (Sun-Thu).
    # Next joint opening: Monday 2026-11-30, Dubai opens 04:00Z, Karachi 04:00Z (09:00 PKT).
    with time_machine.travel(datetime(2026, 11, 27, 7, 0, tzinfo=UTC), tick=False):
        payment = initiate(operator_client, sender_bic="HABBPKKKXXX", receiver_bic="ENBXAEADXXX")
    assert payment.clearing_window_violation is True
    assert payment.scheduled_for == datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


def test_a_holiday_of_the_receivers_country_moves_the_schedule(scenario, operator_client):
    Holiday.objects.create(bank=Bank.objects.get(bic="SBININBBXXX"), date=date(2026, 11, 26), name="Bank holiday")
    with time_machine.travel(datetime(2026, 11, 25, 14, 0, tzinfo=UTC), tick=False):
        payment = initiate(operator_client)
    # Thursday is the Indian bank's holiday, Friday and Saturday Dubai's weekend, Sunday India's:
    # Monday 2026-11-30 04:30Z.
    assert payment.scheduled_for == datetime(2026, 11, 30, 4, 30, tzinfo=UTC)


def test_a_bank_without_windows_is_always_open(scenario, operator_client):
    for bank in Bank.objects.filter(bic__in=["ENBXAEADXXX", "SBININBBXXX"]):
        bank.clearing_windows.all().delete()
    with time_machine.travel(datetime(2026, 11, 28, 23, 0, tzinfo=UTC), tick=False):
        payment = initiate(operator_client)
    assert payment.clearing_window_violation is False


def test_violations_are_counted_through_the_list_filter(scenario, operator_client):
    with time_machine.travel(datetime(2026, 11, 25, 8, 0, tzinfo=UTC), tick=False):
        initiate(operator_client)
    with time_machine.travel(datetime(2026, 11, 25, 14, 0, tzinfo=UTC), tick=False):
        initiate(operator_client, remittance_info="late")
        initiate(operator_client, remittance_info="later")
    body = operator_client.get("/api/v1/payments?clearing_window_violation=true&limit=1").json()
    assert body["total"] == 2
    assert operator_client.get("/api/v1/payments?clearing_window_violation=false").json()["total"] == 1
