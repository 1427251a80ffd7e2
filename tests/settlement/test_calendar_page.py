"""The clearing calendar page: roles, bars at their UTC positions, local times, holidays, closed days, now and next."""

from datetime import UTC, datetime, time
from decimal import Decimal

import lxml.html
import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from deltran.roles import ROLES, VIEWER
from settlement.choices import KycStatus, RiskRating
from settlement.models import Bank, ClearingWindow, Holiday
from settlement.selectors import participant_directory_clear
from settlement.services import bank_ensure

pytestmark = pytest.mark.django_db

HOURS = 14 * 24  # the chart's axis


def x_of(hours_from_start: float) -> str:
    """An instant's position on the 14-day axis, as the page writes it."""
    return f"{hours_from_start / HOURS * 100:.4f}%"


@pytest.fixture
def viewer(users) -> Client:
    client = Client()
    client.force_login(users[VIEWER])
    return client


def get_page(client: Client, query: str = ""):
    response = client.get("/calendar/" + query)
    assert response.status_code == 200, response.content[:500]
    return response, lxml.html.fromstring(response.content)


def lane(doc, bic: str):
    (found,) = doc.xpath(f'//svg[@id="calendar-chart"]//g[@data-bic="{bic}"]')
    return found


def rects(group, css_class: str) -> list[tuple[str, str, str]]:
    return [(r.get("x"), r.get("width"), r.findtext("title")) for r in group.xpath(f'.//rect[@class="{css_class}"]')]


def test_anonymous_visitor_is_sent_to_log_in(scenario):
    response = Client().get("/calendar/?from=2026-11-23")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/calendar/%3Ffrom%3D2026-11-23"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_calendar_and_the_menu_links_to_it(scenario, users, role):
    client = Client()
    client.force_login(users[role])
    response, doc = get_page(client)
    assert doc.xpath("//h1")[0].text_content() == "Clearing calendar"
    menu = doc.xpath('//nav[@aria-label="Main"]//a')
    assert {a.text_content(): a.get("href") for a in menu}.items() >= {
        "Calendar": "/calendar/",
        "FX rates": "/fx/",
    }.items()
    assert [a.get("aria-current") for a in menu if a.text_content() == "Calendar"] == ["page"]


def test_bars_sit_at_their_utc_hours_and_say_the_local_hours(scenario, viewer):
    # Mon 23 Nov 2026 00:00 UTC to Mon 7 Dec 00:00 UTC.
    _, doc = get_page(viewer, "?from=2026-11-23")
    sbi = rects(lane(doc, "SBININBBXXX"), "bar")
    # Mon 23 Nov 10:00-18:00 in Kolkata is 04:30-12:30 UTC: 4.5 hours into the axis, 8 hours wide.
    assert sbi[0] == (
        x_of(4.5),
        x_of(8),
        "State Bank of India: open Mon 23 Nov 10:00–18:00 IST (04:30–12:30 UTC)",
    )
    # Mon to Sat except Tue 24 Nov (a holiday), for two weeks: 5 + 6 openings.
    assert len(sbi) == 11
    assert not any("Tue 24 Nov" in title for _, _, title in sbi)
    assert (
        x_of(24 * 2 + 4.5),
        x_of(8),
        "State Bank of India: open Wed 25 Nov 10:00–18:00 IST (04:30–12:30 UTC)",
    ) in sbi

    # Dubai has no letter abbreviation: its offset is named instead. 08:00-16:00 +04 is 04:00-12:00 UTC.
    enbx = rects(lane(doc, "ENBXAEADXXX"), "bar")
    assert enbx[0] == (x_of(4), x_of(8), "Emirates National Bank: open Mon 23 Nov 08:00–16:00 UTC+04 (04:00–12:00 UTC)")
    # Jerusalem in winter (UTC+2): 09:00-17:00 IST is 07:00-15:00 UTC.
    lumi = rects(lane(doc, "LUMIILITXXX"), "bar")
    assert lumi[0] == (x_of(7), x_of(8), "Bank Leumi Israel: open Mon 23 Nov 09:00–17:00 IST (07:00–15:00 UTC)")


