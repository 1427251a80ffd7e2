"""Pages of the second factor: enrol an authenticator (QR code), give a code after the password, backup codes."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_static.models import StaticToken

from deltran.otp import (
    OTPError,
    OTPThrottled,
    backup_codes_regenerate,
    otp_enrolled,
    otp_qr_svg,
    otp_required_by_role,
    otp_totp_secret,
    otp_verify,
    safe_next,
    session_otp_complete,
    session_otp_pending,
    totp_device_confirm,
    totp_device_of,
    totp_device_start,
)


def _home() -> str:
    return reverse("payments:list")


def _to(url_name: str, target: str):
    return redirect(f"{reverse(url_name)}?{urlencode({'next': target})}")


@login_required
@require_http_methods(["GET", "POST"])
def otp_setup_page(request):
    """Enrol (or replace) the authenticator. A session still owing its code for an existing device may not."""
    user = request.user
    if session_otp_pending(request) and otp_enrolled(user):
        return _to("otp-verify", safe_next(request, _home()))
    error = None
    if request.method == "POST":
        try:
            enrolment = totp_device_confirm(user=user, token=request.POST.get("otp", ""))
        except OTPError as exc:
            error = exc
        else:
            session_otp_complete(request, enrolment.device)
            return render(
                request,
                "registration/otp_backup_codes.html",
                {"codes": enrolment.backup_codes, "next": safe_next(request, _home()), "just_enrolled": True},
            )
    device = totp_device_of(user, confirmed=False) or totp_device_start(user=user)
    return render(
        request,
        "registration/otp_setup.html",
        {
            "qr_svg": otp_qr_svg(device),
            "secret": otp_totp_secret(device),
            "error": error,
            "required": otp_required_by_role(user),
            "replacing": otp_enrolled(user),
            "next": safe_next(request, _home()),
        },
        status=429 if isinstance(error, OTPThrottled) else 400 if error else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def otp_verify_page(request):
    """The code after the password: from the authenticator, or one backup code."""
    user = request.user
    target = safe_next(request, _home())
    if not otp_enrolled(user):
        return _to("otp-setup", target)
    if not session_otp_pending(request):
        return redirect(target)
    error = None
    if request.method == "POST":
        try:
            device = otp_verify(user=user, token=request.POST.get("otp", ""))
        except OTPError as exc:
            error = exc
        else:
            session_otp_complete(request, device)
            return redirect(target)
    return render(
        request,
        "registration/otp_verify.html",
        {"error": error, "next": target},
        status=429 if isinstance(error, OTPThrottled) else 400 if error else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def otp_backup_codes_page(request):
    """How many backup codes are left; new ones (shown once, the old ones stop working)."""
    user = request.user
    if not otp_enrolled(user):
        return _to("otp-setup", request.get_full_path())
    if request.method == "POST":
        codes = backup_codes_regenerate(user=user)
        return render(request, "registration/otp_backup_codes.html", {"codes": codes, "next": _home()})
    left = StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
    return render(request, "registration/otp_backup_codes.html", {"codes": None, "left": left, "next": _home()})
