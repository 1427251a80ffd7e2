"""The gate of the second factor: which users need one, and a session that owes it reaches nothing else.

Kept apart from deltran/otp.py (the services) because DRF imports the authentication class below while
deltran.errors is still loading.
"""

from django.conf import settings
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_session_login
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authentication import SessionAuthentication

from deltran.roles import user_roles

# Session key: whether the session's user has an authenticator, read once per session (saves a query per request).
ENROLLED_SESSION_KEY = "deltran_otp_enrolled"


# --- Policy ---------------------------------------------------------------------


def otp_required_by_role(user) -> bool:
    return bool(user_roles(user) & frozenset(settings.OTP_REQUIRED_ROLES))


def totp_device_of(user, *, confirmed: bool = True) -> TOTPDevice | None:
    if user is None or not user.is_authenticated:
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("-id").first()


def otp_enrolled(user) -> bool:
    return totp_device_of(user) is not None


# --- Session gate ------------------------------------------------------------------


def session_otp_pending(request) -> bool:
    """A session user who must give a second factor and has not given it yet."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    if getattr(user, "otp_device", None) is not None:
        return False
    return session_otp_enrolled(request) or otp_required_by_role(user)


def session_otp_enrolled(request) -> bool:
    """Whether the session's user has an authenticator: read once per session, then kept in it."""
    enrolled = request.session.get(ENROLLED_SESSION_KEY)
    if enrolled is None:
        enrolled = otp_enrolled(request.user)
        request.session[ENROLLED_SESSION_KEY] = enrolled
    return enrolled


def session_otp_complete(request, device) -> None:
    otp_session_login(request, device)
    request.session[ENROLLED_SESSION_KEY] = True
    request.session.cycle_key()


def safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


class OTPRequiredMiddleware:
    """After the password, a user who needs a second factor reaches only the enrolment or code page (and logout).

    Pages answer with a redirect there; the API refuses such a session (see VerifiedSessionAuthentication).
    Install after django_otp.middleware.OTPMiddleware.
    """

    OPEN_URL_NAMES = frozenset({"otp-verify", "otp-setup", "logout", "login"})

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if session_otp_pending(request) and not self._open(request):
            if request.path.startswith("/api/"):
                return self.get_response(request)
            target = "otp-verify" if session_otp_enrolled(request) else "otp-setup"
            return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    def _open(self, request) -> bool:
        static = settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/" + settings.STATIC_URL
        if request.path.startswith(static):
            return True
        try:
            return resolve(request.path_info).view_name in self.OPEN_URL_NAMES
        except Resolver404:
            return False


class VerifiedSessionAuthentication(SessionAuthentication):
    """DRF session authentication that ignores a session still waiting for its second factor."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and session_otp_pending(request._request):
            return None
        return result


def otp_context(request) -> dict:
    """Template context: a session owing its second factor is shown no navigation."""
    return {"otp_pending": session_otp_pending(request) if hasattr(request, "session") else False}


def stored_session_otp_pending(session, user) -> bool:
    """session_otp_pending for a session read outside a request: the WebSocket handshake, which has no
    OTPMiddleware. The session must name a confirmed device of this user, if the user needs one."""
    if user is None or not user.is_authenticated:
        return False
    device_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    device = Device.from_persistent_id(device_id) if device_id else None
    if device is not None and device.user_id == user.pk and device.confirmed:
        return False
    enrolled = session.get(ENROLLED_SESSION_KEY) if session is not None else None
    return bool(enrolled if enrolled is not None else otp_enrolled(user)) or otp_required_by_role(user)