def test_holidays_are_hatched_named_and_listed(scenario, viewer):
    response, doc = get_page(viewer, "?from=2026-11-23")
    (holiday,) = [r for r in rects(lane(doc, "SBININBBXXX"), "holiday") if "Guru Nanak" in r[2]]
    # The local day Tue 24 Nov in Kolkata runs from Mon 23 Nov 18:30 UTC for 24 hours.
    assert holiday == (
        x_of(18.5),
        x_of(24),
        "State Bank of India: holiday, Guru Nanak's Birthday (Tue 24 Nov 2026, closed all day)",
    )
    (marker,) = doc.xpath('//g[@data-bic="SBININBBXXX"]//rect[@class="holiday"]')
    assert marker.get("fill") == "url(#hatch-holiday)"
    listed = [li.text_content().split() for li in doc.xpath('//ul[@id="holiday-list"]/li')]
    assert ["Tue", "24", "Nov", "2026", "Guru", "Nanak's", "Birthday", "State", "Bank", "of", "India", "(IN),"] in [
        words[:12] for words in listed
    ]


def test_a_bank_specific_holiday_is_marked_on_that_bank_only(scenario, viewer):
    Holiday.objects.create(bank=Bank.objects.get(bic="HABBPKKKXXX"), date="2026-11-26", name="Systems upgrade")
    _, doc = get_page(viewer, "?from=2026-11-23")
    assert any("Systems upgrade" in title for _, _, title in rects(lane(doc, "HABBPKKKXXX"), "holiday"))
    assert not any("Systems upgrade" in title for _, _, title in rects(lane(doc, "ENBXAEADXXX"), "holiday"))
    assert not any("Thu 26 Nov" in title for _, _, title in rects(lane(doc, "HABBPKKKXXX"), "bar"))


def test_days_off_are_drawn_closed_in_the_banks_own_day(scenario, viewer):
    _, doc = get_page(viewer, "?from=2026-11-23")
    closed = rects(lane(doc, "ENBXAEADXXX"), "closed-day")
    # Dubai works Sun-Thu: Fri 27 Nov is closed from its local midnight, Thu 26 Nov 20:00 UTC.
    assert (x_of(3 * 24 + 20), x_of(24), "Emirates National Bank: closed Fri 27 Nov (not a working day)") in closed
    titles = [title for _, _, title in closed]
    assert [t.split(": closed ")[1][:10] for t in titles] == ["Fri 27 Nov", "Sat 28 Nov", "Fri 4 Dec ", "Sat 5 Dec "]
    assert [t for _, _, t in rects(lane(doc, "SBININBBXXX"), "closed-day")] == [
        "State Bank of India: closed Sun 29 Nov (not a working day)",
        "State Bank of India: closed Sun 6 Dec (not a working day)",
    ]


def test_banks_table_shows_zone_days_open_now_and_next_opening(scenario, viewer):
    # Monday 23 Nov 06:00 UTC: Kolkata, Karachi and Dubai are open; Jerusalem opens at 07:00 UTC.
    with time_machine.travel(datetime(2026, 11, 23, 6, tzinfo=UTC), tick=False):
        _, doc = get_page(viewer)
    rows = {
        tr.get("data-bic"): {td.get("data-label"): " ".join(" ".join(td.itertext()).split()) for td in tr.xpath("td")}
        for tr in doc.xpath('//table[@id="bank-calendars"]/tbody/tr')
    }
    assert rows["SBININBBXXX"] == {
        "Bank": "State Bank of India SBININBBXXX",
        "Time zone": "Asia/Kolkata UTC+05:30, IST",
        "Working days": "Mon–Sat",
        "Hours (local)": "10:00–18:00",
        "Open now": "Yes until Mon 23 Nov 12:30 UTC (18:00 IST)",
        "Next opening": "Open now",
    }
    assert rows["ENBXAEADXXX"]["Working days"] == "Sun–Thu"
    assert rows["ENBXAEADXXX"]["Time zone"] == "Asia/Dubai UTC+04:00"
    assert rows["LUMIILITXXX"]["Open now"] == "No"
    assert rows["LUMIILITXXX"]["Next opening"] == "Mon 23 Nov 07:00 UTC (09:00 IST)"
    assert rows["HABBPKKKXXX"]["Working days"] == "Mon–Fri"


