"""Login brute-force protection (django-axes): failures counted per username and client address on the JWT
login and the session login; after LOGIN_FAILURE_LIMIT the pair is refused with 429 `login_locked`."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

LIMIT = 3


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


def jwt_login(password: str, username: str = "t_operator", ip: str = "10.0.0.1"):
    return APIClient(REMOTE_ADDR=ip).post(
        "/api/v1/auth/login", {"username": username, "password": password}, format="json"
    )


def test_the_jwt_login_locks_a_username_and_address_after_the_limit(users, settings):
    for _ in range(LIMIT - 1):
        assert jwt_login("wrong").status_code == 401
    # The failure that reaches the limit is answered as the lockout; from then on even the right password is.
    assert jwt_login("wrong").status_code == 429
    locked = jwt_login("pw-t_operator")
    assert locked.status_code == 429
    assert locked.json() == {
        "code": "login_locked",
        "message": "Too many failed logins for this account from this address; try again later.",
        "fields": {},
    }
    assert int(locked["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())

    # Counted per username + address: the same user from elsewhere, another user from here, still log in.
    assert jwt_login("pw-t_operator", ip="10.0.0.2").status_code == 200
    assert jwt_login("pw-t_viewer", username="t_viewer").status_code == 200
    # A forwarded-for header does not change the address counted.
    forged = APIClient(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.77").post(
        "/api/v1/auth/login", {"username": "t_operator", "password": "pw-t_operator"}, format="json"
    )
    assert forged.status_code == 429

    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=1)):
        assert jwt_login("pw-t_operator").status_code == 200


def test_a_successful_login_clears_the_count(users):
    for _ in range(LIMIT - 1):
        assert jwt_login("wrong").status_code == 401
    assert jwt_login("pw-t_operator").status_code == 200
    for _ in range(LIMIT - 1):
        assert jwt_login("wrong").status_code == 401
    assert jwt_login("pw-t_operator").status_code == 200


def test_failures_of_an_unknown_username_are_counted_too(db):
    for _ in range(LIMIT - 1):
        assert jwt_login("x", username="nobody").status_code == 401
    assert jwt_login("x", username="nobody").json()["code"] == "login_locked"


def test_the_session_login_locks_with_a_page(client, users):
    for _ in range(LIMIT - 1):
        response = client.post("/login/", {"username": "t_operator", "password": "wrong"}, REMOTE_ADDR="10.0.0.9")
        assert response.status_code == 200
        assert "did not match" in response.content.decode()
    reaching = client.post("/login/", {"username": "t_operator", "password": "wrong"}, REMOTE_ADDR="10.0.0.9")
    assert reaching.status_code == 429
    locked = client.post("/login/", {"username": "t_operator", "password": "pw-t_operator"}, REMOTE_ADDR="10.0.0.9")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert int(locked["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session
    # The JWT login shares the count: the same pair is locked there as well.
    assert jwt_login("pw-t_operator", ip="10.0.0.9").status_code == 429


def test_the_admin_login_is_counted(client, users):
    for _ in range(LIMIT):
        client.post("/admin/login/", {"username": "t_admin", "password": "wrong"}, REMOTE_ADDR="10.0.0.5")
    response = client.post("/admin/login/", {"username": "t_admin", "password": "pw-t_admin"}, REMOTE_ADDR="10.0.0.5")
    assert response.status_code == 429
