"""The compliance pages through Django's test client: who may see and do what, the queue's filters, and the
decision, whitelist, assignment and bulk forms moving cases and their payments."""

import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance.models import CaseDecision, ListEntry, ReviewCase, WhitelistEntry
from deltran.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, OPERATOR, VIEWER
from payments.choices import PaymentStatus
from payments.models import Payment
from payments.services import PaymentInstruction, payment_initiate

pytestmark = pytest.mark.django_db

SANCTIONED = "VOSTOK SHADOW SHIPPING LLC"
PEP = "Marguerite Demo-Valcourt"
QUEUE = "/compliance/"


def case_url(case: ReviewCase, action: str = "") -> str:
    return f"/compliance/cases/{case.pk}/{action + '/' if action else ''}"


@pytest.fixture
def hold(scenario, users):
    """hold(**instruction) → the review case of a new payment that screening sent to compliance."""

    def make(**overrides) -> ReviewCase:
        fields = {
            "sender_bic": "ENBXAEADXXX",
            "receiver_bic": "SBININBBXXX",
            "amount": Decimal("125000.50"),
            "currency": "USD",
            "debtor_name": SANCTIONED,
            "creditor_name": "Mumbai Textiles Pvt Ltd",
            "remittance_info": "Invoice 2026-114",
        }
        fields.update(overrides)
        fields["amount"] = Decimal(fields["amount"])
        payment = payment_initiate(actor=users[OPERATOR], instruction=PaymentInstruction(**fields)).payment
        assert payment.status == PaymentStatus.COMPLIANCE_REVIEW, payment.status
        return ReviewCase.objects.get(payment=payment)

    return make


@pytest.fixture
def web(users):
    """web(role) → a test client logged in as that role's user."""

    def make(role: str) -> Client:
        client = Client()
        client.force_login(users[role])
        return client

    return make


@pytest.fixture
def officer(web):
    return web(COMPLIANCE_OFFICER)


def text(response) -> str:
    """The page's visible text, squeezed: enough to assert on what a person reads."""
    body = response.content.decode()
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def main_part(response) -> str:
    """The page without its header (whose log-out form every page has)."""
    return response.content.decode().split("<main", 1)[1]


def listed_cases(response) -> list[int]:
    return [int(n) for n in re.findall(r'<tr class="[^"]*" id="case-(\d+)">', response.content.decode())]


def reload(case: ReviewCase) -> ReviewCase:
    return ReviewCase.objects.select_related("payment").get(pk=case.pk)