def test_the_range_defaults_to_today_and_shows_a_now_line(scenario, viewer):
    with time_machine.travel(datetime(2026, 11, 23, 6, tzinfo=UTC), tick=False):
        _, doc = get_page(viewer)
    (now_line,) = doc.xpath('//g[@class="now"]/line')
    assert now_line.get("x1") == x_of(6)
    assert "now Mon 06:00 UTC" in doc.xpath('//g[@class="now"]/text')[0].text_content()
    days = doc.xpath('//svg[@id="calendar-chart"]//text[contains(@class, "long")]/text()')
    assert days[:4] == ["Mon", "23 Nov", "Tue", "24 Nov"]
    # A range in the past has no "now".
    _, past = get_page(viewer, "?from=2026-10-01")
    assert past.xpath('//g[@class="now"]') == []


def test_currency_windows_take_precedence_when_a_currency_is_chosen(scenario, viewer):
    habb = Bank.objects.get(bic="HABBPKKKXXX")
    ClearingWindow.objects.create(bank=habb, currency_id="USD", opens_at="11:00", closes_at="13:00")
    _, doc = get_page(viewer, "?from=2026-11-23&currency=usd")
    # Karachi 11:00-13:00 PKT is 06:00-08:00 UTC.
    assert rects(lane(doc, "HABBPKKKXXX"), "bar")[0][:2] == (x_of(6), x_of(2))
    assert doc.xpath('//select[@id="id_currency"]/option[@selected]/@value') == ["USD"]
    assert "clearing windows for USD" in doc.xpath('//p[@id="calendar-range"]')[0].text_content()
    # Without the currency the bank's general window applies: 09:00-17:00 PKT is 04:00-12:00 UTC.
    _, general = get_page(viewer, "?from=2026-11-23")
    assert rects(lane(general, "HABBPKKKXXX"), "bar")[0][:2] == (x_of(4), x_of(8))


@pytest.mark.parametrize("query", ["?from=2026-13-40", "?from=1850-01-01", "?currency=QQQ"])
def test_bad_choices_are_reported_and_the_default_range_shown(scenario, viewer, query):
    with time_machine.travel(datetime(2026, 11, 23, 6, tzinfo=UTC), tick=False):
        _, doc = get_page(viewer, query)
    (alert,) = doc.xpath('//*[@role="alert"]')
    assert "not valid" in alert.text_content()
    assert doc.xpath('//svg[@id="calendar-chart"]//text[contains(@class, "long")]/text()')[:2] == ["Mon", "23 Nov"]


def test_inactive_banks_are_left_out(scenario, viewer):
    Bank.objects.filter(bic="HABBPKKKXXX").update(is_active=False)
    _, doc = get_page(viewer, "?from=2026-11-23")
    assert doc.xpath('//svg[@id="calendar-chart"]//g[@class="lane"]/@data-bic') == [
        "LUMIILITXXX",
        "ENBXAEADXXX",
        "SBININBBXXX",
    ]


def test_queries_do_not_grow_with_the_number_of_banks(scenario, viewer):
    def queries() -> int:
        participant_directory_clear()
        viewer.get("/calendar/?from=2026-11-23")  # warm the session and the directory
        with CaptureQueriesContext(connection) as captured:
            get_page(viewer, "?from=2026-11-23")
        return len(captured)

    four_banks = queries()
    for n, (country, zone) in enumerate([("GB", "Europe/London"), ("JP", "Asia/Tokyo")]):
        bank_ensure(
            bic=f"TEST{country}2{n}XXX",
            name=f"Test Bank {country}",
            country=country,
            timezone=zone,
            primary_currency="USD",
            secondary_currencies=[],
            daily_liquidity_limit_usd=Decimal("1000000"),
            risk_rating=RiskRating.LOW,
            kyc_status=KycStatus.VERIFIED,
            active_weekdays=[1, 2, 3, 4, 5],
            accounts={"USD": Decimal("1000")},
            clearing_window=(time(9), time(17)),
        )
    Holiday.objects.create(country="GB", date="2026-11-30", name="St Andrew's Day (test)")
    assert queries() == four_banks <= 4  # session, user, roles, holiday names
    _, doc = get_page(viewer, "?from=2026-11-23")
    assert len(doc.xpath('//svg[@id="calendar-chart"]//g[@class="lane"]')) == 6
    assert any("St Andrew" in t for _, _, t in rects(lane(doc, "TESTGB20XXX"), "holiday"))
