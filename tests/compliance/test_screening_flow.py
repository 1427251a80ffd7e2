"""Screening in the pipeline, review cases, decisions, four eyes, bulk, whitelisting, and held payments."""

import json
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from compliance.choices import CaseStatus
from compliance.models import CaseDecision, ComplianceSettings, ReviewCase, RiskRule, ScreeningMatch, WhitelistEntry
from compliance.selectors import screening_index_clear
from compliance.services import CaseDecisionRefused, case_decide, cases_decide_bulk, whitelist_add
from deltran.errors import ValidationFailed
from deltran.models import AuditEntry, OutboxEvent
from deltran.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, OPERATOR, VIEWER
from payments.choices import PaymentStatus, can_transition
from payments.models import Payment
from tests.conftest import payment_body

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_index():
    screening_index_clear()
    yield
    screening_index_clear()


@pytest.fixture
def second_officer(db):
    from deltran.accounts import user_ensure

    return user_ensure(username="t_compliance2", password="pw", role=COMPLIANCE_OFFICER)[0]


def initiate(client, **overrides) -> dict:
    response = client.post(
        "/api/v1/payments/initiate", data=json.dumps(payment_body(**overrides)), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_clean_payment_passes_screening(scenario, operator_client):
    body = initiate(operator_client)
    assert body["status"] == "queued"
    assert body["compliance_check"]["status"] == "passed"
    assert not ReviewCase.objects.exists()


def test_a_definite_sanctions_hit_is_held_with_a_case(scenario, operator_client):
    body = initiate(operator_client, debtor_name="Vostok Shadow Shipping LLC", amount="900.00")
    payment = Payment.objects.get(pk=body["id"])
    assert payment.status == PaymentStatus.COMPLIANCE_REVIEW
    assert payment.risk_score == 100
    assert body["compliance_check"]["status"] == "held"
    case = ReviewCase.objects.get(payment=payment)
    assert case.definite_hit and case.status == CaseStatus.OPEN
    assert case.lists == ["demo_sanctions"]
    match = ScreeningMatch.objects.get(screening__payment=payment, party="debtor")
    assert (match.level, match.list_code, match.entry_source_id) == ("CRITICAL", "demo_sanctions", "900001")
    assert match.reason
    assert OutboxEvent.objects.filter(event_type="compliance.compliance_alert").count() == 1
    assert [t.to_status for t in payment.timeline.all()][-1] == PaymentStatus.COMPLIANCE_REVIEW


def test_non_latin_script_alias_matches(scenario, operator_client):
    body = initiate(operator_client, creditor_name="Демидов Иван")
    assert Payment.objects.get(pk=body["id"]).status == PaymentStatus.COMPLIANCE_REVIEW


def test_a_pep_raises_the_score_and_reasons_are_listed(scenario, operator_client):
    body = initiate(operator_client, creditor_name="Marguerite Demo-Valcourt", amount="250000.00")
    rules = {r["rule"] for r in body["compliance_check"]["reasons"]}
    assert "pep_match" in rules and "amount_corporate" in rules
    assert body["risk_score"] >= 45


def test_the_review_line_is_set_in_the_admin_settings(scenario, operator_client):
    line = ComplianceSettings.objects.get()
    line.review_threshold = 10
    line.save()
    body = initiate(operator_client, amount="250000.00")  # corporate tier: 10 points
    assert body["status"] == "compliance_review"
    rule = RiskRule.objects.get(code="amount_corporate")
    rule.weight = 0
    rule.save()  # as the admin does; the process's rule cache is cleared on save
    body = initiate(operator_client, amount="250000.00", remittance_info="second")
    assert body["status"] == "queued"


def test_approval_continues_the_pipeline_and_is_audited(scenario, operator_client, users):
    body = initiate(operator_client, debtor_name="Vostok Shadow Shipping LLC")
    case = ReviewCase.objects.get(payment_id=body["id"])
    with pytest.raises(ValidationFailed):
        case_decide(case_id=case.pk, officer=users[COMPLIANCE_OFFICER], decision="approve", reason="  ")
    case_decide(
        case_id=case.pk,
        officer=users[COMPLIANCE_OFFICER],
        decision="approve",
        reason="Vessel operator verified: different company, registry extract on file.",
    )
    payment = Payment.objects.get(pk=body["id"])
    assert payment.status == PaymentStatus.QUEUED
    steps = [(t.from_status, t.to_status, t.actor_label) for t in payment.timeline.all()][-2:]
    assert steps == [("compliance_review", "approved", "t_compliance"), ("approved", "queued", "t_compliance")]
    assert payment.scheduled_for is not None
    assert AuditEntry.objects.filter(action="compliance.case_approve", object_id=str(case.pk)).exists()
    assert AuditEntry.objects.filter(action="payment.review_approve", object_id=str(payment.pk)).exists()
    with pytest.raises(CaseDecisionRefused):
        case_decide(case_id=case.pk, officer=users[COMPLIANCE_OFFICER], decision="reject", reason="changed mind")


def test_rejection_ends_the_payment(scenario, operator_client, users):
    body = initiate(operator_client, debtor_name="Crimson Lotus Trading FZE")
    case = ReviewCase.objects.get(payment_id=body["id"])
    case_decide(case_id=case.pk, officer=users[COMPLIANCE_OFFICER], decision="reject", reason="Confirmed match.")
    assert Payment.objects.get(pk=body["id"]).status == PaymentStatus.REJECTED


def test_four_eyes_on_escalated_cases(scenario, operator_client, users, second_officer):
    body = initiate(operator_client, debtor_name="Vostok Shadow Shipping LLC")
    case = ReviewCase.objects.get(payment_id=body["id"])
    first = users[COMPLIANCE_OFFICER]
    case_decide(case_id=case.pk, officer=first, decision="escalate", reason="Needs a second opinion.")
    assert Payment.objects.get(pk=body["id"]).status == PaymentStatus.COMPLIANCE_REVIEW
    with pytest.raises(CaseDecisionRefused) as refused:
        case_decide(case_id=case.pk, officer=first, decision="approve", reason="I approve my own escalation")
    assert refused.value.code == "four_eyes"
    case_decide(case_id=case.pk, officer=second_officer, decision="approve", reason="Second officer agrees.")
    assert Payment.objects.get(pk=body["id"]).status == PaymentStatus.QUEUED
    assert list(CaseDecision.objects.filter(case=case).values_list("decision", flat=True)) == ["escalate", "approve"]


def test_bulk_decisions_report_each_case(scenario, operator_client, users):
    ids = [
        ReviewCase.objects.get(
            payment_id=initiate(operator_client, debtor_name="Vostok Shadow Shipping LLC", remittance_info=f"bulk {i}")[
                "id"
            ]
        ).pk
        for i in range(3)
    ]
    case_decide(case_id=ids[0], officer=users[COMPLIANCE_OFFICER], decision="reject", reason="done before")
    outcome = cases_decide_bulk(
        case_ids=ids + [999999],
        officer=users[COMPLIANCE_OFFICER],
        decision="approve",
        reason="Batch reviewed against the registry.",
    )
    assert outcome.decided == ids[1:]
    assert set(outcome.refused) == {ids[0], 999999}
    assert Payment.objects.filter(status=PaymentStatus.QUEUED, debtor_name="Vostok Shadow Shipping LLC").count() == 2


def test_whitelisting_a_false_positive_stops_new_cases(scenario, operator_client, users):
    body = initiate(operator_client, debtor_name="Vostok Shadow Shipping LLC")
    match = ScreeningMatch.objects.get(screening__payment_id=body["id"], party="debtor")
    with pytest.raises(ValidationFailed):
        whitelist_add(match_id=match.pk, officer=users[COMPLIANCE_OFFICER], reason="")
    entry = whitelist_add(match_id=match.pk, officer=users[COMPLIANCE_OFFICER], reason="Same name, other company.")
    assert entry.created_by == users[COMPLIANCE_OFFICER]
    assert AuditEntry.objects.filter(action="compliance.whitelist_add").exists()
    again = initiate(operator_client, debtor_name="VOSTOK SHADOW SHIPPING LLC", remittance_info="after whitelist")
    assert again["status"] == "queued"
    suppressed = ScreeningMatch.objects.get(screening__payment_id=again["id"], party="debtor")
    assert suppressed.whitelisted is True  # still recorded, but it raised no case
    assert WhitelistEntry.objects.count() == 1


def test_a_held_payment_cannot_settle_without_a_decision():
    for target in (PaymentStatus.QUEUED, PaymentStatus.SETTLING, PaymentStatus.SETTLED, PaymentStatus.CANCELLED):
        assert not can_transition(PaymentStatus.COMPLIANCE_REVIEW, target)
    assert not can_transition(PaymentStatus.VALIDATED, PaymentStatus.QUEUED)


def test_risk_reasons_for_round_amounts_and_structuring(scenario, operator_client):
    for i in range(3):
        initiate(operator_client, debtor_name="Harbour Logistics", amount="9500.00", remittance_info=f"s{i}")
    body = initiate(operator_client, debtor_name="Harbour Logistics", amount="9600.00", remittance_info="s4")
    rules = {r["rule"] for r in body["compliance_check"]["reasons"]}
    assert "structuring" in rules
    body = initiate(operator_client, debtor_name="Round Co", amount="20000.00")
    assert "round_amount" in {r["rule"] for r in body["compliance_check"]["reasons"]}


@pytest.mark.parametrize("name", ["", "x" * 10_000, "\x00\x01\x02", "李小龍 Ωμέγα Мир مرحبا"])
def test_odd_names_are_a_clean_miss_or_a_clear_error(scenario, operator_client, name):
    response = operator_client.post(
        "/api/v1/payments/initiate", data=json.dumps(payment_body(creditor_name=name)), content_type="application/json"
    )
    assert response.status_code in (201, 400)
    if response.status_code == 400:
        assert response.json()["code"] == "validation_error"


def test_compliance_api_roles_and_decisions(scenario, operator_client, client_for, users, second_officer):
    body = initiate(operator_client, debtor_name="Vostok Shadow Shipping LLC", amount="1234.00")
    case = ReviewCase.objects.get(payment_id=body["id"])
    for role, expected in ((VIEWER, 403), (OPERATOR, 403), (AUDITOR, 200), (COMPLIANCE_OFFICER, 200), (ADMIN, 200)):
        assert client_for(role).get("/api/v1/compliance/cases").status_code == expected, role
    assert (
        client_for(AUDITOR)
        .post(f"/api/v1/compliance/cases/{case.pk}/decide", {"decision": "approve", "reason": "x"}, format="json")
        .status_code
        == 403
    )
    officer = client_for(COMPLIANCE_OFFICER)
    listing = officer.get("/api/v1/compliance/cases?status=open").json()
    assert [c["id"] for c in listing["cases"]] == [case.pk]
    detail = officer.get(f"/api/v1/compliance/cases/{case.pk}").json()
    assert detail["matches"][0]["level"] == "CRITICAL"
    assert detail["risk_reasons"][0]["rule"] == "sanctions_critical"
    missing_reason = officer.post(f"/api/v1/compliance/cases/{case.pk}/decide", {"decision": "approve"}, format="json")
    assert missing_reason.status_code == 400 and "reason" in missing_reason.json()["fields"]
    escalated = officer.post(
        f"/api/v1/compliance/cases/{case.pk}/decide",
        {"decision": "escalate", "reason": "second opinion"},
        format="json",
    )
    assert escalated.json()["status"] == "escalated"
    own = officer.post(
        f"/api/v1/compliance/cases/{case.pk}/decide", {"decision": "approve", "reason": "ok"}, format="json"
    )
    assert own.status_code == 409 and own.json()["code"] == "four_eyes"
    other = APIClient()
    other.force_authenticate(second_officer)
    approved = other.post(
        f"/api/v1/compliance/cases/{case.pk}/decide", {"decision": "approve", "reason": "ok"}, format="json"
    )
    assert approved.status_code == 200 and approved.json()["payment_status"] == "queued"
    export = officer.get("/api/v1/export/compliance/decisions")
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert lines[0].startswith("Decided At,Case,Payment ID")
    assert len(lines) == 3 and "escalate" in lines[1] and "approve" in lines[2]
    assert officer.get("/api/v1/compliance/cases/999999").status_code == 404


def test_take_next_gives_the_most_urgent_unassigned_case(scenario, operator_client, users):
    initiate(operator_client, creditor_name="Marguerite Demo-Valcourt", amount="600000.00")
    held = initiate(operator_client, debtor_name="Vostok Shadow Shipping LLC")
    officer = APIClient()
    officer.force_authenticate(users[COMPLIANCE_OFFICER])
    first = officer.post("/api/v1/compliance/cases/take-next").json()
    assert first["payment_id"] == held["id"] and first["assigned_to"] == "t_compliance"
    second = officer.post("/api/v1/compliance/cases/take-next")
    assert second.status_code == 200 and second.json()["id"] != first["id"]
    assert officer.post("/api/v1/compliance/cases/take-next").status_code == 204
    assert Decimal(second.json()["amount_usd"]) == Decimal("600000.00")
