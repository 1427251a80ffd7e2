"""Parties' IBANs and account numbers: in full for Admin, Operator and Compliance Officer; masked for Auditor and
Viewer, in the API detail, the payment page and the CSV export (deltran/roles.py, payments.view_accounts)."""

import csv
import io
import json

import pytest

from deltran.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, OPERATOR, VIEWER
from tests.conftest import payment_body

pytestmark = pytest.mark.django_db

IBAN = "AE070331234567890123456"
ACCOUNT = "0099-1234567"
FULL = {ADMIN, OPERATOR, COMPLIANCE_OFFICER}


@pytest.fixture
def payment_id(scenario, operator_client):
    body = payment_body(debtor_iban=IBAN, creditor_account=ACCOUNT)
    response = operator_client.post("/api/v1/payments/initiate", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    # The initiator (Operator) sees what it sent.
    assert (response.json()["debtor_iban"], response.json()["creditor_account"]) == (IBAN, ACCOUNT)
    return response.json()["id"]


@pytest.mark.parametrize("role", [ADMIN, OPERATOR, COMPLIANCE_OFFICER, AUDITOR, VIEWER])
def test_api_detail_masks_accounts_for_roles_that_do_not_need_them(payment_id, client_for, role):
    body = client_for(role).get(f"/api/v1/payments/{payment_id}").json()
    if role in FULL:
        assert (body["debtor_iban"], body["creditor_account"]) == (IBAN, ACCOUNT)
    else:
        assert (body["debtor_iban"], body["creditor_account"]) == ("AE07 **** **** 3456", "**** 4567")
    assert body["creditor_iban"] == "" and body["debtor_account"] == ""


@pytest.mark.parametrize("role", [OPERATOR, AUDITOR, VIEWER])
def test_export_masks_accounts_by_role(payment_id, client_for, role):
    response = client_for(role).get("/api/v1/export/payments")
    assert response.status_code == 200
    (row,) = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    expected = (IBAN, ACCOUNT) if role in FULL else ("AE07 **** **** 3456", "**** 4567")
    assert (row["Debtor Account"], row["Creditor Account"]) == expected


@pytest.mark.parametrize("role", [OPERATOR, VIEWER])
def test_payment_page_masks_accounts_by_role(payment_id, client, users, role):
    client.force_login(users[role])
    page = client.get(f"/payments/{payment_id}/").content.decode()
    if role in FULL:
        assert IBAN in page and ACCOUNT in page
    else:
        assert IBAN not in page and "1234567" not in page
        assert "AE07 **** **** 3456" in page and "**** 4567" in page


@pytest.mark.parametrize("role", [OPERATOR, AUDITOR, VIEWER])
@pytest.mark.parametrize("kind", ["pacs008", "mt103"])
def test_output_messages_mask_accounts_by_role(payment_id, client_for, role, kind):
    response = client_for(role).get(f"/api/v1/payments/{payment_id}/{kind}")
    assert response.status_code == 200, response.content
    text = response.content.decode()
    assert (IBAN in text) == (role in FULL)
    assert ("1234567" in text) == (role in FULL)
    if role not in FULL:
        # The mask's last four stay (MT103's character set writes the stars as dots).
        assert "3456" in text and "4567" in text
