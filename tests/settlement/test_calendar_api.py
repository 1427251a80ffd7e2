"""GET /api/v1/banks/{bic}/calendar: open intervals in UTC with local times, holidays, bad input."""

from datetime import date

import pytest

from settlement.models import ClearingWindow, Holiday

pytestmark = pytest.mark.django_db


def test_calendar_lists_open_intervals_and_holidays(scenario, viewer_client):
    response = viewer_client.get("/api/v1/banks/SBININBBXXX/calendar?from=2026-11-23&to=2026-11-30")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["timezone"] == "Asia/Kolkata"
    # Mon 23 to Sat 28 are working days, but Tue 24 is Guru Nanak's birthday: five intervals.
    assert len(body["intervals"]) == 5
    first = body["intervals"][0]
    assert first["opens_at"] == "2026-11-23T04:30:00Z"
    assert first["closes_at"] == "2026-11-23T12:30:00Z"
    assert first["opens_local"].startswith("2026-11-23T10:00:00+05:30")
    assert {"date": "2026-11-24", "name": "Guru Nanak's Birthday"} in body["holidays"]


def test_calendar_of_israel_follows_daylight_saving(scenario, viewer_client):
    body = viewer_client.get("/api/v1/banks/LUMIILIT/calendar?from=2026-10-20&to=2026-10-30").json()
    opens = [i["opens_at"] for i in body["intervals"]]
    assert "2026-10-22T06:00:00Z" in opens  # Thursday, summer time (UTC+3)
    assert "2026-10-26T07:00:00Z" in opens  # Monday, winter time (UTC+2)


def test_per_currency_windows_take_precedence(scenario, viewer_client):
    ClearingWindow.objects.create(bank_id=ClearingWindow.objects.get(bank__bic="HABBPKKKXXX").bank_id,
                                  currency_id="USD", opens_at="11:00", closes_at="13:00")
    body = viewer_client.get("/api/v1/banks/HABBPKKKXXX/calendar?from=2026-11-23&to=2026-11-24&currency=USD").json()
    assert [(i["opens_at"], i["closes_at"]) for i in body["intervals"]] == [("2026-11-23T06:00:00Z",
                                                                             "2026-11-23T08:00:00Z")]


def test_bank_specific_holiday_is_listed(scenario, viewer_client):
    Holiday.objects.create(bank=ClearingWindow.objects.get(bank__bic="ENBXAEADXXX").bank, date=date(2026, 11, 26),
                           name="Systems upgrade")
    body = viewer_client.get("/api/v1/banks/ENBXAEADXXX/calendar?from=2026-11-22&to=2026-11-28").json()
    assert {"date": "2026-11-26", "name": "Systems upgrade"} in body["holidays"]
    assert not any(i["opens_at"].startswith("2026-11-26") for i in body["intervals"])


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/banks/ZZZZZZZZXXX/calendar", 404),
        ("/api/v1/banks/SBININBBXXX/calendar?from=2026-13-01", 400),
        ("/api/v1/banks/SBININBBXXX/calendar?from=2026-11-10&to=2026-11-01", 400),
        ("/api/v1/banks/SBININBBXXX/calendar?from=2026-01-01&to=2026-12-31", 400),
    ],
)
def test_bad_calendar_requests(scenario, viewer_client, path, status):
    response = viewer_client.get(path)
    assert response.status_code == status
    assert set(response.json()) == {"code", "message", "fields"}
