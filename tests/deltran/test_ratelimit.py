"""Rate limits per user and per API client (429 + Retry-After), API clients' IP allow-lists (403), the bench client."""

import time
import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.core.management import call_command
from rest_framework.test import APIClient

from deltran.clients import api_client_set
from deltran.models import ApiClient
from deltran.ratelimit import counter_hit
from deltran.roles import OPERATOR, VIEWER

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me"


@pytest.fixture
def limits(settings):
    """Limits on, counters of this test only, and the clock stopped one second into a fresh minute."""
    settings.RATE_LIMIT_ENABLED = True
    settings.RATE_LIMIT_KEY_PREFIX = f"rl-test-{uuid.uuid4().hex}"
    start = (int(time.time()) // 60 + 1) * 60 + 1
    with time_machine.travel(datetime.fromtimestamp(start, tz=UTC), tick=False) as clock:
        yield clock


def test_the_101st_request_in_a_minute_gets_429_with_retry_after(limits, client_for):
    api = client_for(OPERATOR)
    for n in range(100):
        assert api.get(ME).status_code == 200, f"request {n + 1} was refused"
    refused = api.get(ME)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert set(refused.json()) == {"code", "message", "fields"}
    # One second into the minute: the next one starts in 59 s.
    assert refused["Retry-After"] == "59"
    limits.shift(59)
    assert api.get(ME).status_code == 200


def test_users_are_counted_separately(limits, settings, client_for):
    settings.RATE_LIMIT_PER_MINUTE = 3
    operator, viewer = client_for(OPERATOR), client_for(VIEWER)
    assert [operator.get(ME).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert viewer.get(ME).status_code == 200


def test_an_api_client_has_its_own_limit(limits, settings, users, client_for):
    settings.RATE_LIMIT_PER_MINUTE = 3
    api_client_set(name="ENBX treasury", username=users[OPERATOR].username, rate_limit_per_minute=6)
    api = client_for(OPERATOR)
    assert [api.get(ME).status_code for _ in range(7)] == [200] * 6 + [429]
    # Raised in the admin or by the command: seen at once by this process. Refused requests counted too (7 so far).
    api_client_set(name="ENBX treasury", username=users[OPERATOR].username, rate_limit_per_minute=8)
    assert [api.get(ME).status_code for _ in range(2)] == [200, 429]


def test_anonymous_callers_are_limited_by_address(limits, settings):
    settings.RATE_LIMIT_ANON_PER_MINUTE = 2
    here, there = APIClient(REMOTE_ADDR="192.0.2.10"), APIClient(REMOTE_ADDR="192.0.2.11")
    codes = [here.post("/api/v1/auth/refresh", {"refresh": "x"}, format="json").status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    assert there.post("/api/v1/auth/refresh", {"refresh": "x"}, format="json").status_code == 401


def test_an_api_client_is_refused_outside_its_networks(users, client_for):
    # Rate limits are off here (the suite's default): the allow-list holds regardless.
    api_client_set(
        name="SBIN gateway",
        username=users[OPERATOR].username,
        rate_limit_per_minute=100,
        allowed_networks="10.20.0.0/16, 2001:db8::/32",
    )
    api = client_for(OPERATOR)
    refused = api.get(ME, REMOTE_ADDR="192.0.2.7")
    assert refused.status_code == 403
    assert refused.json()["code"] == "ip_not_allowed"
    assert "192.0.2.7" in refused.json()["message"]
    assert api.get(ME, REMOTE_ADDR="10.20.3.4").status_code == 200
    assert api.get(ME, REMOTE_ADDR="2001:db8::5").status_code == 200
    assert api.get(ME, REMOTE_ADDR="::ffff:10.20.3.4").status_code == 200
    # Other users are not covered by the client.
    assert client_for(VIEWER).get(ME, REMOTE_ADDR="192.0.2.7").status_code == 200


def test_x_forwarded_for_counts_only_behind_a_trusted_proxy(users, client_for, settings):
    api_client_set(
        name="SBIN gateway",
        username=users[OPERATOR].username,
        rate_limit_per_minute=100,
        allowed_networks="10.20.0.0/16",
    )
    api = client_for(OPERATOR)
    spoofed = api.get(ME, REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="10.20.3.4")
    assert spoofed.status_code == 403
    settings.REST_FRAMEWORK = {**django_settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # One proxy: the last X-Forwarded-For entry is the address the proxy saw; earlier ones are the client's claims.
    assert api.get(ME, REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.20.3.4").status_code == 200
    assert api.get(ME, REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.20.3.4, 192.0.2.7").status_code == 403


def test_an_inactive_client_falls_back_to_the_user_default(users, client_for):
    client = api_client_set(
        name="SBIN gateway",
        username=users[OPERATOR].username,
        rate_limit_per_minute=100,
        allowed_networks="10.20.0.0/16",
    )
    client.is_active = False
    client.save()
    assert client_for(OPERATOR).get(ME, REMOTE_ADDR="192.0.2.7").status_code == 200


def test_allowed_networks_are_validated(users):
    client = ApiClient(name="bad", user=users[OPERATOR], rate_limit_per_minute=10, allowed_networks="10.0.0.0/33")
    with pytest.raises(ValidationError) as excinfo:
        client.full_clean()
    assert "allowed_networks" in excinfo.value.message_dict


def test_the_admin_edits_api_clients(users, client):
    client.force_login(users["Admin"])
    response = client.post(
        "/admin/deltran/apiclient/add/",
        {
            "name": "ENBX",
            "bank_bic": "ENBXAEADXXX",
            "user": users[OPERATOR].pk,
            "rate_limit_per_minute": 250,
            "allowed_networks": "10.0.0.0/8",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    saved = ApiClient.objects.get(name="ENBX")
    assert (saved.rate_limit_per_minute, saved.allowed_networks) == (250, "10.0.0.0/8")
    bad = client.post(
        "/admin/deltran/apiclient/add/",
        {"name": "bad", "user": users[VIEWER].pk, "rate_limit_per_minute": 5, "allowed_networks": "nowhere"},
    )
    assert bad.status_code == 200 and b"is not an IP address" in bad.content
    assert not ApiClient.objects.filter(name="bad").exists()


def test_the_command_creates_then_updates_a_client(users):
    call_command("api_client_set", "bench", user=users[OPERATOR].username, rate=1_000_000)
    call_command("api_client_set", "bench", user=users[OPERATOR].username, rate=2_000_000, networks="127.0.0.1")
    client = ApiClient.objects.get(name="bench")
    assert (client.rate_limit_per_minute, client.allowed_networks) == (2_000_000, "127.0.0.1")


@pytest.mark.redis
def test_counters_on_redis_are_one_shared_counter_that_expires(settings):
    cache = caches["ratelimit"]
    key = f"rl-test-{uuid.uuid4().hex}"
    assert [counter_hit(key, ttl=30) for _ in range(3)] == [1, 2, 3]
    raw = cache._cache.get_client(write=True)
    assert 0 < raw.ttl(cache.make_and_validate_key(key)) <= 30
    assert cache.get(key) == 3