# --- Who may see and do what ------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(hold):
    case = hold()
    anonymous = Client()
    for path in (QUEUE, case_url(case)):
        response = anonymous.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    response = anonymous.post(case_url(case, "decide"), {"decision": "approve", "reason": "fine"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert reload(case).status == "open"


@pytest.mark.parametrize("role", [VIEWER, OPERATOR])
def test_viewers_and_operators_are_refused(hold, web, role):
    case = hold()
    client = web(role)
    match = case.screening.matches.first()
    assert client.get(QUEUE).status_code == 403
    assert client.get(case_url(case)).status_code == 403
    for path, data in (
        (case_url(case, "decide"), {"decision": "approve", "reason": "fine"}),
        (case_url(case, "assign"), {}),
        ("/compliance/take-next/", {}),
        ("/compliance/bulk-decide/", {"case_ids": [case.pk], "decision": "approve", "reason": "fine"}),
        (f"/compliance/matches/{match.pk}/whitelist/", {f"m{match.pk}-reason": "fine"}),
    ):
        assert client.post(path, data).status_code == 403, path
    case = reload(case)
    assert (case.status, case.assigned_to_id) == ("open", None)
    assert not WhitelistEntry.objects.exists()
    # Nor does the menu offer them the page.
    assert 'href="/compliance/"' not in client.get("/payments/").content.decode()


@pytest.mark.parametrize("role", [ADMIN, COMPLIANCE_OFFICER, AUDITOR])
def test_the_menu_offers_compliance_to_those_who_may_see_it(scenario, web, role):
    page = web(role).get("/payments/").content.decode()
    assert re.search(r'<a href="/compliance/"\s*>Compliance</a>', page)


def test_auditors_see_everything_read_only(hold, web):
    case = hold(creditor_name=PEP)
    auditor = web(AUDITOR)

    queue = auditor.get(QUEUE)
    assert queue.status_code == 200
    assert listed_cases(queue) == [case.pk]
    markup = main_part(queue)
    assert 'method="post"' not in markup
    assert 'name="case_ids"' not in markup and "Take next" not in markup and "Assign to me" not in markup

    page = auditor.get(case_url(case))
    assert page.status_code == 200
    seen = text(page)
    for expected in (SANCTIONED, PEP, "VOSTOK SHADOW MARITIME", "Fictional entity for the DelTran demo.", "DEMO"):
        assert expected in seen
    markup = main_part(page)
    assert 'method="post"' not in markup
    assert "Record decision" not in markup and "Whitelist as false positive" not in markup

    assert auditor.post(case_url(case, "decide"), {"decision": "approve", "reason": "ok"}).status_code == 403
    assert reload(case).status == "open"


def test_compliance_officers_get_every_control(hold, officer):
    case = hold()
    markup = officer.get(QUEUE).content.decode()
    assert f'name="case_ids" value="{case.pk}" form="bulk-decide"' in markup
    assert 'id="take-next"' in markup and 'id="bulk-decide"' in markup and "Assign to me" in markup
    assert markup.count('name="csrfmiddlewaretoken"') >= 3
    page = officer.get(case_url(case)).content.decode()
    assert 'id="decision-form"' in page and "Whitelist as false positive" in page
    for value in ("approve", "reject", "escalate"):
        assert f'name="decision" value="{value}"' in page


def test_an_unknown_case_is_a_404(scenario, officer):
    assert officer.get("/compliance/cases/999999/").status_code == 404
    assert officer.post("/compliance/cases/999999/decide/", {"decision": "approve", "reason": "x"}).status_code == 404


# --- The case page ------------------------------------------------------------------------------------


def test_the_case_shows_payment_matches_beside_list_entries_score_timeline_and_decisions(hold, officer, users):
    case = hold(creditor_name=PEP, amount="2500.00", currency="EUR", receiver_bic="LUMIILITXXX")
    seen = text(officer.get(case_url(case)))
    payment = case.payment
    for expected in (
        payment.payment_reference,
        "2,500.00 EUR",
        "ENBXAEADXXX",
        "Emirates National Bank",
        "LUMIILITXXX",
        "Compliance review",
        # What matched and why, on the payment's side ...
        f"Debtor “{SANCTIONED}” matched demo_sanctions 900001",
        "Exact match on the normalised name 'vostok shadow shipping'",
        "Algorithm exact",
        "edit distance 0",
        # ... and the list entry as the list holds it.
        "DelTran demo sanctions list (fictional)",
        "VOSTOK SHADOW MARITIME (aka)",
        "Programs DEMO",
        "Remarks Fictional entity for the DelTran demo.",
        f"Creditor “{PEP}” matched pep PEP-D1",
        "M. Demo Valcourt (aka)",
        "Countries FR",
        # The score and its reasons.
        "100 / 100",
        "The rules add up to 135 points; the score is capped at 100.",
        "sanctions_critical +100",
        "pep_match +35",
        # The payment's timeline.
        "Screened → Compliance review",
        "No decision yet.",
    ):
        assert expected in seen, expected

    # A match whose entry has left the list keeps its snapshot and says so.
    ListEntry.objects.filter(source_id="900001").delete()
    seen = text(officer.get(case_url(case)))
    assert "Entry 900001 is no longer on the current version of demo_sanctions" in seen
    assert "M. Demo Valcourt (aka)" in seen


def test_approving_through_the_form_releases_the_payment_and_the_case_leaves_the_queue(hold, officer, users):
    case = hold()
    other = hold(debtor_name="AL-NOOR PHANTOM EXCHANGE")
    response = officer.post(
        case_url(case, "decide"), {"decision": "approve", "reason": "  Name coincidence, documents checked.  "}
    )
    assert response.status_code == 302 and response["Location"] == QUEUE
    case = reload(case)
    assert case.status == "approved" and case.decided_at is not None
    assert case.payment.status not in (PaymentStatus.COMPLIANCE_REVIEW, PaymentStatus.REJECTED)
    decision = CaseDecision.objects.get(case=case)
    assert (decision.decision, decision.officer, decision.reason) == (
        "approve",
        users[COMPLIANCE_OFFICER],
        "Name coincidence, documents checked.",
    )

    queue = officer.get(QUEUE)
    assert listed_cases(queue) == [other.pk]
    assert f"Case {case.pk} approved. Payment {case.payment.payment_reference} is now" in text(queue)
    seen = text(officer.get(case_url(case)))
    assert "Approved by t_compliance" in seen and "Name coincidence, documents checked." in seen
    assert "Compliance review → Approved" in seen
    assert 'id="decision-form"' not in officer.get(case_url(case)).content.decode()


def test_rejecting_through_the_form_ends_the_payment(hold, officer):
    case = hold()
    officer.post(case_url(case, "decide"), {"decision": "reject", "reason": "True match on the SDN entry."})
    case = reload(case)
    assert case.status == "rejected"
    assert case.payment.status == PaymentStatus.REJECTED
    seen = text(officer.get(case_url(case)))
    assert "Rejected by t_compliance" in seen and "True match on the SDN entry." in seen


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_decision_without_a_reason_is_refused_on_the_form(hold, officer, reason):
    case = hold()
    response = officer.post(case_url(case, "decide"), {"decision": "approve", "reason": reason})
    assert response.status_code == 400
    seen = text(response)
    assert "The decision was not recorded: Give the reason for the decision." in seen
    assert 'role="alert"' in response.content.decode()
    assert 'value="approve" required checked' in response.content.decode()
    assert reload(case).status == "open"
    assert not CaseDecision.objects.exists()


def test_a_decision_without_a_choice_is_refused_on_the_form(hold, officer):
    case = hold()
    response = officer.post(case_url(case, "decide"), {"reason": "Documents checked."})
    assert response.status_code == 400
    assert "Choose approve, reject or escalate." in text(response)
    assert "Documents checked." in response.content.decode()  # what was typed stays
    assert reload(case).status == "open"


def test_four_eyes_an_escalated_case_needs_another_officer(hold, officer, web):
    case = hold()
    officer.post(case_url(case, "decide"), {"decision": "escalate", "reason": "Needs a second look."})
    case = reload(case)
    assert case.status == "escalated" and case.payment.status == PaymentStatus.COMPLIANCE_REVIEW

    page = officer.get(case_url(case))
    markup = page.content.decode()
    assert "You escalated this case. Four eyes" in text(page)
    assert 'value="escalate"' not in markup  # an escalated case cannot be escalated again

    response = officer.post(
        case_url(case, "decide"), {"decision": "approve", "reason": "Looks fine to me."}, follow=True
    )
    assert response.status_code == 200
    assert "Four eyes: an escalated case must be decided by another officer" in text(response)
    assert reload(case).status == "escalated"

    admin = web(ADMIN)
    admin.post(case_url(case, "decide"), {"decision": "approve", "reason": "Second officer: approved."})
    case = reload(case)
    assert case.status == "approved"
    assert [d.decision for d in case.decisions.all()] == ["escalate", "approve"]
    seen = text(admin.get(case_url(case)))
    assert "Escalated by t_compliance" in seen and "Approved by t_admin" in seen


def test_deciding_a_decided_case_is_a_readable_refusal(hold, officer):
    case = hold()
    officer.post(case_url(case, "decide"), {"decision": "reject", "reason": "True match."})
    response = officer.post(
        case_url(case, "decide"), {"decision": "approve", "reason": "Changed my mind."}, follow=True
    )
    assert response.status_code == 200
    assert f"Case {case.pk} is already rejected; it cannot be decided again." in text(response)
    assert reload(case).status == "rejected"
    assert CaseDecision.objects.count() == 1


def test_whitelisting_a_match_through_the_form(hold, officer, users):
    case = hold(debtor_name="Vostok Shadow Shipping L.L.C.")
    match = case.screening.matches.get(list_code="demo_sanctions")
    field = f"m{match.pk}-reason"

    refused = officer.post(f"/compliance/matches/{match.pk}/whitelist/", {field: "  "})
    assert refused.status_code == 400
    assert "Say why this is a false positive." in text(refused)
    assert not WhitelistEntry.objects.exists()

    response = officer.post(
        f"/compliance/matches/{match.pk}/whitelist/", {field: "Our customer since 2009, not the SDN."}, follow=True
    )
    assert response.redirect_chain[-1][0] == case_url(case)
    entry = WhitelistEntry.objects.get()
    assert (entry.list_code, entry.entry_source_id, entry.created_by) == (
        "demo_sanctions",
        "900001",
        users[COMPLIANCE_OFFICER],
    )
    seen = text(response)
    assert "is whitelisted against demo_sanctions entry 900001" in seen
    assert "Whitelisted as a false positive by t_compliance" in seen
    assert "Our customer since 2009, not the SDN." in seen
    assert f'action="/compliance/matches/{match.pk}/whitelist/"' not in response.content.decode()
    # The case itself still waits for its decision.
    assert reload(case).status == "open"


# --- The queue ----------------------------------------------------------------------------------------


def test_the_queue_shows_open_and_escalated_cases_unless_another_status_is_chosen(hold, officer, web):
    opened, escalated, approved = hold(), hold(), hold()
    officer.post(case_url(escalated, "decide"), {"decision": "escalate", "reason": "Second look."})
    officer.post(case_url(approved, "decide"), {"decision": "approve", "reason": "Fine."})

    assert sorted(listed_cases(officer.get(QUEUE))) == sorted([opened.pk, escalated.pk])
    assert listed_cases(officer.get(QUEUE + "?status=approved")) == [approved.pk]
    assert listed_cases(officer.get(QUEUE + "?status=escalated")) == [escalated.pk]
    everything = officer.get(QUEUE + "?status=open&status=escalated&status=approved&status=rejected")
    assert sorted(listed_cases(everything)) == sorted([opened.pk, escalated.pk, approved.pk])


def test_queue_filters(hold, officer, users):
    sanctions = hold(amount="900000.00")
    # A PEP alone is not a definite hit; with a wholesale amount it is over the review line.
    pep = hold(debtor_name="Acme Trading LLC", creditor_name=PEP, amount="600000.00", sender_bic="HABBPKKKXXX")
    eur = hold(debtor_name="CRIMSON LOTUS TRADING FZE", currency="EUR", amount="50000", receiver_bic="LUMIILITXXX")
    ReviewCase.objects.filter(pk=eur.pk).update(opened_at=timezone.now() - timedelta(hours=30))

    def shown(query: str) -> set[int]:
        response = officer.get(QUEUE + "?" + query)
        assert response.status_code == 200, query
        return set(listed_cases(response))

    assert shown("") == {sanctions.pk, pep.pk, eur.pk}
    assert shown("list=pep") == {pep.pk}
    assert shown("list=demo_sanctions") == {sanctions.pk, eur.pk}
    assert shown("risk_level=CRITICAL") == {c.pk for c in (sanctions, pep, eur) if reload(c).risk_level == "CRITICAL"}
    assert shown("bank=HABBPKKKXXX") == {pep.pk}
    assert shown("bank=LUMIILIT") == {eur.pk}
    assert shown("min_amount_usd=700000") == {sanctions.pk}
    assert shown("min_amount_usd=100000&max_amount_usd=700000") == {pep.pk}
    assert shown("max_amount_usd=100000") == {eur.pk}
    assert shown("min_age_hours=24") == {eur.pk}
    assert shown("assigned=none") == {sanctions.pk, pep.pk, eur.pk}

    officer.post(case_url(pep, "assign"))
    assert shown("assigned=me") == {pep.pk}
    assert shown("assigned=none") == {sanctions.pk, eur.pk}

    response = officer.get(QUEUE + "?ordering=amount")
    assert listed_cases(response) == [sanctions.pk, pep.pk, eur.pk]
    assert listed_cases(officer.get(QUEUE + "?ordering=age"))[0] == eur.pk
    assert listed_cases(officer.get(QUEUE + "?ordering=-age"))[-1] == eur.pk


def test_empty_filter_fields_are_dropped_from_the_address(scenario, officer):
    response = officer.get(QUEUE + "?risk_level=&list=pep&bank=&min_amount_usd=")
    assert response.status_code == 302
    assert response["Location"] == QUEUE + "?list=pep"


def test_invalid_filters_are_shown_as_errors_not_as_500(hold, officer):
    hold()
    response = officer.get(QUEUE + "?min_amount_usd=abc&ordering=sideways")
    assert response.status_code == 200
    seen = text(response)
    assert "Some filters are not valid" in seen
    assert "Min amount (USD)" in seen
    assert listed_cases(response) == []


def test_overdue_cases_are_counted_highlighted_and_filterable(hold, officer):
    late, on_time = hold(), hold()
    ReviewCase.objects.filter(pk=late.pk).update(sla_due_at=timezone.now() - timedelta(minutes=90))
    response = officer.get(QUEUE)
    markup = response.content.decode()
    assert re.search(r'id="overdue-total"[^>]*><strong>1</strong> case past its SLA', markup)
    assert f'<tr class="overdue hit" id="case-{late.pk}">' in markup
    assert f'<tr class=" hit" id="case-{on_time.pk}">' in markup
    assert "Overdue by 1 h 30 min" in text(response) or "Overdue by 1 h 29 min" in text(response)
    assert listed_cases(officer.get(QUEUE + "?overdue=true")) == [late.pk]
    assert listed_cases(officer.get(QUEUE + "?ordering=sla"))[0] == late.pk


def test_assign_to_me_and_take_next(hold, officer, users):
    first = hold(amount="600000.00", debtor_name="Acme Trading LLC", creditor_name=PEP)  # lower priority
    second = hold()  # a definite sanctions hit: most urgent
    response = officer.post(case_url(first, "assign"), {"next": QUEUE + "?list=pep"})
    assert response.status_code == 302 and response["Location"] == QUEUE + "?list=pep"
    assert reload(first).assigned_to == users[COMPLIANCE_OFFICER]

    # `next` may only lead back to a compliance page.
    response = officer.post(case_url(second, "assign"), {"next": "https://example.org/compliance/"})
    assert response["Location"] == QUEUE
    ReviewCase.objects.filter(pk=second.pk).update(assigned_to=None)

    response = officer.post("/compliance/take-next/", follow=True)
    assert response.redirect_chain[-1][0] == case_url(second)
    assert f"Case {second.pk} is assigned to you" in text(response)
    assert reload(second).assigned_to == users[COMPLIANCE_OFFICER]

    response = officer.post("/compliance/take-next/", follow=True)
    assert response.redirect_chain[-1][0] == QUEUE
    assert "No unassigned case is waiting for you." in text(response)


def test_bulk_decisions_through_the_form_report_each_refusal(hold, officer, users):
    a, b, decided = hold(), hold(), hold()
    officer.post(case_url(decided, "decide"), {"decision": "reject", "reason": "True match."})

    # No reason: nothing is decided and the page says why.
    response = officer.post(
        "/compliance/bulk-decide/", {"case_ids": [a.pk, b.pk], "decision": "approve", "reason": " "}, follow=True
    )
    assert "Give the reason for the decision; it is recorded on every case." in text(response)
    assert {reload(a).status, reload(b).status} == {"open"}

    # Nothing ticked.
    response = officer.post("/compliance/bulk-decide/", {"decision": "approve", "reason": "x"}, follow=True)
    assert "Tick the cases to decide first." in text(response)

    response = officer.post(
        "/compliance/bulk-decide/",
        {"case_ids": [a.pk, b.pk, decided.pk], "decision": "approve", "reason": "Batch reviewed.", "next": QUEUE},
        follow=True,
    )
    assert response.status_code == 200
    seen = text(response)
    assert f"2 cases approved: {a.pk}, {b.pk}." in seen
    assert f"Case {decided.pk} was not decided: Case {decided.pk} is rejected" in seen
    for case in (a, b):
        case = reload(case)
        assert case.status == "approved"
        assert case.payment.status != PaymentStatus.COMPLIANCE_REVIEW
    assert reload(decided).status == "rejected"
    assert listed_cases(response) == []


def test_the_queue_page_runs_a_fixed_number_of_queries(hold, officer, users):
    hold()
    officer.get(QUEUE)  # warm the per-process reference data

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = officer.get(QUEUE)
        assert response.status_code == 200
        return len(captured)

    with_one = queries()
    for i in range(6):
        hold(amount=f"{1000 + i}.00", creditor_name=PEP if i % 2 else "Mumbai Textiles Pvt Ltd")
    ReviewCase.objects.filter(pk__in=ReviewCase.objects.values("pk")[:3]).update(assigned_to=users[COMPLIANCE_OFFICER])
    with_seven = queries()
    assert len(listed_cases(officer.get(QUEUE))) == 7
    assert with_seven == with_one
    assert with_seven <= 9  # session, user, roles, count, rows, lists, overdue count (+ slack)


def test_the_case_page_runs_a_fixed_number_of_queries(hold, officer):
    small = hold()
    big = hold(creditor_name=PEP)
    officer.get(case_url(small))

    def queries(case) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert officer.get(case_url(case)).status_code == 200
        return len(captured)

    assert queries(big) == queries(small)
    assert Payment.objects.count() == 2
