"""Two-factor authentication: enrolment with a QR code, the code after the password, backup codes, the roles
that must enrol, the JWT login's `otp` field, and the admin site for the Admin role only."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from deltran.models import AuditEntry
from deltran.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, OPERATOR, VIEWER
from tests.conftest import ROLE_USERS
from tests.otp_helpers import otp_code, totp_enrol

pytestmark = pytest.mark.django_db


def page_login(client, role: str, follow: bool = False):
    name = ROLE_USERS[role]
    return client.post("/login/", {"username": name, "password": "pw-" + name}, follow=follow)


def jwt_login(role: str, **extra):
    name = ROLE_USERS[role]
    return APIClient().post("/api/v1/auth/login", {"username": name, "password": "pw-" + name, **extra}, format="json")


def code_of_pending_device(user) -> str:
    return otp_code(TOTPDevice.objects.get(user=user, confirmed=False))


def later(seconds: float):
    """Past django-otp's throttle after a wrong code (1 s, then 2 s, 4 s …)."""
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=True)


# --- Session login ------------------------------------------------------------------------


def test_a_role_that_requires_2fa_without_a_device_can_reach_only_the_enrolment_page(client, users):
    TOTPDevice.objects.filter(user=users[COMPLIANCE_OFFICER]).delete()
    assert page_login(client, COMPLIANCE_OFFICER)["Location"] == "/payments/"

    for path in ("/payments/", "/compliance/", "/netting/", "/admin/", "/account/two-factor/verify/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/account/two-factor/?next="), path
    # The API does not take the half-logged-in session either.
    api = client.get("/api/v1/compliance/cases")
    assert api.status_code in (401, 403)
    assert api.json()["code"] == "not_authenticated"
    assert client.get("/account/two-factor/backup-codes/").status_code == 302

    setup = client.get("/account/two-factor/?next=/compliance/")
    assert setup.status_code == 200
    body = setup.content.decode()
    assert "<svg" in body and 'id="otp-secret"' in body
    assert "Your role requires a second factor" in body


def test_enrolment_confirms_with_a_first_code_and_shows_ten_backup_codes_once(client, users):
    officer = users[COMPLIANCE_OFFICER]
    TOTPDevice.objects.filter(user=officer).delete()
    page_login(client, COMPLIANCE_OFFICER)
    client.get("/account/two-factor/")
    device = TOTPDevice.objects.get(user=officer, confirmed=False)
    # The page's key is the device's key, in the base32 an authenticator app takes.
    assert client.get("/account/two-factor/").context["secret"].replace("=", "") in device.config_url

    wrong = client.post(
        "/account/two-factor/", {"otp": "000000" if code_of_pending_device(officer) != "000000" else "1"}
    )
    assert wrong.status_code == 400
    assert wrong.context["error"].code == "otp_invalid"
    assert not TOTPDevice.objects.filter(user=officer, confirmed=True).exists()

    with later(2):
        done = client.post("/account/two-factor/", {"otp": code_of_pending_device(officer), "next": "/compliance/"})
        assert done.status_code == 200
        codes = done.context["codes"]
        assert len(codes) == 10 and len(set(codes)) == 10
        assert all(code in done.content.decode() for code in codes)
        assert TOTPDevice.objects.get(user=officer).confirmed
        assert AuditEntry.objects.filter(action="otp.enrolled", actor=officer).count() == 1
        # Verified by the enrolment: the work pages open now.
        assert client.get("/compliance/").status_code == 200
        # Shown once: the codes page only counts them afterwards.
        listing = client.get("/account/two-factor/backup-codes/")
        assert listing.context["left"] == 10
        assert not any(code in listing.content.decode() for code in codes)


def test_a_user_with_a_device_gives_the_code_after_the_password(client, users):
    admin = users[ADMIN]
    response = page_login(client, ADMIN)
    assert client.get("/payments/?status=queued")["Location"] == (
        "/account/two-factor/verify/?next=%2Fpayments%2F%3Fstatus%3Dqueued"
    )
    # Owing the code for an existing device, the session may not enrol a new one instead.
    assert client.get("/account/two-factor/")["Location"].startswith("/account/two-factor/verify/")

    wrong = client.post("/account/two-factor/verify/", {"otp": "12345"})
    assert wrong.status_code == 400 and wrong.context["error"].code == "otp_invalid"
    with later(2):
        response = client.post(
            "/account/two-factor/verify/", {"otp": otp_code(admin), "next": "/payments/?status=queued"}
        )
        assert response.status_code == 302 and response["Location"] == "/payments/?status=queued"
        assert client.get("/payments/").status_code == 200
        assert client.get("/admin/").status_code == 200
        # An address elsewhere is not followed.
        assert client.get("/account/two-factor/verify/?next=https://evil.example/").status_code == 302


def test_the_same_code_is_not_accepted_twice(client, users):
    admin = users[ADMIN]
    code = otp_code(admin)
    page_login(client, ADMIN)
    assert client.post("/account/two-factor/verify/", {"otp": code}).status_code == 302
    other = client_class_login(ADMIN)
    replay = other.post("/account/two-factor/verify/", {"otp": code})
    assert replay.status_code == 400 and replay.context["error"].code == "otp_invalid"


def client_class_login(role):
    fresh = Client()
    page_login(fresh, role)
    return fresh


