"""The netting pages: roles, "Run netting now" and its outcomes, a cycle's positions, chart, instructions and
postings, query counts; and the read-only settlement admin."""

import csv
import io
import re
from decimal import Decimal
from unittest import mock

import lxml.html
import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from deltran.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, OPERATOR, ROLES, VIEWER
from payments.choices import PaymentStatus
from payments.models import Payment
from settlement import views
from settlement.choices import CycleStatus, CycleTrigger
from settlement.models import LedgerPosting, NettingCycle
from settlement.services import netting_cycle_run
from tests.settlement.factories import ENBX, LUMI, SBIN, minutes, pay

pytestmark = pytest.mark.django_db

D = Decimal


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator(users):
    return client_for(users[OPERATOR])


@pytest.fixture
def due(scenario, users):
    """Three USD payments among three banks and one AED → INR payment through the pool, all due at minutes(5)."""
    actor = users[OPERATOR]
    return [
        pay(actor, amount="1000.00"),
        pay(actor, sender_bic=SBIN, receiver_bic=ENBX, amount="600.00"),
        pay(actor, sender_bic=LUMI, receiver_bic=ENBX, amount="300.00"),
        pay(actor, currency="AED", amount="3672.50", settlement_currency="INR"),
    ]


def get_doc(client: Client, url: str):
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return lxml.html.fromstring(response.content)


def run_from_page(client: Client, at=None):
    with time_machine.travel(at or minutes(5), tick=False):
        return client.post("/netting/run/", follow=True)


def messages_of(response) -> list[tuple[str, str]]:
    doc = lxml.html.fromstring(response.content)
    return [(li.get("class"), li.text_content()) for li in doc.xpath('//ul[@class="messages"]/li')]


def text(node) -> str:
    return " ".join(node.text_content().split())


# --- Roles -------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/netting/", "/netting/1/"])
def test_anonymous_visitor_is_sent_to_log_in(scenario, url):
    response = Client().get(url)
    assert response.status_code == 302 and response["Location"] == f"/login/?next={url}"


