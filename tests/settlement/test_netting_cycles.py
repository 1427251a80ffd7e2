"""Netting cycles: claim what is due, net per currency, settle balances with balanced postings, settle payments."""

import json
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from deltran.models import AuditEntry, OutboxEvent
from deltran.roles import OPERATOR
from payments.choices import PaymentStatus
from payments.models import Payment
from settlement.choices import POOL, CycleStatus, CycleTrigger, ObligationStatus
from settlement.engines.netting import netting_efficiency
from settlement.models import CyclePosition, LedgerPosting, NettingCycle, Obligation, SettlementInstruction
from settlement.services import netting_cycle_run
from settlement.tasks import netting_cycle_task
from tests.settlement.factories import (
    ENBX,
    HABB,
    LUMI,
    SBIN,
    WEDNESDAY,
    balances,
    minutes,
    pay,
    set_balance,
)

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def operator(users):
    return users[OPERATOR]


@pytest.fixture
def book(scenario, operator):
    """USD among the four banks, one AED → INR payment through the pool, one payment within ENBX."""
    return {
        "enbx_sbin": pay(operator, amount="1000.00"),
        "sbin_enbx": pay(operator, sender_bic=SBIN, receiver_bic=ENBX, amount="600.00"),
        "lumi_enbx": pay(operator, sender_bic=LUMI, receiver_bic=ENBX, amount="300.00"),
        "sbin_habb": pay(operator, sender_bic=SBIN, receiver_bic=HABB, amount="200.00"),
        "fx": pay(operator, currency="AED", amount="3672.50", settlement_currency="INR"),
        "on_us": pay(operator, receiver_bic=ENBX, currency="AED", amount="700.00"),
    }


def run(at=None, trigger=CycleTrigger.COMMAND, actor=None) -> NettingCycle | None:
    with time_machine.travel(at or minutes(5), tick=False):
        return netting_cycle_run(trigger=trigger, actor=actor)


