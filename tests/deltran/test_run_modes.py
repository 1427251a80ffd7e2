"""The two run modes from one settings module, and a real Celery worker on each mode's broker."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
CELERY = str(Path(PYTHON).with_name("celery"))


def settings_in(env: dict) -> dict:
    """Read the settings a fresh process gets with exactly this environment."""
    code = (
        "import json, django; from django.conf import settings as s; django.setup();"
        "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'broker': s.CELERY_BROKER_URL,"
        "'layer': s.CHANNEL_LAYERS['default']['BACKEND'], 'cache': s.CACHES['default']['BACKEND'],"
        "'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, 'secret': s.SECRET_KEY}))"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "ALLOWED_HOSTS", "SECRET_KEY"}
    }
    result = subprocess.run(
        [PYTHON, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "deltran.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_no_environment_means_the_embedded_mode(tmp_path):
    found = settings_in({"DELTRAN_VAR_DIR": str(tmp_path)})
    assert found["engine"] == "django.db.backends.sqlite3"
    assert found["broker"] == "filesystem://"
    assert found["layer"] == "channels.layers.InMemoryChannelLayer"
    assert found["cache"].endswith("LocMemCache")
    assert found["debug"] is False
    assert "localhost" in found["hosts"]
    assert (tmp_path / "celery" / "broker").is_dir()


def test_environment_selects_postgresql_and_redis(tmp_path):
    found = settings_in(
        {
            "DELTRAN_VAR_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/deltran",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "DEBUG": "true",
            "ALLOWED_HOSTS": "deltran.example,api.deltran.example",
            "SECRET_KEY": "from-the-environment",
        }
    )
    assert found["engine"] == "django.db.backends.postgresql"
    assert found["broker"] == "redis://127.0.0.1:6379/0"
    assert found["layer"] == "channels_redis.core.RedisChannelLayer"
    assert found["cache"].endswith("RedisCache")
    assert found["debug"] is True
    assert found["hosts"] == ["deltran.example", "api.deltran.example"]
    assert found["secret"] == "from-the-environment"


def run_task_through_a_real_worker(env: dict) -> None:
    """Migrate a fresh database, start `celery worker`, send a task through the broker, see its effect."""
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "deltran.settings", **env}
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=full_env, check=True)
    seed = (
        "import django; django.setup();"
        "from datetime import timedelta; from django.utils import timezone;"
        "from deltran.models import IdempotencyRecord as R;"
        "R.objects.all().delete();"
        "R.objects.create(scope='S', key='old', request_hash='h', response_status=201, response_body={},"
        " created_at=timezone.now() - timedelta(days=30));"
        "from deltran.tasks import idempotency_prune_task; idempotency_prune_task.delay()"
    )
    check = "import django; django.setup(); from deltran.models import IdempotencyRecord as R; print(R.objects.count())"
    subprocess.run([PYTHON, "-c", seed], cwd=ROOT, env=full_env, check=True)
    worker = subprocess.Popen(
        [
            CELERY,
            "--app",
            "deltran",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        remaining = None
        while time.monotonic() < deadline:
            remaining = subprocess.run(
                [PYTHON, "-c", check], cwd=ROOT, env=full_env, capture_output=True, text=True, check=True
            ).stdout.strip()
            if remaining == "0":
                break
            time.sleep(0.5)
        assert remaining == "0", "the worker did not run the task sent through the broker"
    finally:
        worker.terminate()
        worker.wait(timeout=20)


@pytest.mark.django_db
def test_a_worker_runs_tasks_from_the_embedded_filesystem_broker(tmp_path):
    env = {"DELTRAN_VAR_DIR": str(tmp_path)}
    for key in ("DATABASE_URL", "REDIS_URL"):
        env[key] = ""
    run_task_through_a_real_worker(env)


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db
def test_a_worker_runs_tasks_from_the_redis_broker(tmp_path):
    db_url = settings.DATABASES["default"]
    url = f"postgres://{db_url['USER']}@{db_url['HOST']}:{db_url['PORT']}/deltran_worker_test"
    subprocess.run(
        ["psql", "-h", db_url["HOST"], "-U", db_url["USER"], "-c", "DROP DATABASE IF EXISTS deltran_worker_test"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["psql", "-h", db_url["HOST"], "-U", db_url["USER"], "-c", "CREATE DATABASE deltran_worker_test"],
        check=True,
        capture_output=True,
    )
    run_task_through_a_real_worker(
        {"DELTRAN_VAR_DIR": str(tmp_path), "DATABASE_URL": url, "REDIS_URL": settings.REDIS_URL}
    )


@pytest.mark.redis
def test_redis_cache_and_channel_layer_round_trip():
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.core.cache import cache

    cache.set("deltran-test-key", {"n": 1}, 30)
    assert cache.get("deltran-test-key") == {"n": 1}
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("deltran.test", channel)
    async_to_sync(layer.group_send)("deltran.test", {"type": "ping", "n": 2})
    assert async_to_sync(layer.receive)(channel) == {"type": "ping", "n": 2}
