"""Request limits per API client and per user, and API clients' IP allow-lists: one DRF throttle.

Counting is a fixed one-minute window per caller: the caller's API client when it has one (its own limit), else
the user (RATE_LIMIT_PER_MINUTE), else the address of an anonymous caller (RATE_LIMIT_ANON_PER_MINUTE). One
counter increment per request in the `ratelimit` cache: on Redis one round trip (INCR; the window's first hit
also sets the expiry), so every web process and node shares the counts; in the embedded default a file cache
under var/ shared by the processes of `make run`.

The caller's address is REMOTE_ADDR, or with REST_FRAMEWORK["NUM_PROXIES"] (env TRUSTED_PROXIES) set, the entry
that many hops from the right of X-Forwarded-For: never a value the client alone chose.
"""

import logging
import math
import time

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework import exceptions, status
from rest_framework.throttling import BaseThrottle

from deltran.clients import api_client_policies

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


class IpNotAllowed(exceptions.APIException):
    # Not a DomainError: DRF imports this module while deltran.errors is still importing DRF. The exception
    # handler gives it the one error shape with its default_code.
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "ip_not_allowed"
    default_detail = "Requests for this API client are not accepted from this address."


def counter_hit(key: str, *, ttl: int) -> int:
    """Add one to the counter `key` (created with a lifetime of `ttl` seconds) and return its new value."""
    cache = caches[settings.RATE_LIMIT_CACHE]
    if isinstance(cache, RedisCache):
        # Django's RedisCache has no atomic create-or-increment (its incr() is two round trips), so INCR goes to
        # its redis-py client, reached through a private attribute and kept on the (per-thread) cache object.
        # One round trip; the first hit of a window adds the EXPIRE (a key left without one, if the process died
        # in between, is never counted again: the window is in the key). Ints are stored raw by Django's
        # serializer, so cache.get() reads the counter too.
        client = getattr(cache, "_deltran_counter_client", None)
        if client is None:
            client = cache._deltran_counter_client = cache._cache.get_client(write=True)
        full_key = cache.make_key(key)
        count = client.incr(full_key)
        if count == 1:
            client.expire(full_key, ttl)
        return int(count)
    if cache.add(key, 1, ttl):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, ttl)
        return 1


class ApiRateLimit(BaseThrottle):
    """The API's one throttle: an API client's allow-list (403 ip_not_allowed), then its or the user's rate."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request, view) -> bool:
        user = request.user
        authenticated = user is not None and user.is_authenticated
        address = self.get_ident(request)
        policy = api_client_policies().get(user.pk) if authenticated else None
        if policy is not None and not policy.allows(address):
            raise IpNotAllowed(f"Requests for API client {policy.name} are not accepted from {address}.")
        if not settings.RATE_LIMIT_ENABLED:
            return True
        if policy is not None:
            scope, limit = f"c{policy.client_id}", policy.rate_limit_per_minute
        elif authenticated:
            scope, limit = f"u{user.pk}", settings.RATE_LIMIT_PER_MINUTE
        else:
            scope, limit = f"a{address}", settings.RATE_LIMIT_ANON_PER_MINUTE
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        window_end = (window + 1) * WINDOW_SECONDS
        try:
            count = counter_hit(
                f"{settings.RATE_LIMIT_KEY_PREFIX}:{scope}:{window}", ttl=math.ceil(window_end - now) + 1
            )
        except Exception:
            # A cache outage must not take the API down with it: let the request through, and say so.
            logger.exception("rate limit counter unavailable; request allowed")
            return True
        if count > limit:
            self._wait = window_end - now
            return False
        return True

    def wait(self) -> float | None:
        # Retry-After is written as whole seconds, rounded down by DRF: round up so a retry is never early.
        return math.ceil(self._wait) if self._wait is not None else None
