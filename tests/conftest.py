"""Shared fixtures: the scenario, users per role, authenticated API clients, and service markers.

Tests marked `postgres` or `redis` run only when DATABASE_URL / REDIS_URL point at
those servers; on the embedded default they are skipped with the reason. CI sets
DELTRAN_REQUIRE_SERVICES=1, which turns such a skip into a failure.
"""

import os

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from compliance.selectors import compliance_settings, risk_rules, screening_index_clear
from deltran.accounts import user_ensure
from deltran.clients import api_client_policies
from deltran.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, OPERATOR, VIEWER
from fxrates.selectors import fx_cache_clear
from payments.scenario import scenario_load
from settlement.selectors import participant_directory_clear
from tests.otp_helpers import _force_login_completes_the_second_factor, totp_enrol  # noqa: F401  (fixture)

REQUIRE_SERVICES = os.environ.get("DELTRAN_REQUIRE_SERVICES") == "1"


def pytest_collection_modifyitems(config, items):
    on_postgres = django_settings.DATABASE_VENDOR == "postgresql"
    has_redis = bool(django_settings.REDIS_URL)
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            if REQUIRE_SERVICES:
                raise pytest.UsageError("DELTRAN_REQUIRE_SERVICES=1 but DATABASE_URL is not PostgreSQL")
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (CI does)"))
        if "redis" in item.keywords and not has_redis:
            if REQUIRE_SERVICES:
                raise pytest.UsageError("DELTRAN_REQUIRE_SERVICES=1 but REDIS_URL is not set")
            item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL (CI does)"))


def clear_process_caches() -> None:
    """Per-process reference caches must not carry one test's rows into the next."""
    participant_directory_clear()
    fx_cache_clear()
    screening_index_clear()
    risk_rules.clear()
    compliance_settings.clear()
    api_client_policies.clear()


@pytest.fixture(autouse=True)
def _fast_passwords_and_fresh_caches(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Counters outlive a test (shared cache); tests of the limits turn them on (tests/deltran/test_ratelimit.py).
    settings.RATE_LIMIT_ENABLED = False
    clear_process_caches()
    yield
    clear_process_caches()


@pytest.fixture
def scenario(db):
    return scenario_load(with_users=False)


ROLE_USERS = {
    ADMIN: "t_admin",
    OPERATOR: "t_operator",
    COMPLIANCE_OFFICER: "t_compliance",
    AUDITOR: "t_auditor",
    VIEWER: "t_viewer",
}


@pytest.fixture
def users(db, settings):
    made = {role: user_ensure(username=name, password="pw-" + name, role=role)[0] for role, name in ROLE_USERS.items()}
    # Roles that must use a second factor have enrolled an authenticator (tests/otp_helpers.py computes its codes).
    for role in settings.OTP_REQUIRED_ROLES:
        totp_enrol(made[role])
    return made


@pytest.fixture
def admin_user(admin_user):
    """pytest-django's superuser (behind `admin_client`) is an Admin, so it has enrolled an authenticator."""
    totp_enrol(admin_user)
    return admin_user


def jwt_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def operator_client(users):
    return jwt_client(users[OPERATOR])


@pytest.fixture
def viewer_client(users):
    return jwt_client(users[VIEWER])


@pytest.fixture
def client_for(users):
    return lambda role: jwt_client(users[role])


def payment_body(**overrides) -> dict:
    body = {
        "sender_bic": "ENBXAEADXXX",
        "receiver_bic": "SBININBBXXX",
        "amount": "125000.50",
        "currency": "USD",
        "debtor_name": "Acme Trading LLC",
        "creditor_name": "Mumbai Textiles Pvt Ltd",
        "remittance_info": "Invoice 2026-114",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}
