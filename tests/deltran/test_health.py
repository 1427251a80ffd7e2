"""/health, /health/live, /health/ready: the checks, who sees their details, and a 503 while Redis is down."""

import shutil
import socket
import subprocess
import time

import pytest
import redis
from django.test import Client

from deltran.models import PeriodicTaskState
from deltran.roles import AUDITOR, OPERATOR
from deltran.tasks import idempotency_prune_task


@pytest.fixture
def web(users):
    def client(role=None):
        found = Client()
        if role:
            found.force_login(users[role])
        return found

    return client


@pytest.mark.django_db
def test_health_reports_each_required_part_and_hides_details_from_the_public(web, settings):
    settings.METRICS_TOKEN = ""
    response = web().get("/health")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] in {"ok", "degraded"}
    required = {name for name, check in body["checks"].items() if check["required"]}
    assert {"database", "broker", "channel_layer"} <= required
    assert body["checks"]["database"] == {"status": "ok", "required": True}
    # The informative checks are there, without their details.
    assert set(body["checks"]["periodic_tasks"]) == {"status", "required"}
    assert body["checks"]["screening_lists"]["required"] is False


@pytest.mark.django_db
def test_operators_see_each_periodic_task_and_the_lists(web, scenario):
    idempotency_prune_task()
    body = web(OPERATOR).get("/health").json()
    tasks = body["checks"]["periodic_tasks"]["tasks"]
    assert tasks["deltran.idempotency_prune"]["status"] == "ok"
    assert tasks["deltran.idempotency_prune"]["last_succeeded_at"] is not None
    assert tasks["settlement.netting_cycle"]["status"] == "never"
    # A beat task made without @periodic_task keeps no run record: reported as such, never as late.
    assert tasks["payments.metrics_rollup"]["status"] == "unrecorded"
    assert "payments.metrics_rollup" not in body["checks"]["periodic_tasks"]["late_or_never"]
    assert "settlement.netting_cycle" in body["checks"]["periodic_tasks"]["late_or_never"]
    assert body["checks"]["periodic_tasks"]["status"] == "warn"
    assert body["status"] == "degraded"  # informative checks warn; nothing required is down
    lists = body["checks"]["screening_lists"]
    assert lists["status"] in {"ok", "warn"} and "lists" in lists
    # An auditor is not an operator: no details.
    assert "tasks" not in web(AUDITOR).get("/health").json()["checks"]["periodic_tasks"]


@pytest.mark.django_db
def test_a_task_late_for_beat_is_reported_late(web, settings):
    idempotency_prune_task()
    state = PeriodicTaskState.objects.get(name="deltran.idempotency_prune")
    state.last_started_at = state.last_started_at.replace(year=state.last_started_at.year - 1)
    state.save()
    tasks = web(OPERATOR).get("/health").json()["checks"]["periodic_tasks"]["tasks"]
    assert tasks["deltran.idempotency_prune"]["status"] == "late"


@pytest.mark.django_db
def test_live_and_ready(web):
    assert web().get("/health/live").json() == {"status": "ok"}
    ready = web().get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "failing": [], "migrations_pending": False}


@pytest.mark.django_db
def test_an_unwritable_broker_folder_is_a_503(web, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    missing = str(tmp_path / "gone")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": missing, "data_folder_out": missing}
    response = web().get("/health")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["status"] == "down"
    assert web().get("/health/ready").json()["failing"] == ["broker"]
    assert web().get("/health/live").status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_redis(port: int, workdir) -> subprocess.Popen:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            client.ping()
            return process
        except redis.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")


@pytest.mark.redis
@pytest.mark.django_db
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server on PATH (CI installs it)")
def test_health_is_503_while_redis_is_down_and_200_when_it_is_back(web, settings, tmp_path):
    # Its own Redis on a free port: the shared one on 6379 serves other tests.
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    settings.REDIS_URL = url
    settings.CELERY_BROKER_URL = url
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}
    }
    server = _start_redis(port, tmp_path)
    try:
        up = web().get("/health")
        assert up.status_code == 200, up.json()
        assert {name: up.json()["checks"][name]["status"] for name in ("redis", "broker", "channel_layer")} == {
            "redis": "ok",
            "broker": "ok",
            "channel_layer": "ok",
        }

        server.terminate()
        server.wait(timeout=10)
        down = web().get("/health")
        assert down.status_code == 503
        assert down.json()["status"] == "down"
        assert {name: down.json()["checks"][name]["status"] for name in ("database", "redis", "broker")} == {
            "database": "ok",
            "redis": "down",
            "broker": "down",
        }
        assert web().get("/health/ready").status_code == 503
        assert web().get("/health/live").status_code == 200

        server = _start_redis(port, tmp_path)
        back = web().get("/health")
        assert back.status_code == 200
        assert back.json()["checks"]["redis"]["status"] == "ok"
    finally:
        server.terminate()
        server.wait(timeout=10)
