"""Request ids on responses and log lines, JSON logs, security headers (HSTS, CSP, framing, nosniff, referrer), CORS."""

import io
import json
import logging
import re
import uuid

import pytest
from django.conf import settings as django_settings
from django.utils.module_loading import import_string

from deltran.requestid import RequestContextFilter
from deltran.roles import OPERATOR

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me"
PORTAL = "https://portal.bank.example"


@pytest.fixture
def json_log():
    """The root logger writing through the production JSON formatter and request filter into a buffer."""
    options = dict(django_settings.LOGGING["formatters"]["json"])
    formatter = import_string(options.pop("()"))(**options)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(formatter)
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


def test_every_response_has_a_generated_request_id(client, client_for):
    api = client_for(OPERATOR)
    ids = {api.get(ME)["X-Request-ID"], api.get(ME)["X-Request-ID"], client.get("/login/")["X-Request-ID"]}
    assert len(ids) == 3
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)
    # Errors and redirects too.
    assert client.get("/payments/")["X-Request-ID"]
    assert client.get("/api/v1/payments")["X-Request-ID"]


def test_a_well_formed_request_id_is_kept_and_a_bad_one_replaced(client):
    offered = str(uuid.uuid4())
    assert client.get("/login/", HTTP_X_REQUEST_ID=offered)["X-Request-ID"] == offered
    for bad in ["short", "has spaces in it", "x" * 200, "forged\nline-injected", "-leading-dash-id"]:
        answered = client.get("/login/", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
        assert answered != bad and re.fullmatch(r"[0-9a-f]{32}", answered)


def test_log_lines_are_json_with_request_id_user_method_path_status_duration(json_log, client_for):
    api = client_for(OPERATOR)
    assert api.get(ME, HTTP_X_REQUEST_ID="bank-trace-0001").status_code == 200
    missing = api.get(f"/api/v1/payments/{uuid.uuid4()}")
    lines = json_log()
    access = [line for line in lines if line["logger"] == "deltran.access"]
    first = next(line for line in access if line["request_id"] == "bank-trace-0001")
    assert first["user"] == "t_operator"
    assert (first["method"], first["path"], first["status"]) == ("GET", ME, 200)
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] > 0
    assert {"time", "level", "message"} <= set(first) and first["level"] == "INFO"
    # Django's own "Not Found" warning, written after the middleware has returned, carries the same id.
    not_found = [line for line in lines if line["logger"] == "django.request"]
    assert not_found and not_found[0]["request_id"] == missing["X-Request-ID"]
    assert not_found[0]["user"] == "t_operator"


def test_log_lines_outside_a_request_have_a_dash(json_log):
    logging.getLogger("deltran.test").warning("beat ran")
    (line,) = [line for line in json_log() if line["logger"] == "deltran.test"]
    assert (line["request_id"], line["user"], line["message"]) == ("-", "-", "beat ran")


@pytest.mark.parametrize("path", ["/login/", ME, "/api/v1/schema/"])
def test_security_headers_on_pages_and_api(client, path):
    response = client.get(path)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    csp = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";") if part.strip())
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'"
    assert "ws://127.0.0.1:8001" in csp["connect-src"].split()
    # Plain http: no HSTS (it would be ignored, and must not be sent to a development server).
    assert "Strict-Transport-Security" not in response


def test_the_api_docs_page_alone_allows_redoc_inline_code(client):
    csp = client.get("/api/v1/docs/")["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-inline' blob:" in csp
    assert "frame-ancestors 'none'" in csp


def test_hsts_behind_a_tls_proxy(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    secure = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get("/login/", HTTP_X_FORWARDED_PROTO="http")


def test_cors_allows_only_listed_origins_on_the_api(client, settings):
    settings.CORS_ALLOWED_ORIGINS = [PORTAL]
    preflight = client.options(
        "/api/v1/payments/initiate",
        HTTP_ORIGIN=PORTAL,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key",
    )
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == PORTAL
    assert "idempotency-key" in preflight["Access-Control-Allow-Headers"]
    answered = client.get("/api/v1/payments", HTTP_ORIGIN=PORTAL)
    assert answered["Access-Control-Allow-Origin"] == PORTAL
    assert "X-Request-ID" in answered["Access-Control-Expose-Headers"]
    stranger = client.options(
        "/api/v1/payments/initiate", HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert "Access-Control-Allow-Origin" not in stranger
    # Pages are never offered to other origins.
    assert "Access-Control-Allow-Origin" not in client.get("/login/", HTTP_ORIGIN=PORTAL)
