"""The two-factor pages in headless Chromium: a compliance officer enrols with the key shown on the page, keeps
the backup codes, then logs in again with a code; a wrong code is a readable error."""

import re
import time
from base64 import b32decode

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from deltran.roles import COMPLIANCE_OFFICER
from tests.browser.conftest import NARROW
from tests.browser.test_pages import page_problems
from tests.conftest import ROLE_USERS
from tests.otp_helpers import otp_code

pytestmark = pytest.mark.browser

OFFICER = ROLE_USERS[COMPLIANCE_OFFICER]


def code_from_key(secret: str) -> str:
    """What an authenticator app shows for the key typed in from the page."""
    key = b32decode(secret + "=" * (-len(secret) % 8))
    return f"{TOTP(key).token():06d}"


def password_step(page, next_path: str = "/compliance/") -> None:
    page.goto(next_path)
    page.get_by_label("Username").fill(OFFICER)
    page.get_by_label("Password").fill("pw-" + OFFICER)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()


def test_enrolment_backup_codes_and_the_code_at_the_next_login(page, users, screenshot, offsite_requests):
    TOTPDevice.objects.filter(user=users[COMPLIANCE_OFFICER]).delete()
    password_step(page)
    expect(page).to_have_url(re.compile(r"/account/two-factor/\?next=%2Fcompliance%2F$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor authentication")
    # The navigation is not offered while the second factor is owed.
    qr = page.get_by_role("figure", name="QR code of the authenticator key")
    expect(qr.locator("svg")).to_be_visible()
    box = qr.locator("svg").bounding_box()
    assert box["width"] > 150 and abs(box["width"] - box["height"]) < 2
    secret = page.locator("#otp-secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    screenshot(page, "otp-setup")

    page.get_by_label("Code from the app").fill(code_from_key(secret))
    with page.expect_navigation():
        page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status")).to_have_text("Two-factor authentication is set up.")
    codes = page.get_by_role("list", name="Backup codes").locator("code").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10
    screenshot(page, "otp-backup-codes")
    with page.expect_navigation():
        page.get_by_role("link", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/compliance/$"))
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()

    # Next login: the password, then the code; a wrong code first.
    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()
    password_step(page, "/payments/?currency=USD")
    expect(page).to_have_url(re.compile(r"/account/two-factor/verify/\?next="))
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    page.get_by_label("Code").fill("000000")
    with page.expect_navigation():
        page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_have_text("That code is not valid.")
    expect(page.get_by_label("Code")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "otp-verify-wrong-code")
    time.sleep(1.1)  # django-otp refuses any code for a second after a wrong one
    page.get_by_label("Code").fill(otp_code(users[COMPLIANCE_OFFICER]))
    with page.expect_navigation():
        page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/payments/\?currency=USD$"))
    assert offsite_requests == []


def test_the_verify_page_on_a_phone(page, users, screenshot):
    page.set_viewport_size(NARROW)
    password_step(page)
    expect(page).to_have_url(re.compile(r"/account/two-factor/verify/"))
    assert page_problems(page) == []
    screenshot(page, "otp-verify-narrow")
