"""Two-factor authentication: who needs a second factor, TOTP enrolment, backup codes, and the session gate.

Built on django-otp: a confirmed `TOTPDevice` is the authenticator app, a `StaticDevice`
holds the one-use backup codes. Roles in `settings.OTP_REQUIRED_ROLES` must enrol; any
user who has enrolled is asked for a code after the password, whatever the role.
"""

import math
from base64 import b32encode
from dataclasses import dataclass
from io import BytesIO

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from deltran.audit import audit_record
from deltran.errors import DomainError
from deltran.otp_gate import (  # re-exported: the policy and the session gate
    ENROLLED_SESSION_KEY,
    otp_enrolled,
    otp_required_by_role,
    safe_next,
    session_otp_complete,
    session_otp_pending,
    totp_device_of,
)

TOTP_DEVICE_NAME = "authenticator"
BACKUP_DEVICE_NAME = "backup codes"


class OTPError(DomainError):
    status_code = 401


class OTPRequired(OTPError):
    code = "otp_required"


class OTPInvalid(OTPError):
    code = "otp_invalid"


class OTPThrottled(OTPError):
    code = "otp_throttled"
    status_code = 429

    def __init__(self, message: str = "Too many wrong codes; wait a moment and try again.", *, details=None):
        super().__init__(message)
        locked_until = (details or {}).get("locked_until")
        wait = (locked_until - timezone.now()).total_seconds() if locked_until else 1
        self.retry_after = max(1, math.ceil(wait))


class OTPEnrolmentRequired(DomainError):
    code = "otp_enrolment_required"
    status_code = 403


# --- Services -----------------------------------------------------------------------


@transaction.atomic
def totp_device_start(*, user) -> TOTPDevice:
    """A fresh, unconfirmed TOTP device for the enrolment page; an earlier unconfirmed one is replaced."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device = TOTPDevice(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    device.full_clean()
    device.save()
    return device


def _new_backup_codes(*, user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.OTP_BACKUP_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@transaction.atomic
def totp_device_ensure(*, user, name: str = TOTP_DEVICE_NAME) -> tuple[TOTPDevice, bool]:
    """The user's confirmed authenticator, created (random key) if there is none: for users set up by a command,
    such as the demo logins, whose key is handed over out of band."""
    device = totp_device_of(user)
    if device is not None:
        return device, False
    device = TOTPDevice(user=user, name=name, confirmed=True)
    device.full_clean()
    device.save()
    return device, True


@dataclass(frozen=True)
class Enrolment:
    device: TOTPDevice
    backup_codes: list[str]


@transaction.atomic
def totp_device_confirm(*, user, token: str) -> Enrolment:
    """Confirm the pending device with its first code; earlier devices and backup codes are replaced."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        raise OTPInvalid("There is no enrolment in progress; start again.", code="otp_no_enrolment")
    allowed, details = device.verify_is_allowed()
    if not allowed:
        raise OTPThrottled(details=details)
    if not device.verify_token(_clean(token)):
        raise OTPInvalid("That code is not valid. Check the clock of your device and try again.")
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_backup_codes(user=user)
    audit_record(actor=user, action="otp.enrolled", object_type="auth.User", object_id=user.pk, payload={})
    return Enrolment(device=device, backup_codes=codes)


@transaction.atomic
def backup_codes_regenerate(*, user) -> list[str]:
    if not otp_enrolled(user):
        raise OTPEnrolmentRequired("Enrol an authenticator first.")
    codes = _new_backup_codes(user=user)
    audit_record(actor=user, action="otp.backup_codes_renewed", object_type="auth.User", object_id=user.pk, payload={})
    return codes


def _clean(token) -> str:
    return "".join(str(token).split()) if token is not None else ""


def otp_verify(*, user, token) -> TOTPDevice | StaticDevice:
    """The device that accepts the code: six digits go to the authenticator, anything else is tried as a
    backup code (used up by it). Each device throttles its own wrong codes (1 s, 2 s, 4 s … between tries)."""
    token = _clean(token)
    if not token:
        raise OTPRequired("A one-time code from your authenticator (or a backup code) is required.")
    model = TOTPDevice if token.isdigit() and len(token) in (6, 8) else StaticDevice
    with transaction.atomic():
        device = model.objects.select_for_update().filter(user=user, confirmed=True).order_by("-id").first()
        if device is None:
            raise OTPInvalid("That code is not valid.")
        allowed, details = device.verify_is_allowed()
        if not allowed:
            raise OTPThrottled(details=details)
        if device.verify_token(token):
            return device
    raise OTPInvalid("That code is not valid.")


def otp_totp_secret(device: TOTPDevice) -> str:
    """The key as the base32 text authenticator apps accept when typed in."""
    return b32encode(device.bin_key).decode().rstrip("=")


def otp_qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// address as an inline SVG QR code, drawn on the server (no script, no CDN)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg") :]


__all__ = [
    "ENROLLED_SESSION_KEY",
    "OTPEnrolmentRequired",
    "OTPInvalid",
    "OTPRequired",
    "OTPThrottled",
    "backup_codes_regenerate",
    "otp_enrolled",
    "otp_qr_svg",
    "otp_required_by_role",
    "otp_totp_secret",
    "otp_verify",
    "safe_next",
    "session_otp_complete",
    "session_otp_pending",
    "totp_device_confirm",
    "totp_device_ensure",
    "totp_device_of",
    "totp_device_start",
]
