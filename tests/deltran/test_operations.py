"""Operations: /metrics (protection and the database-read figures), periodic-task locks, the audit log viewer
(filters, CSV, chain verification) and the dead letters (API, page, retry, resolve)."""

import csv
import io
import json
import re
import threading
from pathlib import Path

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client

from deltran.audit import audit_record
from deltran.deadletters import TASK_ID_PREFIX, dead_letter_record
from deltran.models import AuditEntry, DeadLetter, PeriodicTaskState
from deltran.periodic import periodic_lock
from deltran.roles import ADMIN, AUDITOR, OPERATOR, VIEWER
from deltran.selectors import LAST_VERIFICATION_KEY
from deltran.tasks import idempotency_prune_task
from settlement.choices import CycleStatus, CycleTrigger
from settlement.models import BankPosition
from settlement.services import netting_cycle_run
from tests.concurrency import in_threads
from tests.conftest import payment_body
from tests.deltran.test_audit import triggers_bypassed
from tests.settlement.factories import ENBX, SBIN, minutes, pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(users):
    def client(role=None):
        found = Client()
        if role:
            found.force_login(users[role])
        return found

    return client


def metric(text: str, name: str, **labels) -> float | None:
    """The value of one sample in Prometheus text (labels in any order), or None."""
    for found in re.finditer(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", text, re.MULTILINE):
        if dict(re.findall(r'(\w+)="([^"]*)"', found.group(1) or "")) == labels:
            return float(found.group(2))
    return None


# --- /metrics ----------------------------------------------------------------------------------


def test_metrics_need_the_token_or_an_operator(web, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    assert web().get("/metrics").status_code == 401
    assert web().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert web(VIEWER).get("/metrics").status_code == 403
    assert web(AUDITOR).get("/metrics").status_code == 403
    assert web(OPERATOR).get("/metrics").status_code == 200
    response = web().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


def test_no_token_configured_means_no_token_gets_in(web, settings):
    settings.METRICS_TOKEN = ""
    assert web().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_metrics_read_the_database_at_scrape_time(web, scenario, operator_client):
    created = operator_client.post("/api/v1/payments/initiate", payment_body(), format="json")
    assert created.status_code == 201
    idempotency_prune_task()
    dead_letter_record(
        task_name="settlement.netting_cycle",
        task_id="t-1",
        args=[],
        kwargs={},
        exception=ConnectionError("database away"),
        traceback="",
        attempts=6,
    )
    text = web(OPERATOR).get("/metrics").content.decode()
    # django-prometheus's own figures are there too.
    assert "django_http_requests_total_by_method_total" in text
    assert metric(text, "deltran_dead_letters", status="dead") == 1
    assert metric(text, "deltran_periodic_task_runs_total", task="deltran.idempotency_prune") == 1
    assert metric(text, "deltran_periodic_task_failing", task="deltran.idempotency_prune") == 0
    assert metric(text, "deltran_health_up", check="database") == 1
    assert metric(text, "deltran_screening_recent_window") == 1
    assert metric(text, "deltran_screening_recent_duration_seconds", quantile="0.5") is not None
    assert metric(text, "deltran_screening_list_age_seconds", list="demo_sanctions") >= 0
    # The payment's USD amount is on the sender's position for its business day.
    assert metric(text, "deltran_bank_net_debit_usd", bic="ENBXAEADXXX") == pytest.approx(125000.50)
    limit = metric(text, "deltran_bank_limit_usd", bic="ENBXAEADXXX")
    assert metric(text, "deltran_bank_limit_utilisation_ratio", bic="ENBXAEADXXX") == pytest.approx(125000.50 / limit)
    assert metric(text, "deltran_bank_limit_alert_threshold", bic="ENBXAEADXXX") == 0
    assert metric(text, "deltran_pool_balance", pool="Primary Liquidity Pool", currency="USD") > 0
    assert metric(text, "deltran_pool_target", pool="Primary Liquidity Pool", currency="USD") > 0
    assert "deltran_netting_recent_cycles" in text


def test_a_settled_cycle_and_a_limit_alert_show_in_the_metrics(web, scenario, users):
    pay(users[OPERATOR], amount="1000.00")
    pay(users[OPERATOR], sender_bic=SBIN, receiver_bic=ENBX, amount="600.00")
    BankPosition.objects.filter(bank__bic=ENBX).update(alerted_threshold="0.80")
    with time_machine.travel(minutes(5), tick=False):
        cycle = netting_cycle_run(trigger=CycleTrigger.COMMAND)
        assert cycle.status == CycleStatus.SETTLED
        text = web(OPERATOR).get("/metrics").content.decode()
    assert metric(text, "deltran_bank_limit_alert_threshold", bic=ENBX) == 0.8
    assert metric(text, "deltran_bank_net_debit_usd", bic=ENBX) == 400
    assert metric(text, "deltran_netting_recent_cycles", status="settled") == 1
    assert metric(text, "deltran_netting_last_cycle_gross_usd") == 1600
    assert metric(text, "deltran_netting_last_cycle_net_usd") == 400
    assert metric(text, "deltran_netting_last_cycle_efficiency_ratio") == 0.75
    assert metric(text, "deltran_netting_last_cycle_payments") == 2
    assert metric(text, "deltran_settlement_account_balance", bic=SBIN, currency="USD") is not None


# --- periodic locks -----------------------------------------------------------------------------


def test_a_periodic_task_does_not_run_while_its_previous_run_holds_the_lock():
    if connection.vendor == "postgresql":
        pytest.skip("on PostgreSQL the lock is per session: see the threaded test below")
    with periodic_lock("deltran.idempotency_prune") as first:
        assert first is True
        assert idempotency_prune_task() is None  # skipped, not run
        with periodic_lock("deltran.idempotency_prune") as second:
            assert second is False
    state = PeriodicTaskState.objects.get(name="deltran.idempotency_prune")
    assert (state.skip_count, state.run_count) == (1, 0)
    assert state.last_skipped_at is not None and state.locked_until is None
    assert idempotency_prune_task() == 0  # free again: it runs
    assert PeriodicTaskState.objects.get(name="deltran.idempotency_prune").run_count == 1


def test_a_lease_left_by_a_dead_worker_expires(settings):
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL releases a dead session's advisory lock itself")
    from datetime import timedelta

    from django.utils import timezone

    PeriodicTaskState.objects.create(
        name="fxrates.prune_history", locked_until=timezone.now() - timedelta(seconds=1), locked_by="gone:1"
    )
    with periodic_lock("fxrates.prune_history") as acquired:
        assert acquired is True


def test_a_failing_periodic_run_is_recorded_as_failed(monkeypatch):
    import deltran.tasks

    def broken():
        raise ValueError("pruning broke")

    monkeypatch.setattr(deltran.tasks, "idempotency_prune", broken)
    with pytest.raises(ValueError):
        idempotency_prune_task.run()
    state = PeriodicTaskState.objects.get(name="deltran.idempotency_prune")
    assert state.last_failed_at is not None and state.last_succeeded_at is None
    assert state.last_error == "ValueError: pruning broke"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_run_the_same_periodic_task_at_once():
    PeriodicTaskState.objects.create(name="settlement.netting_cycle")
    inside = threading.Event()
    release = threading.Event()

    def work(i):
        if i == 0:
            with periodic_lock("settlement.netting_cycle") as acquired:
                inside.set()
                release.wait(timeout=20)
                return acquired
        inside.wait(timeout=20)
        with periodic_lock("settlement.netting_cycle") as acquired:
            release.set()
            return acquired

    assert in_threads(2, work) == [True, False]
    with periodic_lock("settlement.netting_cycle") as acquired:
        assert acquired is True  # released at the end of the first run


# --- audit log viewer -----------------------------------------------------------------------------


@pytest.fixture
def entries(users):
    with transaction.atomic():
        audit_record(
            actor=users[OPERATOR], action="payment.initiated", object_type="payment", object_id="p-1", payload={}
        )
        audit_record(actor=users[ADMIN], action="bank.updated", object_type="bank", object_id="7", payload={"a": 1})
        audit_record(actor=None, action="payment.settled", object_type="payment", object_id="p-1", payload={})
    return list(AuditEntry.objects.order_by("id"))


def test_the_audit_api_filters_by_actor_action_object_and_date(entries, client_for):
    client = client_for(AUDITOR)
    everything = client.get("/api/v1/audit/entries").json()
    assert [e["action"] for e in everything["entries"]] == ["payment.settled", "bank.updated", "payment.initiated"]
    assert everything["total"] == 3
    by_actor = client.get("/api/v1/audit/entries", {"actor": "t_admin"}).json()["entries"]
    assert [e["action"] for e in by_actor] == ["bank.updated"]
    by_object = client.get("/api/v1/audit/entries", {"object_type": "payment", "object_id": "p-1"}).json()
    assert by_object["total"] == 2
    assert client.get("/api/v1/audit/entries", {"action": "payment.settled"}).json()["total"] == 1
    day = entries[0].occurred_at.date().isoformat()
    assert client.get("/api/v1/audit/entries", {"date_from": day, "date_to": day}).json()["total"] == 3
    assert client.get("/api/v1/audit/entries", {"date_to": "2000-01-01"}).json()["total"] == 0
    bad = client.get("/api/v1/audit/entries", {"date_from": "soon"})
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error" and "date_from" in bad.json()["fields"]


@pytest.mark.parametrize("role, allowed", [(AUDITOR, True), (ADMIN, True), (OPERATOR, False), (VIEWER, False)])
def test_only_auditors_and_admins_read_the_audit_log(entries, client_for, web, role, allowed):
    assert client_for(role).get("/api/v1/audit/entries").status_code == (200 if allowed else 403)
    assert web(role).get("/audit/").status_code == (200 if allowed else 403)


def test_the_audit_page_names_a_filter_that_is_not_valid(entries, web):
    page = web(AUDITOR).get("/audit/", {"date_from": "soon"}).content.decode()
    assert 'id="filter-errors"' in page and "Some filters are not valid" in page
    assert '<a href="#id_date_from">From</a>' in page
    assert 'id="filter-errors"' not in web(AUDITOR).get("/audit/", {"date_from": "2026-01-01"}).content.decode()


def test_the_audit_csv_has_the_filtered_rows(entries, client_for, web):
    response = client_for(AUDITOR).get("/api/v1/export/audit", {"object_type": "payment"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["Entry", "Occurred At", "Actor", "Action"]
    assert [row[3] for row in rows[1:]] == ["payment.initiated", "payment.settled"]
    page_csv = web(AUDITOR).get("/audit/export.csv", {"actor": "system"})
    assert [row[3] for row in csv.reader(io.StringIO(b"".join(page_csv.streaming_content).decode()))][1:] == [
        "payment.settled"
    ]


def test_chain_verification_through_the_api_and_the_page(entries, client_for, web):
    cache.delete(LAST_VERIFICATION_KEY)
    client = client_for(AUDITOR)
    assert client.get("/api/v1/audit/verification").status_code == 204
    found = client.post("/api/v1/audit/verification").json()
    assert (found["ok"], found["checked"], found["first_broken_id"], found["verified_by"]) == (
        True,
        3,
        None,
        "t_auditor",
    )
    assert client.get("/api/v1/audit/verification").json()["ok"] is True

    with triggers_bypassed(), connection.cursor() as cursor:
        cursor.execute("UPDATE deltran_auditentry SET action = 'bank.deleted' WHERE id = %s", [entries[1].pk])
    page = web(AUDITOR).post("/audit/verify/", follow=True)
    text = page.content.decode()
    assert f"broken at entry {entries[1].pk}" in text
    broken = client.get("/api/v1/audit/verification").json()
    assert (broken["ok"], broken["first_broken_id"], broken["checked"]) == (False, entries[1].pk, 1)


def test_the_audit_page_lists_and_filters(entries, web):
    page = web(AUDITOR).get("/audit/", {"action": "bank.updated"}).content.decode()
    assert "bank.updated" in page and "payment.settled" not in page.split('id="audit-entries"')[1]
    assert web(AUDITOR).get("/audit/", {"date_from": "nonsense"}).status_code == 200  # errors shown, not a 500


# --- dead letters ---------------------------------------------------------------------------------


@pytest.fixture
def letter():
    return dead_letter_record(
        task_name="liquidity.rebalance",
        task_id="abc",
        args=[3],
        kwargs={},
        exception=TimeoutError("pool locked"),
        traceback="Traceback ...",
        attempts=6,
    )


def test_a_second_final_failure_of_the_same_call_updates_its_row(letter):
    again = dead_letter_record(
        task_name="liquidity.rebalance",
        task_id="abd",
        args=[3],
        kwargs={},
        exception=TimeoutError("pool locked again"),
        traceback="",
        attempts=6,
    )
    assert again.pk == letter.pk
    assert (again.attempts, again.exception) == (12, "pool locked again")
    other = dead_letter_record(
        task_name="liquidity.rebalance",
        task_id="x",
        args=[4],
        kwargs={},
        exception=OSError("x"),
        traceback="",
        attempts=1,
    )
    assert other.pk != letter.pk


def test_operators_list_retry_and_resolve_dead_letters(letter, client_for, django_capture_on_commit_callbacks):
    client = client_for(OPERATOR)
    listed = client.get("/api/v1/operations/dead-letters", {"status": "dead"}).json()
    assert [row["id"] for row in listed["dead_letters"]] == [letter.pk]
    assert client.get(f"/api/v1/operations/dead-letters/{letter.pk}").json()["exception_type"] == "TimeoutError"
    sent = []
    import deltran.deadletters

    original = deltran.deadletters.app.send_task
    deltran.deadletters.app.send_task = lambda name, **kw: sent.append((name, kw))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/api/v1/operations/dead-letters/{letter.pk}/retry")
    finally:
        deltran.deadletters.app.send_task = original
    assert response.status_code == 202 and response.json()["status"] == "retrying"
    assert sent and sent[0][0] == "liquidity.rebalance" and sent[0][1]["args"] == [3]
    assert sent[0][1]["task_id"].startswith(f"{TASK_ID_PREFIX}{letter.pk}-")
    again = client.post(f"/api/v1/operations/dead-letters/{letter.pk}/retry")
    assert again.status_code == 409 and again.json()["code"] == "not_retryable"
    assert client.post(f"/api/v1/operations/dead-letters/{letter.pk}/resolve").json()["status"] == "resolved"
    assert client.post(f"/api/v1/operations/dead-letters/{letter.pk}/resolve").json()["code"] == "already_resolved"
    assert client.post("/api/v1/operations/dead-letters/999999/retry").status_code == 404
    actions = list(AuditEntry.objects.filter(object_type="dead_letter").values_list("action", "actor_label"))
    assert actions == [
        ("dead_letter.recorded", "system"),
        ("dead_letter.retried", "t_operator"),
        ("dead_letter.resolved", "t_operator"),
    ]


def test_viewers_and_auditors_do_not_see_dead_letters(letter, client_for, web):
    assert client_for(VIEWER).get("/api/v1/operations/dead-letters").status_code == 403
    assert client_for(AUDITOR).post(f"/api/v1/operations/dead-letters/{letter.pk}/retry").status_code == 403
    assert web(VIEWER).get("/operations/dead-letters/").status_code == 403


def test_the_dead_letter_pages(letter, web):
    listing = web(OPERATOR).get("/operations/dead-letters/").content.decode()
    assert "liquidity.rebalance" in listing and "pool locked" in listing
    detail = web(OPERATOR).get(f"/operations/dead-letters/{letter.pk}/").content.decode()
    assert "Traceback ..." in detail and 'id="retry"' in detail
    resolved = web(ADMIN).post(f"/operations/dead-letters/{letter.pk}/resolve/", follow=True)
    assert "marked resolved" in resolved.content.decode()
    assert DeadLetter.objects.get(pk=letter.pk).status == DeadLetter.Status.RESOLVED


# --- the Grafana dashboard -------------------------------------------------------------------------


def test_every_metric_the_grafana_dashboard_uses_is_served(web, scenario):
    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docs/grafana/deltran.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    used = set(re.findall(r"\b(?:deltran|django)_[a-z0-9_]+", " ".join(expressions)))
    assert len(used) > 20
    text = web(OPERATOR).get("/metrics").content.decode()
    families = set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))
    missing = sorted(
        name
        for name in used
        if name not in families and re.sub(r"_(bucket|count|sum|total)$", "", name) not in families
    )
    assert not missing, f"the dashboard uses metrics /metrics does not serve: {missing}"
