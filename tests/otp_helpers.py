"""Test helpers for the second factor: enrol a user's authenticator, and compute the code an app would show.

Codes are real TOTP codes computed from the device's key (django_otp.oath), never a bypass of verification.
"""

import time
from unittest import mock

import pytest
from django.test.client import ClientMixin
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP, hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from deltran.otp import ENROLLED_SESSION_KEY, totp_device_of


def totp_enrol(user) -> TOTPDevice:
    """A confirmed authenticator for the user (random key), as the enrolment page leaves it."""
    TOTPDevice.objects.filter(user=user).delete()
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def otp_code(user_or_device) -> str:
    """The code the user's authenticator shows now, or the next step's when this step's was used already
    (a TOTP code is accepted once; the device tolerates one step of clock difference)."""
    device = user_or_device if isinstance(user_or_device, TOTPDevice) else totp_device_of(user_or_device)
    device.refresh_from_db()
    now = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).t()
    counter = max(now, device.last_t + 1)
    assert counter <= now + device.tolerance, "used every code this step allows"
    return f"{hotp(device.bin_key, counter, digits=device.digits):0{device.digits}d}"


def current_code(device: TOTPDevice, at: float | None = None) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() if at is None else at
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture(autouse=True, scope="session")
def _force_login_completes_the_second_factor():
    """Client.force_login skips the password; for a user with an authenticator it skips the code as well, as if
    the user had typed it. Tests of the code itself log in through the pages (tests/deltran/test_otp*.py)."""
    original = ClientMixin.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        device = totp_device_of(user)
        session = self.session
        session[ENROLLED_SESSION_KEY] = device is not None
        if device is not None:
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()

    with mock.patch.object(ClientMixin, "force_login", force_login):
        yield