def test_anonymous_run_is_sent_to_log_in_and_runs_nothing(due):
    with time_machine.travel(minutes(5), tick=False):
        response = Client().post("/netting/run/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not NettingCycle.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_cycles_and_only_admin_and_operator_may_run(scenario, users, role):
    doc = get_doc(client_for(users[role]), "/netting/")
    assert text(doc.xpath("//h1")[0]) == "Netting cycles"
    menu = doc.xpath('//nav[@aria-label="Main"]//a')
    assert [(a.text_content(), a.get("aria-current")) for a in menu if a.get("href") == "/netting/"] == [
        ("Netting", "page")
    ]
    assert [a.get("aria-current") for a in menu if a.text_content() == "Calendar"] == [None]
    buttons = [text(b) for b in doc.xpath("//button")]
    assert ("Run netting now" in buttons) == (role in {ADMIN, OPERATOR})
    assert text(doc.xpath('//table[@id="cycles"]//td[@class="empty"]')[0]) == "No netting cycle has run yet."


@pytest.mark.parametrize("role", [COMPLIANCE_OFFICER, AUDITOR, VIEWER])
def test_other_roles_may_not_run_a_cycle(due, users, role):
    with time_machine.travel(minutes(5), tick=False):
        response = client_for(users[role]).post("/netting/run/")
    assert response.status_code == 403
    assert not NettingCycle.objects.exists()


def test_running_needs_a_post(due, operator):
    assert operator.get("/netting/run/").status_code == 405
    assert not NettingCycle.objects.exists()


def test_the_run_form_carries_a_csrf_token(scenario, users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users[OPERATOR])
    doc = get_doc(client, "/netting/")
    (form,) = doc.xpath('//form[@action="/netting/run/"]')
    assert form.get("method") == "post" and form.xpath('.//input[@name="csrfmiddlewaretoken"]')
    assert client.post("/netting/run/").status_code == 403  # no token


# --- Running from the page -----------------------------------------------------------------------


@pytest.mark.parametrize("role", [ADMIN, OPERATOR])
def test_a_run_from_the_page_settles_the_due_payments(due, users, role):
    response = run_from_page(client_for(users[role]))
    assert response.redirect_chain == [("/netting/", 302)]
    cycle = NettingCycle.objects.get()
    assert cycle.status == CycleStatus.SETTLED
    assert (cycle.trigger, cycle.run_by) == (CycleTrigger.OPERATOR, users[role].username)
    assert set(Payment.objects.values_list("status", flat=True)) == {PaymentStatus.SETTLED}
    ((level, message),) = messages_of(response)
    assert level == "success"
    assert message.startswith(f"Netting cycle {cycle.pk} settled 4 payments (5 obligations): gross ")
    assert f"netting efficiency {views.percent_label(cycle.efficiency)}." in message

    doc = lxml.html.fromstring(response.content)
    (row,) = doc.xpath('//table[@id="cycles"]/tbody/tr')
    assert row.get("data-status") == "settled"
    assert row.xpath(".//a")[0].get("href") == f"/netting/{cycle.pk}/"
    assert text(row.xpath('.//td[contains(@class, "gross")]')[0]) == f"{cycle.gross_usd:,.2f}"
    assert text(row.xpath('.//td[contains(@class, "efficiency")]')[0]) == views.percent_label(cycle.efficiency)


def test_nothing_due_says_so_and_records_no_cycle(scenario, operator):
    response = run_from_page(operator)
    assert messages_of(response) == [
        ("info", "Nothing is due: no obligation waits for settlement, so no cycle was run.")
    ]
    assert not NettingCycle.objects.exists()


def test_a_failed_run_shows_its_reason(due, operator):
    with mock.patch.object(LedgerPosting.objects, "bulk_create", side_effect=RuntimeError("disk full")):
        response = run_from_page(operator)
    cycle = NettingCycle.objects.get()
    assert cycle.status == CycleStatus.FAILED
    ((level, message),) = messages_of(response)
    assert level == "error"
    assert message.startswith(f"Netting cycle {cycle.pk} failed: RuntimeError: disk full.")
    doc = lxml.html.fromstring(response.content)
    assert "RuntimeError: disk full" in text(doc.xpath('//table[@id="cycles"]//td[contains(@class, "notes")]')[0])
    cycle_doc = get_doc(operator, f"/netting/{cycle.pk}/")
    assert "RuntimeError: disk full" in text(cycle_doc.xpath('//*[@id="failure-reason"]')[0])
    assert set(Payment.objects.values_list("status", flat=True)) == {PaymentStatus.QUEUED}


def test_the_status_filter_lists_only_that_status(due, operator):
    with mock.patch.object(LedgerPosting.objects, "bulk_create", side_effect=RuntimeError("disk full")):
        run_from_page(operator)
    run_from_page(operator, at=minutes(6))
    doc = get_doc(operator, "/netting/?status=failed")
    assert [r.get("data-status") for r in doc.xpath('//table[@id="cycles"]/tbody/tr')] == ["failed"]
    doc = get_doc(operator, "/netting/")
    assert [r.get("data-status") for r in doc.xpath('//table[@id="cycles"]/tbody/tr')] == ["settled", "failed"]
    doc = get_doc(operator, "/netting/?status=nonsense")
    assert doc.xpath('//*[@id="filter-errors"]')


# --- A cycle's page ------------------------------------------------------------------------------


def test_the_cycle_page_shows_positions_summing_to_zero_chart_instructions_and_postings(due, operator):
    run_from_page(operator)
    cycle = NettingCycle.objects.get()
    doc = get_doc(operator, f"/netting/{cycle.pk}/")
    assert text(doc.xpath("//h1")[0]) == f"Netting cycle {cycle.pk}"
    assert text(doc.xpath('//*[@id="cycle-status"]')[0]) == "Settled"

    # Positions: one tbody per currency; the signed amounts add up to zero and the total row says so.
    groups = doc.xpath('//table[@id="positions"]/tbody')
    assert [g.get("data-currency") for g in groups] == ["AED", "INR", "USD"]
    for group in groups:
        amounts = [
            D(text(td).replace(",", "").replace("−", "-").replace("+", ""))
            for td in group.xpath('.//td[contains(@class, "position") and not(contains(@class, "total"))]')
        ]
        assert amounts and sum(amounts) == 0, group.get("data-currency")
        assert text(group.xpath('.//td[contains(@class, "position-total")]')[0]) in {"0.00", "0"}
    usd = {
        text(tr.xpath('.//span[@class="bic"]')[0]): text(tr.xpath('.//td[contains(@class, "position")]')[0])
        for tr in doc.xpath('//table[@id="positions"]/tbody[@data-currency="USD"]/tr[not(@class="total")]')
    }
    # ENBX -1000 +600 +300 = -100; SBIN +1000 -600 = +400; LUMI -300.
    assert usd == {ENBX: "−100.00", LUMI: "−300.00", SBIN: "+400.00"}

    # The chart: per currency, gross at full width, bilateral and multilateral net as shares of it.
    (usd_chart,) = doc.xpath('//article[@data-currency="USD"]//svg')
    assert usd_chart.get("role") == "img"
    bars = {r.get("class").split()[1]: r.get("width") for r in usd_chart.xpath('.//rect[starts-with(@class, "bar ")]')}
    # Gross 1,900; bilateral net |1000-600| + 300 = 700; multilateral net 400.
    assert bars == {
        "gross": "100.0000%",
        "bilateral": f"{700 / 1900 * 100:.4f}%",
        "multilateral": f"{400 / 1900 * 100:.4f}%",
    }
    assert "USD: gross 1,900.00 USD, bilateral net 700.00 USD" in usd_chart.findtext("title")

    # Instructions: who pays whom how much.
    rows = doc.xpath('//table[@id="instructions"]/tbody/tr')
    instructions = {
        (text(r.xpath('.//td[@class="payer"]//span')[0]), text(r.xpath('.//td[@class="payee"]//span')[0])): text(
            r.xpath('.//td[contains(@class, "amount")]')[0]
        )
        for r in rows
        if r.get("data-currency") == "USD"
    }
    assert sum(D(v.split()[0].replace(",", "")) for v in instructions.values()) == D("400.00")
    assert all(payee == SBIN for _, payee in instructions)
    assert len(rows) == cycle.instructions.count()

    # Postings, all of them (fewer than the cap), and the CSV exports this page links to.
    assert len(doc.xpath('//table[@id="postings"]/tbody/tr')) == cycle.postings.count()
    positions_csv = doc.xpath('//a[@id="export-positions"]')[0].get("href")
    instructions_csv = doc.xpath('//a[@id="export-instructions"]')[0].get("href")
    assert positions_csv == f"/api/v1/export/netting/cycles/{cycle.pk}/positions"
    response = operator.get(positions_csv)
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    exported = list(csv.reader(io.StringIO(body)))
    assert exported[0] == ["Cycle", "Participant", "Currency", "Net Position"]
    assert len(exported) - 1 == cycle.positions.count()
    assert operator.get(instructions_csv).status_code == 200


def test_postings_beyond_the_cap_are_left_out_with_a_note(due, operator, monkeypatch):
    run_from_page(operator)
    cycle = NettingCycle.objects.get()
    total = cycle.postings.count()
    monkeypatch.setattr(views, "POSTINGS_SHOWN", 3)
    doc = get_doc(operator, f"/netting/{cycle.pk}/")
    assert len(doc.xpath('//table[@id="postings"]/tbody/tr')) == 3
    assert text(doc.xpath('//*[@id="postings-note"]')[0]).startswith(f"The first 3 of {total} postings")


def test_an_unknown_cycle_is_not_found(scenario, operator):
    assert operator.get("/netting/999/").status_code == 404


def test_query_counts_do_not_grow_with_cycles_or_positions(due, operator, users):
    run_from_page(operator)
    cycle = NettingCycle.objects.get()
    for n in range(30):
        NettingCycle.objects.create(
            status=CycleStatus.FAILED,
            trigger=CycleTrigger.BEAT,
            run_by="Celery beat",
            started_at=minutes(-n - 10),
            failure_reason="test",
        )
    operator.get("/netting/")  # warm the participant directory
    with CaptureQueriesContext(connection) as listed:
        get_doc(operator, "/netting/")
    with CaptureQueriesContext(connection) as shown:
        get_doc(operator, f"/netting/{cycle.pk}/")
    # Session, user, roles; count and one page of cycles.
    assert len(listed) <= 6, [q["sql"] for q in listed]
    # Session, user, roles; cycle, positions, instructions, postings (and their count only past the cap).
    assert len(shown) <= 8, [q["sql"] for q in shown]


def test_a_cycle_run_through_the_service_shows_on_the_page_like_one_from_the_page(due, operator):
    with time_machine.travel(minutes(5), tick=False):
        cycle = netting_cycle_run(trigger=CycleTrigger.BEAT)
    doc = get_doc(operator, "/netting/")
    (row,) = doc.xpath('//table[@id="cycles"]/tbody/tr')
    assert re.search(r"Celery beat", text(row))
    assert row.get("data-cycle") == str(cycle.pk)


# --- Admin: read-only ----------------------------------------------------------------------------


def test_the_settlement_admin_shows_records_and_changes_nothing(due, users, operator):
    run_from_page(operator)
    cycle = NettingCycle.objects.get()
    admin = client_for(users[ADMIN])
    for url in [
        "/admin/settlement/nettingcycle/",
        f"/admin/settlement/nettingcycle/{cycle.pk}/change/",
        "/admin/settlement/obligation/",
        "/admin/settlement/obligation/?status__exact=settled&currency__code__exact=USD&leg__exact=direct",
        "/admin/settlement/bankposition/",
        "/admin/settlement/ledgerposting/",
        "/admin/settlement/bank/",
        "/admin/settlement/holiday/",
    ]:
        assert admin.get(url).status_code == 200, url
    page = admin.get(f"/admin/settlement/nettingcycle/{cycle.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert ENBX in page  # the positions inline
    for model in ["nettingcycle", "obligation", "bankposition", "ledgerposting"]:
        assert admin.get(f"/admin/settlement/{model}/add/").status_code == 403, model
    posting = LedgerPosting.objects.filter(cycle=cycle).first()
    assert admin.post(f"/admin/settlement/ledgerposting/{posting.pk}/delete/", {"post": "yes"}).status_code == 403
    assert LedgerPosting.objects.filter(pk=posting.pk).exists()
