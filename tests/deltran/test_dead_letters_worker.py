"""A real Celery worker: a task failing transiently is retried with backoff, lands in the dead-letter table when
its retries are spent, and succeeds when an operator re-enqueues it from there."""

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
CELERY = str(Path(PYTHON).with_name("celery"))


def run_python(code: str, env: dict) -> str:
    result = subprocess.run(
        [PYTHON, "-c", "import django; django.setup();" + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def dead_letters(database: Path) -> list:
    """Read the worker's SQLite file directly: cheaper than a Django process per poll."""
    with sqlite3.connect(database) as db:
        return [
            list(row)
            for row in db.execute(
                "SELECT task_name, status, attempts, exception_type, operator_retries"
                " FROM deltran_deadletter ORDER BY id"
            )
        ]


def wait_for_dead_letters(database: Path, expected: list, *, seconds: float = 60) -> list:
    seen = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen = dead_letters(database)
        if seen == expected:
            return seen
        time.sleep(0.2)
    return seen


def start_worker(env: dict, log_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            CELERY,
            "--app",
            "deltran",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--include",
            "tests.deltran.flaky_tasks",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.django_db
def test_a_task_failing_past_its_retries_is_dead_lettered_and_succeeds_when_retried(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "deltran.settings",
        "DELTRAN_VAR_DIR": str(tmp_path),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "TASK_RETRY_MAX": "2",
        "TASK_RETRY_BACKOFF_SECONDS": "1",
    }
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    counter = tmp_path / "attempts"
    database = tmp_path / "deltran.sqlite3"
    run_python(
        f"from deltran.celery import app; app.send_task('tests.flaky', args=[{str(counter)!r}, 3])",
        env,
    )
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        # One run and two retries, each failing: three attempts, then the dead letter.
        dead = wait_for_dead_letters(database, [["tests.flaky", "dead", 3, "TransientError", 0]])
        assert dead == [["tests.flaky", "dead", 3, "TransientError", 0]], log.read_text()[-3000:]
        assert counter.read_text() == "3"

        run_python(
            "import tests.deltran.flaky_tasks;"
            "from deltran.models import DeadLetter as D; from deltran.deadletters import dead_letter_retry;"
            "dead_letter_retry(dead_letter_id=D.objects.get().pk, actor=None)",
            env,
        )
        resolved = wait_for_dead_letters(database, [["tests.flaky", "resolved", 3, "TransientError", 1]])
        assert resolved == [["tests.flaky", "resolved", 3, "TransientError", 1]], log.read_text()[-3000:]
        assert counter.read_text() == "4"
        actions = run_python(
            "from deltran.models import AuditEntry as A;"
            "print(','.join(A.objects.filter(object_type='dead_letter').values_list('action', flat=True)))",
            env,
        )
        assert actions == "dead_letter.recorded,dead_letter.retried,dead_letter.resolved"
    finally:
        worker.terminate()
        worker.wait(timeout=20)
