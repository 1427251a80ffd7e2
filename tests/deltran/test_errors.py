"""One error shape for every 4xx ({code, message, fields}), and nothing written when a request is refused."""

import json
import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from deltran.models import AuditEntry, IdempotencyRecord, OutboxEvent
from deltran.roles import VIEWER
from payments.models import Payment, PaymentTransition
from tests.conftest import payment_body

INITIATE_URL = "/api/v1/payments/initiate"
ERROR_KEYS = {"code", "message", "fields"}


def written() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Payment, PaymentTransition, AuditEntry, OutboxEvent, IdempotencyRecord)
    }


@pytest.fixture
def nothing_written(scenario):
    """Fails the test if the request under test wrote any payment, timeline, audit, event or idempotency row."""
    before = written()
    yield
    assert written() == before


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["fields"], dict)
    return body


def post_raw(client, raw: bytes | str, content_type="application/json", **extra):
    return client.post(INITIATE_URL, data=raw, content_type=content_type, **extra)


# --- Bodies that are not a JSON object -----------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param('{"amount": ', id="truncated"),
        pytest.param("{'amount': '1.00'}", id="single-quotes"),
        pytest.param("not json at all", id="text"),
        pytest.param('{"amount": "1.00",}', id="trailing-comma"),
        pytest.param(b'{"debtor_name": "\xff\xfe"}', id="not-utf8"),
    ],
)
def test_malformed_json_is_400_malformed_request(operator_client, nothing_written, raw):
    assert_error(post_raw(operator_client, raw), 400, "malformed_request")


def test_an_empty_body_is_400_validation_error_naming_the_required_fields(operator_client, nothing_written):
    body = assert_error(post_raw(operator_client, ""), 400, "validation_error")
    assert "sender_bic" in body["fields"]


def test_malformed_json_with_an_idempotency_key_takes_no_key(operator_client, nothing_written):
    assert_error(post_raw(operator_client, "{", HTTP_IDEMPOTENCY_KEY="k1"), 400, "malformed_request")


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(json.dumps([payment_body()]), id="list"),
        pytest.param("[]", id="empty-list"),
        pytest.param('"a string"', id="string"),
        pytest.param("42", id="number"),
        pytest.param("null", id="null"),
        pytest.param("true", id="boolean"),
    ],
)
def test_a_body_that_is_not_an_object_is_400_validation_error(operator_client, nothing_written, raw):
    body = assert_error(post_raw(operator_client, raw, HTTP_IDEMPOTENCY_KEY="not-an-object"), 400, "validation_error")
    assert "non_field_errors" in body["fields"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(operator_client, nothing_written, constant):
    raw = json.dumps(payment_body()).replace('"125000.50"', constant)
    assert constant in raw
    body = assert_error(post_raw(operator_client, raw), 400, "malformed_request")
    assert constant in body["message"]


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "sNaN", "1e400000"])
def test_non_finite_or_huge_amount_strings_are_400(operator_client, nothing_written, amount):
    body = assert_error(post_raw(operator_client, json.dumps(payment_body(amount=amount))), 400, "validation_error")
    assert "amount" in body["fields"]


@pytest.mark.parametrize("amount", [True, False, None, [], {}])
def test_booleans_and_containers_are_not_amounts(operator_client, nothing_written, amount):
    raw = json.dumps({**payment_body(), "amount": amount})
    body = assert_error(post_raw(operator_client, raw), 400, "validation_error")
    assert "amount" in body["fields"]


# --- Body size -----------------------------------------------------------------------------------


def padded_body(size: int) -> bytes:
    """A valid payment whose JSON is exactly `size` bytes (padded with insignificant whitespace)."""
    raw = json.dumps(payment_body()).encode()
    raw = raw[:-1] + b" " * (size - len(raw)) + b"}"
    assert len(raw) == size
    return raw


def test_a_body_over_the_limit_is_400_payload_too_large(operator_client, nothing_written):
    assert settings.API_MAX_BODY_BYTES == 64 * 1024
    raw = padded_body(settings.API_MAX_BODY_BYTES + 1)
    body = assert_error(post_raw(operator_client, raw, HTTP_IDEMPOTENCY_KEY="big"), 400, "payload_too_large")
    assert str(settings.API_MAX_BODY_BYTES) in body["message"]


def test_a_much_larger_body_is_refused_the_same_way(operator_client, nothing_written):
    assert_error(post_raw(operator_client, padded_body(5 * 1024 * 1024)), 400, "payload_too_large")


def test_a_body_exactly_at_the_limit_is_accepted(scenario, operator_client):
    response = post_raw(operator_client, padded_body(settings.API_MAX_BODY_BYTES))
    assert response.status_code == 201, response.content
    assert Payment.objects.count() == 1