def test_a_cycle_nets_per_currency_and_settles_everything_due(book):
    before = balances()
    cycle = run()
    assert cycle.status == CycleStatus.SETTLED and cycle.failure_reason == "" and cycle.deferrals == []
    assert (cycle.trigger, cycle.run_by) == ("command", "Management command")
    assert cycle.started_at == minutes(5) and cycle.finished_at is not None
    assert (cycle.payment_count, cycle.obligation_count) == (6, 7)

    figures = {row["currency"]: row for row in cycle.currencies}
    assert list(figures) == ["AED", "INR", "USD"]
    # USD: ENBX -1000 +600 +300 = -100; SBIN +1000 -600 -200 = +200; LUMI -300; HABB +200.
    assert figures["USD"] == {
        "currency": "USD",
        "obligations": 4,
        "gross": "2100.00",
        "bilateral_net": "900.00",
        "net": "400.00",
        "efficiency": "0.8095",
        "gross_usd": "2100.00",
        "net_usd": "400.00",
    }
    fx = book["fx"]
    assert figures["AED"]["gross"] == figures["AED"]["net"] == "3672.50" and figures["AED"]["efficiency"] == "0.0000"
    assert D(figures["INR"]["gross"]) == fx.settlement_amount
    # The payment within ENBX is settled but not netted: it is in no currency's figures.
    assert sum(row["obligations"] for row in cycle.currencies) == 6
    assert cycle.gross_usd == D("4100.00") and cycle.net_usd == D("2400.00")
    assert cycle.efficiency == netting_efficiency(cycle.gross_usd, cycle.net_usd) == D("0.4146")

    positions = defaultdict(dict)
    for row in CyclePosition.objects.filter(cycle=cycle):
        positions[row.currency_id][row.participant_code] = row.position
    assert positions["USD"] == {ENBX: D("-100"), HABB: D("200"), LUMI: D("-300"), SBIN: D("200")}
    assert positions["AED"] == {ENBX: D("-3672.50"), POOL: D("3672.50")}
    assert positions["INR"] == {POOL: -fx.settlement_amount, SBIN: fx.settlement_amount}
    for currency, by_code in positions.items():
        assert sum(by_code.values()) == 0, currency

    # Balances move by exactly the positions; the pool has no settlement account (liquidity will own it).
    after = balances()
    for key in before:
        bic, currency = key
        assert after[key] - before[key] == positions.get(currency, {}).get(bic, 0), key

    postings = list(LedgerPosting.objects.filter(cycle=cycle))
    by_currency = defaultdict(Decimal)
    for posting in postings:
        by_currency[posting.currency_id] += posting.amount
        assert posting.counter_account_code in {f"CLEARING:{posting.currency_id}"} or posting.account_code.startswith(
            "CLEARING:"
        )
    assert dict(by_currency) == {"AED": 0, "INR": 0, "USD": 0}
    assert len(postings) == 2 * sum(1 for by_code in positions.values() for p in by_code.values() if p)
    enbx_usd = next(p for p in postings if p.account_code == "DLTENBXAEADUSD")
    assert enbx_usd.amount == D("-100") and enbx_usd.settlement_account.bank.bic == ENBX
    pool = [p for p in postings if p.account_code.startswith("POOL:")]
    assert {p.account_code for p in pool} == {"POOL:AED", "POOL:INR"}
    assert all(p.settlement_account_id is None for p in pool)

    # Instructions realise the positions.
    realised = defaultdict(Decimal)
    for instruction in SettlementInstruction.objects.filter(cycle=cycle):
        realised[(instruction.currency_id, instruction.payer_code)] -= instruction.amount
        realised[(instruction.currency_id, instruction.payee_code)] += instruction.amount
    for currency, by_code in positions.items():
        for code, amount in by_code.items():
            assert realised[(currency, code)] == amount

    assert not Obligation.objects.exclude(status=ObligationStatus.SETTLED).exists()
    assert set(Obligation.objects.values_list("cycle_id", flat=True)) == {cycle.pk}
    for payment in Payment.objects.all():
        assert payment.status == PaymentStatus.SETTLED and payment.settled_at is not None
        steps = [(t.from_status, t.to_status) for t in payment.timeline.all()][-2:]
        assert steps == [("queued", "settling"), ("settling", "settled")]
        assert payment.timeline.last().reason == f"Settled in netting cycle {cycle.pk}."

    event = OutboxEvent.objects.get(event_type="settlement.netting_cycle")
    assert event.topic == "settlement"
    assert event.payload["id"] == cycle.pk and event.payload["status"] == "settled"
    assert event.payload["efficiency"] == "0.4146"
    assert json.loads(json.dumps(event.payload)) == event.payload
    audit = AuditEntry.objects.get(action="settlement.netting_cycle")
    assert audit.object_id == str(cycle.pk) and audit.payload["payment_count"] == 6
    # The audit entry is the cycle transaction's last write.
    assert audit.pk == AuditEntry.objects.order_by("-id").first().pk
    updates = OutboxEvent.objects.filter(event_type="payments.payment_update", payload__status="settled")
    assert updates.count() == 6


def test_nothing_due_records_no_cycle(scenario, operator):
    # Wednesday 14:00Z: both banks are closed, the payment is due Thursday 04:30Z.
    payment = pay(operator, at=WEDNESDAY.replace(hour=14))
    assert run(at=WEDNESDAY.replace(hour=14, minute=5)) is None
    assert not NettingCycle.objects.exists()
    cycle = run(at=WEDNESDAY.replace(day=26, hour=4, minute=30))
    assert cycle.obligation_count == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SETTLED


