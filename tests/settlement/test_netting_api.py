"""Netting cycle API: run, list, detail with positions, instructions and postings, CSV exports, roles."""

import csv
import io

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from deltran.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, OPERATOR, VIEWER
from settlement.choices import CycleTrigger
from settlement.models import NettingCycle
from settlement.services import netting_cycle_run
from tests.settlement.factories import ENBX, HABB, LUMI, SBIN, minutes, pay

pytestmark = pytest.mark.django_db


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def book(scenario, users):
    operator = users[OPERATOR]
    pay(operator, amount="1000.00")
    pay(operator, sender_bic=SBIN, receiver_bic=ENBX, amount="600.00")
    pay(operator, sender_bic=LUMI, receiver_bic=ENBX, amount="300.00")
    pay(operator, sender_bic=SBIN, receiver_bic=HABB, amount="200.00")
    pay(operator, currency="AED", amount="3672.50", settlement_currency="INR")


def test_an_operator_runs_a_cycle(book, users):
    with time_machine.travel(minutes(5), tick=False):
        response = client_of(users[OPERATOR]).post("/api/v1/netting/cycles/run")
        again = client_of(users[ADMIN]).post("/api/v1/netting/cycles/run")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "settled" and body["trigger"] == "operator" and body["run_by"] == "t_operator"
    assert (body["payment_count"], body["obligation_count"]) == (5, 6)
    assert body["efficiency"] == "0.4146" and body["gross_usd"] == "4100.00" and body["net_usd"] == "2400.00"
    usd = [p for p in body["positions"] if p["currency"] == "USD"]
    assert {p["participant_code"]: p["position"] for p in usd} == {
        ENBX: "-100.00",
        HABB: "200.00",
        LUMI: "-300.00",
        SBIN: "200.00",
    }
    assert {
        (i["payer_code"], i["payee_code"], i["amount"]) for i in body["instructions"] if i["currency"] == "USD"
    } == {
        # Largest debtor pays largest creditor; ties go to the smaller code.
        (LUMI, HABB, "200.00"),
        (ENBX, SBIN, "100.00"),
        (LUMI, SBIN, "100.00"),
    }
    assert len(body["postings"]) == 2 * 8
    assert again.status_code == 204  # nothing left to net
    cycle = NettingCycle.objects.get()
    assert cycle.trigger == CycleTrigger.OPERATOR


@pytest.mark.parametrize("role", [VIEWER, AUDITOR, COMPLIANCE_OFFICER])
def test_only_admins_and_operators_run_cycles(scenario, users, role):
    assert client_of(users[role]).post("/api/v1/netting/cycles/run").status_code == 403
    assert not NettingCycle.objects.exists()


@pytest.mark.parametrize("role", [ADMIN, OPERATOR, AUDITOR, VIEWER, COMPLIANCE_OFFICER])
def test_every_role_sees_cycles(book, users, role):
    with time_machine.travel(minutes(5), tick=False):
        cycle = netting_cycle_run(trigger=CycleTrigger.BEAT)
    client = client_of(users[role])
    listing = client.get("/api/v1/netting/cycles")
    assert listing.status_code == 200
    assert [row["id"] for row in listing.json()["cycles"]] == [cycle.pk]
    detail = client.get(f"/api/v1/netting/cycles/{cycle.pk}")
    assert detail.status_code == 200 and detail.json()["run_by"] == "Celery beat"
    assert client.get(f"/api/v1/export/netting/cycles/{cycle.pk}/positions").status_code == 200


def test_anonymous_callers_see_nothing(scenario):
    assert APIClient().get("/api/v1/netting/cycles").status_code == 401


def test_list_filters_and_pages(book, users):
    with time_machine.travel(minutes(5), tick=False):
        settled = netting_cycle_run(trigger=CycleTrigger.BEAT)
    failed = NettingCycle.objects.create(
        status="failed", trigger="operator", run_by="x", started_at=minutes(10), failure_reason="boom"
    )
    client = client_of(users[VIEWER])
    assert [r["id"] for r in client.get("/api/v1/netting/cycles").json()["cycles"]] == [failed.pk, settled.pk]
    assert [r["id"] for r in client.get("/api/v1/netting/cycles?status=failed").json()["cycles"]] == [failed.pk]
    assert [r["id"] for r in client.get("/api/v1/netting/cycles?trigger=beat").json()["cycles"]] == [settled.pk]
    body = client.get("/api/v1/netting/cycles?started_from=2026-11-25T08:06:00Z&limit=1").json()
    assert (body["total"], [r["id"] for r in body["cycles"]]) == (1, [failed.pk])
    assert client.get("/api/v1/netting/cycles?status=nope").status_code == 400
    assert client.get("/api/v1/netting/cycles/999999").status_code == 404


def test_the_detail_reads_in_a_fixed_number_of_queries(book, users):
    with time_machine.travel(minutes(5), tick=False):
        cycle = netting_cycle_run(trigger=CycleTrigger.BEAT)
    client = client_of(users[VIEWER])
    client.get(f"/api/v1/netting/cycles/{cycle.pk}")  # warm the participant directory
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/api/v1/netting/cycles/{cycle.pk}").status_code == 200
    # The user and their groups, the cycle, its positions, instructions and postings.
    assert len(queries) <= 6, [q["sql"] for q in queries]


def test_csv_exports_of_positions_and_instructions(book, users):
    with time_machine.travel(minutes(5), tick=False):
        cycle = netting_cycle_run(trigger=CycleTrigger.BEAT)
    client = client_of(users[AUDITOR])
    response = client.get(f"/api/v1/export/netting/cycles/{cycle.pk}/positions")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["Cycle", "Participant", "Currency", "Net Position"]
    assert [str(cycle.pk), ENBX, "USD", "-100.00"] in rows
    assert [str(cycle.pk), "POOL", "AED", "3672.50"] in rows
    response = client.get(f"/api/v1/export/netting/cycles/{cycle.pk}/instructions")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["Cycle", "Payer", "Payee", "Currency", "Amount"]
    assert [str(cycle.pk), ENBX, "POOL", "AED", "3672.50"] in rows
    assert client.get("/api/v1/export/netting/cycles/999999/instructions").status_code == 404


def test_the_schema_lists_the_netting_endpoints(client):
    schema = client.get("/api/v1/schema/").content
    for path in (
        b"/api/v1/netting/cycles/run",
        b"/api/v1/netting/cycles/{cycle_id}",
        b"/api/v1/payments/{payment_id}/cancel",
    ):
        assert path in schema
