"""Property-based API tests from the OpenAPI schema (schemathesis): for every operation, generated requests as an
Operator and as an Admin never get a 5xx, and every 4xx is in the one error shape {code, message, fields}.

The schema is the one /api/v1/schema/ serves (drf-spectacular). Requests go through the whole WSGI stack, in the
test's database transaction. SCHEMATHESIS_EXAMPLES (default 8) bounds the examples per operation and role.
"""

import json
import os

import pytest
import schemathesis
from django.core import signals
from django.core.serializers.json import DjangoJSONEncoder
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings
from rest_framework_simplejwt.tokens import RefreshToken

from deltran.roles import ADMIN, OPERATOR
from deltran.wsgi import application

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", 8))


def _schema() -> dict:
    raw = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(raw, cls=DjangoJSONEncoder))


schema = schemathesis.openapi.from_dict(_schema())
schema.app = application


def check_response(response) -> None:
    status = response.status_code
    assert status < 500, f"{status} server error: {response.text[:2000]}"
    if status >= 400:
        try:
            body = json.loads(response.text)
        except ValueError:
            pytest.fail(f"{status} without a JSON error body: {response.text[:500]!r}")
        assert isinstance(body, dict) and set(body) == {"code", "message", "fields"}, f"{status}: {body}"
        assert isinstance(body["code"], str) and body["code"], body
        assert isinstance(body["message"], str), body
        assert isinstance(body["fields"], dict), body


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}


API_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.fixture
def connection_kept():
    """As Django's test client does: a request must not close the test's connection (its transaction holds the
    test's data; on PostgreSQL closing it would end the transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@API_SETTINGS
def test_requests_never_fail_on_the_server(case, scenario, users, connection_kept):
    # Each generated request is sent as an Operator and then as an Admin; the scenario is loaded once per operation.
    for role in (OPERATOR, ADMIN):
        check_response(case.call(headers=bearer(users[role])))
