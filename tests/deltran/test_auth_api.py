"""JWT login, refresh with rotation, logout revoking the refresh token, and who-am-I."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def login(username="t_operator", password="pw-t_operator"):
    return APIClient().post("/api/v1/auth/login", {"username": username, "password": password}, format="json")


def test_login_returns_tokens_expiry_and_role(users):
    response = login()
    assert response.status_code == 200, response.content
    body = response.json()
    assert {"access", "refresh", "token", "expires_at", "user"} <= set(body)
    assert body["token"] == body["access"]
    assert body["user"]["username"] == "t_operator"
    assert body["user"]["role"] == "Operator"
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.get("/api/v1/auth/me").json()["roles"] == ["Operator"]


def test_wrong_password_is_401_in_the_error_shape(users):
    response = login(password="wrong")
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "fields"}
    assert response.json()["code"] == "authentication_failed"


def test_refresh_rotates_and_the_old_refresh_token_is_refused(users):
    refresh = login().json()["refresh"]
    api = APIClient()
    first = api.post("/api/v1/auth/refresh", {"refresh": refresh}, format="json")
    assert first.status_code == 200
    assert first.json()["refresh"] != refresh
    again = api.post("/api/v1/auth/refresh", {"refresh": refresh}, format="json")
    assert again.status_code == 401


def test_logout_revokes_the_refresh_token(users):
    refresh = login().json()["refresh"]
    api = APIClient()
    assert api.post("/api/v1/auth/logout", {"refresh": refresh}, format="json").status_code == 204
    assert api.post("/api/v1/auth/refresh", {"refresh": refresh}, format="json").status_code == 401
    assert api.post("/api/v1/auth/logout", {}, format="json").status_code == 400


def test_schema_and_docs_are_served_without_the_internet(client):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/payments/initiate" in schema.content
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b"cdn." not in docs.content and b"unpkg" not in docs.content


def test_each_rotated_refresh_token_works_once_and_refusals_keep_the_error_shape(users):
    api = APIClient()
    first = login().json()["refresh"]
    second = api.post("/api/v1/auth/refresh", {"refresh": first}, format="json").json()["refresh"]
    third = api.post("/api/v1/auth/refresh", {"refresh": second}, format="json")
    assert third.status_code == 200
    for spent in (first, second):
        again = api.post("/api/v1/auth/refresh", {"refresh": spent}, format="json")
        assert again.status_code == 401
        assert set(again.json()) == {"code", "message", "fields"}
        assert again.json()["code"] == "token_not_valid"
    # The newest one still works, and logout revokes it.
    newest = third.json()["refresh"]
    assert api.post("/api/v1/auth/logout", {"refresh": newest}, format="json").status_code == 204
    assert api.post("/api/v1/auth/refresh", {"refresh": newest}, format="json").json()["code"] == "token_not_valid"
    garbage = api.post("/api/v1/auth/logout", {"refresh": "not-a-token"}, format="json")
    assert garbage.status_code == 401 and garbage.json()["code"] == "token_not_valid"


def test_an_access_token_cannot_be_used_as_a_refresh_token(users):
    access = login().json()["access"]
    response = APIClient().post("/api/v1/auth/refresh", {"refresh": access}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
