"""A request id on every response and every log line, and one access line per request.

The id comes from the request's X-Request-ID when it is well-formed (a proxy or the bank's integration set it, so
their logs and ours share it), else it is generated. It is answered in the X-Request-ID response header, kept in a
context variable while the request runs, and `RequestContextFilter` puts it, with the user, on every log record
(deltran/logging.py formats them, as JSON in production).
"""

import logging
import re
import time
import uuid
from contextvars import ContextVar

from django.utils.functional import SimpleLazyObject, empty

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"
# Ids from outside are taken as they are when they look like ids (a UUID, a proxy's hex id, ...); anything else
# (too short to be unique, too long, spaces, control characters) is replaced so it cannot forge log lines.
WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
NO_REQUEST = "-"

access_logger = logging.getLogger("deltran.access")

_current: ContextVar[tuple[str, object] | None] = ContextVar("deltran_request", default=None)


def request_id_from(meta: dict) -> str:
    offered = meta.get(META_KEY, "")
    if offered and WELL_FORMED.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


def current_request_id() -> str:
    state = _current.get()
    return state[0] if state else NO_REQUEST


def _username(request) -> str:
    """The user's name if the request already knows who it is; never loads the session just to log."""
    user = getattr(request, "user", None)
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return NO_REQUEST
    if not user.is_authenticated:
        return "anonymous"
    return user.get_username()


def current_username() -> str:
    state = _current.get()
    return _username(state[1]) if state else NO_REQUEST


class RequestContextFilter(logging.Filter):
    """Puts `request_id` and `user` on every record (a dash outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # django.request logs a 4xx/5xx after the middleware has returned, but hands over the request.
        request = getattr(record, "request", None)
        if not hasattr(record, "request_id"):
            record.request_id = getattr(request, "request_id", None) or current_request_id()
        if not hasattr(record, "user"):
            record.user = _username(request) if request is not None else current_username()
        return True


class RequestIdMiddleware:
    """First middleware: the id for the whole request, the response header, and the access line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        request_id = request_id_from(request.META)
        request.request_id = request_id
        token = _current.set((request_id, request))
        try:
            response = self.get_response(request)
            response[HEADER] = request_id
            if access_logger.isEnabledFor(logging.INFO):
                duration_ms = round((time.perf_counter() - started) * 1000, 2)
                access_logger.info(
                    "%s %s %s %.2fms",
                    request.method,
                    request.path,
                    response.status_code,
                    duration_ms,
                    extra={
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "duration_ms": duration_ms,
                    },
                )
            return response
        finally:
            _current.reset(token)
