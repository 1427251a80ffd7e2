"""Per-process read caches for reference data that changes rarely and is read on every payment.

Each cached function keeps its result for REFERENCE_DATA_TTL_SECONDS; saving the underlying rows clears this
process's copy at once (the app wires post_save/post_delete to `.clear`), and other processes see the change
within the TTL.
"""

import threading
import time
from collections.abc import Callable
from functools import wraps

from django.conf import settings


def reference_cache(func: Callable[[], object]) -> Callable[[], object]:
    state: dict[str, object] = {}
    lock = threading.Lock()

    @wraps(func)
    def cached():
        ttl = getattr(settings, "REFERENCE_DATA_TTL_SECONDS", 5)
        now = time.monotonic()
        entry = state.get("entry")
        if entry is not None and now - entry[0] < ttl:
            return entry[1]
        with lock:
            value = func()
            state["entry"] = (now, value)
        return value

    def clear(**kwargs) -> None:
        state.clear()

    cached.clear = clear
    return cached
