"""Run work in real threads released together, each on its own database connection (for PostgreSQL race tests)."""

import threading

from django.db import connections


def in_threads(count: int, work, *, expected: tuple[type[Exception], ...] = ()) -> list:
    """Run work(i) in ``count`` threads released by one barrier; return their results.

    An exception of an ``expected`` type counts as a result (its stable ``code``, if it has one); any other fails the
    calling test, listing them all.
    """
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def target(i):
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except expected as exc:
            results[i] = getattr(exc, "code", exc)
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return results
