"""Login brute-force protection (django-axes): the lockout answer, and the checks the JWT login makes itself.

The session and admin logins go through Django's authenticate(), where axes counts failures and refuses a
locked-out username + address pair; AxesMiddleware then calls `lockout_response`. The JWT login checks the
lock before it authenticates (simplejwt's own flow would answer a plain 401) and clears the count on success.
"""

from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.http import JsonResponse
from django.shortcuts import render

from deltran.errors import DomainError, error_body

LOCKED_MESSAGE = "Too many failed logins for this account from this address; try again later."


class LoginLocked(DomainError):
    code = "login_locked"
    status_code = 429

    def __init__(self, message: str = LOCKED_MESSAGE, *, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_seconds(request) -> int | None:
    cool_off = get_cool_off(request)
    return int(cool_off / timedelta(seconds=1)) if cool_off else None


def login_lock_check(request, *, username: str) -> None:
    """Raise LoginLocked when this username is locked out from this address."""
    if AxesProxyHandler.is_locked(request, {"username": username}):
        raise LoginLocked(retry_after=retry_after_seconds(request))


def login_succeeded(request, user) -> None:
    """What Django's login() signal does for a session login: the success is logged and the failures cleared."""
    AxesProxyHandler.user_logged_in(sender=type(request), request=request, user=user)


def lockout_response(request, original_response=None, credentials=None):
    retry_after = retry_after_seconds(request)
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body(LoginLocked.code, LOCKED_MESSAGE), status=LoginLocked.status_code)
    else:
        minutes = round(retry_after / 60) if retry_after else None
        response = render(request, "registration/locked.html", {"minutes": minutes}, status=LoginLocked.status_code)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response
