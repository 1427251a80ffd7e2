"""Who may do what on the payment API and pages: every role against every payment route."""

import json

import pytest
from rest_framework.test import APIClient

from deltran.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, OPERATOR, VIEWER
from tests.conftest import payment_body
from tests.payments.factories import make_payment

pytestmark = pytest.mark.django_db

READERS = [ADMIN, OPERATOR, COMPLIANCE_OFFICER, AUDITOR, VIEWER]
INITIATORS = {ADMIN, OPERATOR}


@pytest.mark.parametrize("role", READERS)
def test_initiation_is_for_admins_and_operators_only(scenario, client_for, role):
    response = client_for(role).post(
        "/api/v1/payments/initiate", data=json.dumps(payment_body()), content_type="application/json"
    )
    if role in INITIATORS:
        assert response.status_code == 201, response.content
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("role", READERS)
def test_every_role_may_read_list_detail_and_export(scenario, users, client_for, role):
    payment = make_payment()
    api = client_for(role)
    assert api.get("/api/v1/payments").status_code == 200
    assert api.get(f"/api/v1/payments/{payment.id}").status_code == 200
    assert api.get("/api/v1/export/payments").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/payments/initiate"),
        ("get", "/api/v1/payments"),
        ("get", "/api/v1/payments/01a1fd29-bfaf-7b6e-bdc1-72d31fdb75a0"),
        ("get", "/api/v1/export/payments"),
        ("get", "/api/v1/auth/me"),
    ],
)
def test_anonymous_callers_get_401(scenario, method, path):
    response = getattr(APIClient(), method)(path)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_user_without_a_role_is_refused(scenario, django_user_model):
    nobody = django_user_model.objects.create_user(username="nobody", password="x")
    api = APIClient()
    api.force_authenticate(nobody)
    assert api.get("/api/v1/payments").status_code == 403


def test_deactivated_user_token_stops_working(scenario, users, client_for):
    api = client_for(OPERATOR)
    assert api.get("/api/v1/payments").status_code == 200
    users[OPERATOR].is_active = False
    users[OPERATOR].save()
    assert api.get("/api/v1/payments").status_code == 401


def test_pages_need_login_and_a_role(scenario, client, users, django_user_model):
    payment = make_payment()
    assert client.get("/payments/").status_code == 302
    assert client.get("/payments/")["Location"].startswith("/login/")
    client.force_login(django_user_model.objects.create_user(username="norole", password="x"))
    assert client.get("/payments/").status_code == 403
    for role in READERS:
        client.force_login(users[role])
        assert client.get("/payments/").status_code == 200
        assert client.get(f"/payments/{payment.id}/").status_code == 200


def test_export_button_only_for_roles_that_may_export(scenario, client, users):
    client.force_login(users[VIEWER])
    assert b'id="export-csv"' in client.get("/payments/").content