def test_a_bank_that_would_go_below_zero_is_deferred(book):
    set_balance(LUMI, "USD", "100.00")
    before = balances()
    cycle = run()
    assert cycle.status == CycleStatus.SETTLED
    assert cycle.deferrals == [
        {
            "bic": LUMI,
            "currency": "USD",
            "reason": "insufficient_balance",
            "message": "LUMIILITXXX's USD account DLTLUMIILITUSD holds 100.00; its net position -300.00 would take "
            "it to -200.00.",
            "balance": "100.00",
            "position": "-300.00",
            "shortfall": "200.00",
            "obligations": 1,
        }
    ]
    # Without LUMI: ENBX -400, SBIN +200, HABB +200.
    usd = {p.participant_code: p.position for p in CyclePosition.objects.filter(cycle=cycle, currency="USD")}
    assert usd == {ENBX: D("-400"), HABB: D("200"), SBIN: D("200")}
    assert balances()[(LUMI, "USD")] == before[(LUMI, "USD")]
    assert balances()[(ENBX, "USD")] == before[(ENBX, "USD")] - 400
    deferred = Obligation.objects.get(payment=book["lumi_enbx"])
    assert (deferred.status, deferred.cycle_id) == (ObligationStatus.PENDING, None)
    assert Payment.objects.get(pk=book["lumi_enbx"].pk).status == PaymentStatus.QUEUED
    assert cycle.payment_count == 5
    # Once LUMI is funded, the next cycle settles it.
    set_balance(LUMI, "USD", "1000.00")
    second = run(at=minutes(6))
    assert (second.obligation_count, second.deferrals) == (1, [])
    assert Payment.objects.get(pk=book["lumi_enbx"].pk).status == PaymentStatus.SETTLED


def test_a_cross_currency_payment_with_a_deferred_leg_stays_settling(book):
    set_balance(ENBX, "AED", "0")
    cycle = run()
    assert [(d["bic"], d["currency"]) for d in cycle.deferrals] == [(ENBX, "AED")]
    fx = Payment.objects.get(pk=book["fx"].pk)
    assert fx.status == PaymentStatus.SETTLING
    assert [(t.from_status, t.to_status) for t in fx.timeline.all()][-1] == ("queued", "settling")
    # The payment within ENBX is in AED too, but moves nothing: it settles anyway.
    assert Payment.objects.get(pk=book["on_us"].pk).status == PaymentStatus.SETTLED
    set_balance(ENBX, "AED", "10000.00")
    run(at=minutes(6))
    fx.refresh_from_db()
    assert fx.status == PaymentStatus.SETTLED
    assert [(t.from_status, t.to_status) for t in fx.timeline.all()][-2:] == [
        ("queued", "settling"),
        ("settling", "settled"),
    ]


def test_a_failure_in_the_middle_of_settlement_leaves_nothing_half_posted(book):
    before = balances()
    original = LedgerPosting.objects.bulk_create

    def post_then_fail(rows, **kwargs):
        original(rows, **kwargs)  # the postings are written...
        raise RuntimeError("disk full")  # ...and then the transaction breaks

    with mock.patch.object(LedgerPosting.objects, "bulk_create", side_effect=post_then_fail):
        failed = run()
    assert failed.status == CycleStatus.FAILED
    assert failed.failure_reason == "RuntimeError: disk full"
    assert failed.finished_at is not None
    assert not LedgerPosting.objects.exists()
    assert not CyclePosition.objects.exists() and not SettlementInstruction.objects.exists()
    assert balances() == before
    assert set(Obligation.objects.values_list("status", "cycle_id")) == {(ObligationStatus.PENDING, None)}
    assert set(Payment.objects.values_list("status", flat=True)) == {PaymentStatus.QUEUED}
    assert AuditEntry.objects.filter(action="settlement.netting_cycle_fail", object_id=str(failed.pk)).exists()
    assert OutboxEvent.objects.get(event_type="settlement.netting_cycle").payload["status"] == "failed"

    rerun = run(at=minutes(6))
    assert rerun.status == CycleStatus.SETTLED and rerun.obligation_count == 7
    assert set(Payment.objects.values_list("status", flat=True)) == {PaymentStatus.SETTLED}