def test_the_limit_follows_the_setting(operator_client, nothing_written, settings):
    settings.API_MAX_BODY_BYTES = 1024
    assert_error(post_raw(operator_client, padded_body(1025)), 400, "payload_too_large")


# --- Authentication, routing, methods, media types ---------------------------------------------


def test_no_token_is_401_not_authenticated(nothing_written):
    response = APIClient().post(INITIATE_URL, payment_body(), format="json")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not-a-jwt",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJl",
        "Bearer",
        "Bearer a b",
    ],
)
def test_a_bad_token_is_401(nothing_written, authorization):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization)
    assert_error(client.post(INITIATE_URL, payment_body(), format="json"), 401, "authentication_failed")


def test_a_role_without_the_capability_is_403(client_for, nothing_written):
    response = client_for(VIEWER).post(INITIATE_URL, payment_body(), format="json")
    assert_error(response, 403, "permission_denied")


@pytest.mark.parametrize(
    "path", ["/api/v1/does-not-exist", "/api/v1/payments/initiate/extra", "/api/v1/payments/not-a-uuid"]
)
def test_an_unknown_url_under_the_api_is_404_json(operator_client, nothing_written, path):
    assert_error(operator_client.get(path), 404, "not_found")
    assert_error(operator_client.post(path, payment_body(), format="json"), 404, "not_found")


def test_an_unknown_url_is_404_json_even_without_a_token(nothing_written):
    assert_error(APIClient().get("/api/v1/nothing/here"), 404, "not_found")


def test_an_unknown_payment_is_404_not_found(operator_client, nothing_written):
    assert_error(operator_client.get(f"/api/v1/payments/{uuid.uuid4()}"), 404, "not_found")


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", INITIATE_URL),
        ("put", INITIATE_URL),
        ("delete", INITIATE_URL),
        ("post", "/api/v1/payments"),
        ("delete", "/api/v1/payments"),
        ("post", "/api/v1/export/payments"),
    ],
)
def test_a_wrong_method_is_405_method_not_allowed(operator_client, nothing_written, method, path):
    response = getattr(operator_client, method)(path, payment_body(), format="json")
    assert_error(response, 405, "method_not_allowed")


@pytest.mark.parametrize(
    "content_type, raw",
    [
        ("text/plain", json.dumps(payment_body())),
        ("application/x-www-form-urlencoded", "sender_bic=ENBXAEADXXX&amount=1"),
        ("application/xml", "<Document/>"),
    ],
)
def test_a_non_json_content_type_is_415(operator_client, nothing_written, content_type, raw):
    body = assert_error(post_raw(operator_client, raw, content_type=content_type), 415, "unsupported_media_type")
    assert content_type.split(";")[0] in body["message"]


def test_multipart_is_415(operator_client, nothing_written):
    response = operator_client.post(INITIATE_URL, payment_body(), format="multipart")
    assert_error(response, 415, "unsupported_media_type")


# --- Validation errors name their fields ------------------------------------------------------


def test_missing_fields_are_400_validation_error_with_each_field(operator_client, nothing_written):
    body = assert_error(operator_client.post(INITIATE_URL, {}, format="json"), 400, "validation_error")
    assert {"sender_bic", "receiver_bic", "amount", "currency", "debtor_name", "creditor_name"} <= set(body["fields"])
    issue = body["fields"]["amount"][0]
    assert set(issue) == {"code", "message"}
    assert issue["code"] == "required"


def test_a_business_rule_error_has_the_same_shape(operator_client, nothing_written):
    response = operator_client.post(INITIATE_URL, payment_body(receiver_bic="DEUTDEFFXXX"), format="json")
    body = assert_error(response, 400, "validation_error")
    assert body["fields"]["receiver_bic"][0]["code"] == "unknown_bank"
    assert "DEUTDEFFXXX" in body["message"]


# --- Pathological JSON --------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [50, 500, 900, 990, 1000, 2000, 10_000])
@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda depth: "[" * depth + "]" * depth, id="lists"),
        pytest.param(lambda depth: '{"a":' * depth + "1" + "}" * depth, id="objects"),
        pytest.param(
            lambda depth: json.dumps(payment_body())[:-1] + ', "remittance_info": ' + "[" * depth + "]" * depth + "}",
            id="inside-a-field",
        ),
    ],
)
def test_deeply_nested_json_is_a_400_not_a_crash(operator_client, nothing_written, shape, depth):
    raw = shape(depth)
    assert len(raw.encode()) <= settings.API_MAX_BODY_BYTES
    response = post_raw(operator_client, raw, HTTP_IDEMPOTENCY_KEY=f"deep-{depth}")
    assert 400 <= response.status_code < 500
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["code"] in {"malformed_request", "validation_error"}
