"""The suspicious-activity report: held, escalated, released and rejected payments of a date range with their
reasons and decisions, as JSON and CSV, for Compliance Officers, Auditors and Admins only."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from compliance.models import ReviewCase
from compliance.services import case_decide
from deltran.accounts import user_ensure
from deltran.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, OPERATOR, VIEWER
from payments.choices import PaymentStatus
from payments.services import PaymentInstruction, payment_initiate

pytestmark = pytest.mark.django_db

SANCTIONED = "VOSTOK SHADOW SHIPPING LLC"
REPORT = "/api/v1/compliance/reports/suspicious-activity"
EXPORT = "/api/v1/export/compliance/suspicious-activity"


def initiate(users, debtor: str, reference: str):
    return payment_initiate(
        actor=users[OPERATOR],
        instruction=PaymentInstruction(
            sender_bic="ENBXAEADXXX",
            receiver_bic="SBININBBXXX",
            amount=Decimal("125000.50"),
            currency="USD",
            debtor_name=debtor,
            creditor_name="Mumbai Textiles Pvt Ltd",
            remittance_info=reference,
        ),
    ).payment


@pytest.fixture
def cases(scenario, users):
    """Four held payments: one still held, one escalated, one released, one rejected; and one clean payment."""
    second = user_ensure(username="t_compliance2", password="pw", role=COMPLIANCE_OFFICER)[0]
    held = [initiate(users, SANCTIONED, f"Held {n}") for n in range(4)]
    assert all(p.status == PaymentStatus.COMPLIANCE_REVIEW for p in held)
    clean = initiate(users, "Acme Trading LLC", "Clean")
    assert clean.status != PaymentStatus.COMPLIANCE_REVIEW
    ids = [ReviewCase.objects.get(payment=p).pk for p in held]
    officer = users[COMPLIANCE_OFFICER]
    case_decide(case_id=ids[1], officer=officer, decision="escalate", reason="Needs a second look: vessel owner")
    case_decide(case_id=ids[2], officer=officer, decision="approve", reason="Different entity, checked registry")
    case_decide(case_id=ids[3], officer=officer, decision="escalate", reason="Strong match")
    case_decide(case_id=ids[3], officer=second, decision="reject", reason="Confirmed listed party")
    return ids


def today() -> str:
    return timezone.now().date().isoformat()


def test_the_report_lists_every_held_payment_with_reasons_and_decisions(cases, client_for):
    response = client_for(COMPLIANCE_OFFICER).get(REPORT, {"date_from": today(), "date_to": today()})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["total"] == 4
    rows = {row["case_id"]: row for row in body["payments"]}
    assert list(rows) == cases  # oldest first; the clean payment is not there
    assert [rows[i]["outcome"] for i in cases] == [
        "held",
        "escalated (held for a second officer)",
        "released after review",
        "rejected",
    ]
    rejected = rows[cases[3]]
    assert rejected["payment_status"] == PaymentStatus.REJECTED
    assert rejected["definite_hit"] is True
    assert rejected["lists"] == ["demo_sanctions"]
    assert rejected["matches"][0]["list"] == "demo_sanctions"
    assert rejected["matches"][0]["level"] == "CRITICAL"
    assert any(reason["points"] for reason in rejected["risk_reasons"])
    assert [(d["decision"], d["officer"], d["reason"]) for d in rejected["decisions"]] == [
        ("escalate", "t_compliance", "Strong match"),
        ("reject", "t_compliance2", "Confirmed listed party"),
    ]
    assert rejected["amount"] == "125000.5" and rejected["currency"] == "USD"


def test_the_csv_has_the_same_rows(cases, client_for):
    response = client_for(AUDITOR).get(EXPORT, {"date_from": today(), "date_to": today()})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["Case", "Opened At", "Case Status", "Outcome"]
    assert [int(row[0]) for row in rows[1:]] == cases
    rejected = rows[4]
    header = rows[0]
    assert rejected[header.index("Outcome")] == "rejected"
    assert "reject by t_compliance2" in rejected[header.index("Decisions")]
    assert "demo_sanctions" in rejected[header.index("Matches")]


def test_date_range_and_status_filters(cases, client_for):
    client = client_for(ADMIN)
    yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert client.get(REPORT, {"date_from": yesterday, "date_to": yesterday}).json()["total"] == 0
    only_rejected = client.get(REPORT, {"date_from": yesterday, "date_to": today(), "status": "rejected"}).json()
    assert [row["case_id"] for row in only_rejected["payments"]] == [cases[3]]


@pytest.mark.parametrize(
    "query, field",
    [
        ({"date_to": "2026-01-01"}, "date_from"),
        ({"date_from": "2026-01-01"}, "date_to"),
        ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, "date_to"),
        ({"date_from": "yesterday", "date_to": "2026-01-01"}, "date_from"),
    ],
)
def test_a_bad_range_is_a_400_in_the_one_shape(cases, client_for, query, field):
    for url in (REPORT, EXPORT):
        response = client_for(COMPLIANCE_OFFICER).get(url, query)
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "validation_error"
        assert field in body["fields"]


@pytest.mark.parametrize("role, allowed", [(OPERATOR, False), (VIEWER, False), (AUDITOR, True), (ADMIN, True)])
def test_roles(cases, client_for, role, allowed):
    response = client_for(role).get(REPORT, {"date_from": today(), "date_to": today()})
    assert response.status_code == (200 if allowed else 403)
    if not allowed:
        assert response.json()["code"] == "permission_denied"