def test_a_failing_payments_receiver_fails_the_cycle(book):
    with mock.patch("payments.signals.payments_settle", side_effect=ValueError("no")):
        failed = run()
    assert failed.status == CycleStatus.FAILED and failed.failure_reason == "ValueError: no"
    assert not LedgerPosting.objects.exists()


def test_an_abandoned_running_cycle_is_marked_failed(book):
    stale = NettingCycle.objects.create(
        status=CycleStatus.RUNNING, trigger=CycleTrigger.BEAT, run_by="Celery beat", started_at=minutes(-60)
    )
    cycle = run(at=minutes(5))
    stale.refresh_from_db()
    assert stale.status == CycleStatus.FAILED and stale.failure_reason.startswith("Abandoned")
    assert cycle.status == CycleStatus.SETTLED


def test_the_beat_task_and_the_command_run_a_cycle(book, capsys):
    with time_machine.travel(minutes(5), tick=False):
        cycle_id = netting_cycle_task()
        assert NettingCycle.objects.get(pk=cycle_id).trigger == CycleTrigger.BEAT
        assert netting_cycle_task() is None  # safe to run twice: nothing left
        call_command("run_netting")
    assert "Nothing is due for netting" in capsys.readouterr().out


def test_the_command_reports_a_cycle_and_fails_on_a_failed_one(book, capsys):
    with time_machine.travel(minutes(5), tick=False):
        with mock.patch("payments.signals.payments_settle", side_effect=ValueError("broken")):
            with pytest.raises(CommandError, match="broken"):
                call_command("run_netting")
        call_command("run_netting")
    out = capsys.readouterr().out
    assert "settled 6 payments (7 obligations)" in out and "efficiency 0.4146" in out


def test_obligations_not_yet_due_stay_for_a_later_cycle(scenario, operator):
    due = pay(operator)
    later = pay(operator, at=WEDNESDAY.replace(hour=14))  # due Thursday 04:30Z
    cycle = run()
    assert cycle.obligation_count == 1
    assert Payment.objects.get(pk=due.pk).status == PaymentStatus.SETTLED
    assert Payment.objects.get(pk=later.pk).status == PaymentStatus.QUEUED
    assert Obligation.objects.get(payment=later).status == ObligationStatus.PENDING


def test_a_cycle_takes_at_most_the_configured_number_of_obligations(book, settings):
    settings.NETTING_CYCLE_MAX_OBLIGATIONS = 3
    first = run()
    assert first.obligation_count == 3
    # The oldest three, in id order.
    assert list(Obligation.objects.filter(cycle=first).values_list("id", flat=True)) == list(
        Obligation.objects.order_by("id").values_list("id", flat=True)[:3]
    )
    second = run(at=minutes(6))
    third = run(at=minutes(7))
    assert second.obligation_count + third.obligation_count == 4
    assert run(at=minutes(8)) is None


def test_settling_does_not_change_the_business_day_position(book):
    from tests.settlement.factories import position

    before = position(ENBX).net_debit_usd
    run()
    assert position(ENBX).net_debit_usd == before


def test_cycle_timestamps_follow_the_clock(book):
    cycle = run(at=minutes(5) + timedelta(seconds=30))
    assert cycle.started_at == minutes(5) + timedelta(seconds=30)


def test_a_payment_held_by_compliance_is_never_settled_by_a_cycle(book, operator):
    held = pay(operator, debtor_name="Vostok Shadow Shipping LLC", amount="500.00")
    assert held.status == PaymentStatus.COMPLIANCE_REVIEW
    cycle = run()
    assert cycle.status == CycleStatus.SETTLED
    held.refresh_from_db()
    assert held.status == PaymentStatus.COMPLIANCE_REVIEW and held.settled_at is None
    assert not Obligation.objects.filter(payment=held).exists()
    assert Payment.objects.get(pk=book["enbx_sbin"].pk).status == PaymentStatus.SETTLED
