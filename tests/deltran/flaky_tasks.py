"""A task that fails a given number of times before it succeeds; the dead-letter tests load it into a real worker."""

from pathlib import Path

from celery import shared_task

from deltran.taskbase import DeltranTask, TransientError


@shared_task(name="tests.flaky", base=DeltranTask)
def flaky_task(counter_path: str, failures: int) -> int:
    counter = Path(counter_path)
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    if attempt <= failures:
        raise TransientError(f"attempt {attempt} of the flaky task fails")
    return attempt