def test_wrong_codes_are_throttled(client, users):
    admin = users[ADMIN]
    page_login(client, ADMIN)
    assert client.post("/account/two-factor/verify/", {"otp": "000001"}).status_code == 400
    throttled = client.post("/account/two-factor/verify/", {"otp": otp_code(admin)})
    assert throttled.status_code == 429 and throttled.context["error"].code == "otp_throttled"
    with later(2):
        assert client.post("/account/two-factor/verify/", {"otp": otp_code(admin)}).status_code == 302


def test_a_backup_code_works_once_and_new_codes_replace_the_old(client, users):
    officer = users[COMPLIANCE_OFFICER]
    client.force_login(officer)
    codes = client.post("/account/two-factor/backup-codes/").context["codes"]
    assert len(codes) == 10
    client.post("/logout/")

    page_login(client, COMPLIANCE_OFFICER)
    assert client.post("/account/two-factor/verify/", {"otp": codes[0]}).status_code == 302
    assert client.get("/compliance/").status_code == 200
    client.post("/logout/")

    page_login(client, COMPLIANCE_OFFICER)
    used = client.post("/account/two-factor/verify/", {"otp": codes[0]})
    assert used.status_code == 400
    with later(2):
        assert client.post("/account/two-factor/verify/", {"otp": codes[1]}).status_code == 302
        renewed = client.post("/account/two-factor/backup-codes/").context["codes"]
        assert StaticToken.objects.filter(device__user=officer).count() == 10
        assert not set(renewed) & set(codes)


def test_the_required_roles_are_a_setting(client, users, settings):
    settings.OTP_REQUIRED_ROLES = [VIEWER]
    TOTPDevice.objects.filter(user=users[ADMIN]).delete()
    page_login(client, VIEWER)
    assert client.get("/payments/")["Location"].startswith("/account/two-factor/?")
    client.post("/logout/")
    # Admin is no longer required to enrol; without a device it goes straight in.
    page_login(client, ADMIN)
    assert client.get("/payments/").status_code == 200


def test_an_operator_who_enrolled_is_asked_too(client, users):
    totp_enrol(users[OPERATOR])
    page_login(client, OPERATOR)
    assert client.get("/payments/")["Location"].startswith("/account/two-factor/verify/")


# --- JWT login -------------------------------------------------------------------------------


def test_jwt_login_asks_for_the_code_when_the_user_has_a_device(users):
    admin = users[ADMIN]
    missing = jwt_login(ADMIN)
    assert missing.status_code == 401
    assert missing.json() == {
        "code": "otp_required",
        "message": "A one-time code from your authenticator (or a backup code) is required.",
        "fields": {},
    }
    wrong = jwt_login(ADMIN, otp="000000" if otp_code(admin) != "000000" else "111111")
    assert wrong.status_code == 401 and wrong.json()["code"] == "otp_invalid"
    with later(2):
        ok = jwt_login(ADMIN, otp=otp_code(admin))
        assert ok.status_code == 200, ok.content
        assert ok.json()["user"]["role"] == ADMIN
        # A wrong password is refused before any code is looked at.
        bad = APIClient().post(
            "/api/v1/auth/login", {"username": "t_admin", "password": "nope", "otp": otp_code(admin)}, format="json"
        )
        assert bad.status_code == 401 and bad.json()["code"] == "authentication_failed"


def test_jwt_login_refuses_a_role_that_must_enrol_but_has_not(users):
    TOTPDevice.objects.filter(user=users[COMPLIANCE_OFFICER]).delete()
    response = jwt_login(COMPLIANCE_OFFICER)
    assert response.status_code == 403
    assert response.json()["code"] == "otp_enrolment_required"
    # Roles without the requirement and without a device log in with the password alone.
    assert jwt_login(AUDITOR).status_code == 200


def test_jwt_login_takes_a_backup_code_once(client, users):
    officer = users[COMPLIANCE_OFFICER]
    client.force_login(officer)
    code = client.post("/account/two-factor/backup-codes/").context["codes"][3]
    assert jwt_login(COMPLIANCE_OFFICER, otp=code).status_code == 200
    again = jwt_login(COMPLIANCE_OFFICER, otp=code)
    assert again.status_code == 401 and again.json()["code"] == "otp_invalid"


def test_jwt_login_throttles_wrong_codes_with_retry_after(users):
    admin = users[ADMIN]
    assert jwt_login(ADMIN, otp="000001").status_code == 401
    throttled = jwt_login(ADMIN, otp=otp_code(admin))
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "otp_throttled"
    assert 1 <= int(throttled["Retry-After"]) <= 2


# --- Admin site -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [OPERATOR, COMPLIANCE_OFFICER, AUDITOR, VIEWER])
def test_the_admin_site_is_for_the_admin_role_only(client, users, role):
    user = users[role]
    # Even with staff status, only the Admin role gets in.
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client.force_login(user)
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    assert client.get("/admin/auth/user/")["Location"].startswith("/admin/login/")


def test_a_staff_admin_gets_the_admin_site_and_a_staff_user_losing_the_role_does_not(client, users):
    admin = users[ADMIN]
    client.force_login(admin)
    assert client.get("/admin/auth/user/").status_code == 200
    admin.is_superuser = False
    admin.save(update_fields=["is_superuser"])
    admin.groups.set([Group.objects.get(name=VIEWER)])
    client.force_login(admin)
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
