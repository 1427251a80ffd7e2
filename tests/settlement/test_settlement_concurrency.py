"""Concurrency on PostgreSQL: real threads with their own connections, started together by a barrier.

Approvals against one bank's limit never pass it and lose nothing; two netting cycles started at once never take
the same obligation or move a balance twice.
"""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from deltran.roles import OPERATOR
from payments.choices import PaymentStatus
from payments.models import Payment, PaymentTransition
from payments.services import PaymentInstruction, payment_initiate
from settlement.choices import CycleStatus, CycleTrigger, ObligationStatus
from settlement.models import BankPosition, CyclePosition, LedgerPosting, NettingCycle, Obligation
from settlement.services import netting_cycle_run
from tests.concurrency import in_threads
from tests.settlement.factories import ENBX, HABB, LUMI, SBIN, WEDNESDAY, balances, minutes, pay, set_limit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal


def test_concurrent_approvals_never_pass_the_limit_and_lose_nothing(scenario, users):
    operator = users[OPERATOR]
    set_limit(ENBX, 5000)
    amounts = [D("700.00"), D("900.00"), D("1100.00"), D("400.00"), D("1300.00")] * 2  # 12,800 against 5,000

    def approve(i):
        instruction = PaymentInstruction(
            sender_bic=ENBX,
            receiver_bic=SBIN,
            amount=amounts[i],
            currency="USD",
            debtor_name=f"Debtor {i}",
            creditor_name="Mumbai Textiles Pvt Ltd",
        )
        return payment_initiate(actor=operator, instruction=instruction).payment.pk

    with time_machine.travel(WEDNESDAY, tick=False):
        ids = in_threads(len(amounts), approve)

    payments = list(Payment.objects.filter(pk__in=ids))
    assert len(payments) == len(amounts)
    with_obligations = set(Obligation.objects.values_list("payment_id", flat=True))
    admitted = [p for p in payments if p.pk in with_obligations]
    waiting = [p for p in payments if p.awaiting_liquidity]
    # Each payment either owes its obligation or waits, never both, never neither.
    assert {p.pk for p in admitted}.isdisjoint({p.pk for p in waiting})
    assert len(admitted) + len(waiting) == len(amounts)
    assert all(p.status == PaymentStatus.QUEUED for p in payments)
    position = BankPosition.objects.get(bank__bic=ENBX)
    assert position.debit_usd == sum(p.amount_usd for p in admitted)
    assert position.net_debit_usd <= D("5000")
    # No waiting payment would have fitted after the last admission (nothing was refused for a lost update).
    headroom = D("5000") - position.net_debit_usd
    assert all(p.amount_usd > headroom for p in waiting)
    assert BankPosition.objects.get(bank__bic=SBIN).credit_usd == position.debit_usd
    assert BankPosition.objects.filter(bank__bic=ENBX).count() == 1


def test_concurrent_incoming_payments_release_each_waiting_payment_once(scenario, users):
    operator = users[OPERATOR]
    set_limit(ENBX, 1000)
    pay(operator, amount="1000.00")
    waiting = [pay(operator, amount="100.00", at=minutes(i + 1), debtor_name=f"W{i}") for i in range(6)]
    assert Payment.objects.filter(awaiting_liquidity=True).count() == 6
    senders = [SBIN, LUMI, HABB, SBIN, LUMI, HABB]

    def incoming(i):
        instruction = PaymentInstruction(
            sender_bic=senders[i],
            receiver_bic=ENBX,
            amount=D("150.00"),
            currency="USD",
            debtor_name=f"Incoming {i}",
            creditor_name="Acme Trading LLC",
        )
        return payment_initiate(actor=operator, instruction=instruction).payment.pk

    with time_machine.travel(minutes(30), tick=False):
        in_threads(len(senders), incoming)
    # 900 came in: net debit 100, room for all six waiting 100s (700 at the end).
    assert not Payment.objects.filter(awaiting_liquidity=True).exists()
    assert Obligation.objects.filter(payment__in=waiting).count() == 6
    releases = PaymentTransition.objects.filter(payment__in=waiting, reason__startswith="Released")
    assert Counter(releases.values_list("payment_id", flat=True)) == {p.pk: 1 for p in waiting}
    assert BankPosition.objects.get(bank__bic=ENBX).net_debit_usd == D("700.00")


def test_two_cycles_started_at_once_settle_each_obligation_once(scenario, users, settings):
    operator = users[OPERATOR]
    pairs = [(ENBX, SBIN), (SBIN, ENBX), (LUMI, ENBX), (SBIN, HABB), (HABB, LUMI), (ENBX, LUMI)]
    for n in range(30):
        payer, payee = pairs[n % len(pairs)]
        pay(operator, sender_bic=payer, receiver_bic=payee, amount=f"{100 + n}.00", debtor_name=f"Debtor {n}")
    expected = Counter()
    for payer, payee, amount in Obligation.objects.values_list("payer_code", "payee_code", "amount"):
        expected[payer] -= amount
        expected[payee] += amount
    before = balances()
    # Small cycles, so both really take a share and contend for the same accounts.
    settings.NETTING_CYCLE_MAX_OBLIGATIONS = 12

    with time_machine.travel(minutes(5), tick=False):
        cycles = in_threads(2, lambda i: netting_cycle_run(trigger=CycleTrigger.BEAT).pk)
        while Obligation.objects.filter(status=ObligationStatus.PENDING).exists():
            netting_cycle_run(trigger=CycleTrigger.COMMAND)

    assert len(set(cycles)) == 2
    assert set(NettingCycle.objects.values_list("status", flat=True)) == {CycleStatus.SETTLED}
    first_two = Counter(Obligation.objects.filter(cycle_id__in=cycles).values_list("cycle_id", flat=True))
    assert sorted(first_two.values()) == [12, 12]  # disjoint claims of twelve each
    assert not Obligation.objects.exclude(status=ObligationStatus.SETTLED).exists()
    assert sum(NettingCycle.objects.values_list("obligation_count", flat=True)) == 30
    after = balances()
    for (bic, currency), balance in after.items():
        assert balance - before[(bic, currency)] == (expected[bic] if currency == "USD" else 0), bic
    moved = Counter()
    for code, position in CyclePosition.objects.values_list("participant_code", "position"):
        moved[code] += position
    assert {code: amount for code, amount in moved.items() if amount} == {
        code: amount for code, amount in expected.items() if amount
    }
    assert sum(LedgerPosting.objects.values_list("amount", flat=True)) == 0
    settled = PaymentTransition.objects.filter(to_status=PaymentStatus.SETTLED)
    assert Counter(settled.values_list("payment_id", flat=True)) == {
        pk: 1 for pk in Payment.objects.values_list("pk", flat=True)
    }


def test_a_failure_mid_settlement_on_postgres_rolls_everything_back(scenario, users):
    from unittest import mock

    operator = users[OPERATOR]
    for n in range(4):
        pay(operator, amount=f"{10 + n}.00", debtor_name=f"D{n}")
    before = balances()
    original = LedgerPosting.objects.bulk_create

    def post_then_fail(rows, **kwargs):
        original(rows, **kwargs)
        raise RuntimeError("connection reset in the middle")

    with time_machine.travel(minutes(5), tick=False):
        with mock.patch.object(LedgerPosting.objects, "bulk_create", side_effect=post_then_fail):
            failed = netting_cycle_run(trigger=CycleTrigger.BEAT)
        assert failed.status == CycleStatus.FAILED and "connection reset" in failed.failure_reason
        assert not LedgerPosting.objects.exists() and balances() == before
        assert set(Obligation.objects.values_list("status", "cycle_id")) == {(ObligationStatus.PENDING, None)}
        rerun = netting_cycle_run(trigger=CycleTrigger.BEAT)
    assert rerun.status == CycleStatus.SETTLED and rerun.obligation_count == 4
    assert balances()[(ENBX, "USD")] == before[(ENBX, "USD")] - D("46.00")


def test_the_two_legs_of_one_payment_settled_by_two_cycles_at_once_settle_it(scenario, users, settings):
    operator = users[OPERATOR]
    # One obligation per cycle: the two cycles take the two legs of one cross-currency payment, on disjoint
    # accounts (ENBX AED, SBIN INR), so they meet only on the payment row.
    settings.NETTING_CYCLE_MAX_OBLIGATIONS = 1
    for attempt in range(3):
        payment = pay(
            operator,
            currency="AED",
            amount="3672.50",
            settlement_currency="INR",
            debtor_name=f"Attempt {attempt}",
            at=minutes(attempt),
        )
        with time_machine.travel(minutes(attempt) + timedelta(seconds=30), tick=False):
            cycles = in_threads(2, lambda i: netting_cycle_run(trigger=CycleTrigger.BEAT).obligation_count)
        assert cycles == [1, 1]
        payment.refresh_from_db()
        assert payment.status == PaymentStatus.SETTLED, attempt
        steps = [(t.from_status, t.to_status) for t in payment.timeline.all()][-2:]
        assert steps == [("queued", "settling"), ("settling", "settled")]


def _batch(operator, amounts, prefix):
    from payments.choices import Channel
    from payments.services import BatchItem, payments_initiate_many

    items = [
        BatchItem(
            instruction=PaymentInstruction(
                sender_bic=ENBX,
                receiver_bic=SBIN,
                amount=amount,
                currency="USD",
                debtor_name=f"{prefix} debtor {i}",
                creditor_name="Mumbai Textiles Pvt Ltd",
            )
        )
        for i, amount in enumerate(amounts)
    ]
    return [o.payment.pk for o in payments_initiate_many(actor=operator, items=items, channel=Channel.BATCH)]


def test_concurrent_batches_deciding_on_unlocked_reads_never_pass_the_limit(scenario, users):
    # Batches decide liquidity on an unlocked read and lock the positions only at the end; the re-check there (and
    # the locked path it falls back to) must keep the limit whatever the interleaving.
    operator = users[OPERATOR]
    with time_machine.travel(WEDNESDAY, tick=False):
        pay(operator, amount="1.00")  # the business day's position rows exist: batches may take the unlocked path
        set_limit(ENBX, 6000)
        batches = [[D("400.00")] * 5, [D("700.00")] * 3, [D("300.00")] * 6, [D("1000.00")] * 2] * 2

        def send(i):
            return _batch(operator, batches[i], f"b{i}")

        ids = [pk for result in in_threads(len(batches), send) for pk in result]

    payments = list(Payment.objects.filter(pk__in=ids))
    assert len(payments) == sum(len(b) for b in batches)
    with_obligations = set(Obligation.objects.values_list("payment_id", flat=True))
    admitted = [p for p in payments if p.pk in with_obligations]
    waiting = [p for p in payments if p.awaiting_liquidity]
    assert {p.pk for p in admitted}.isdisjoint({p.pk for p in waiting})
    assert len(admitted) + len(waiting) == len(payments)
    position = BankPosition.objects.get(bank__bic=ENBX)
    assert position.debit_usd == sum(p.amount_usd for p in admitted) + D("1.00")
    assert position.net_debit_usd <= D("6000")
    assert BankPosition.objects.get(bank__bic=SBIN).credit_usd == position.debit_usd
    assert Obligation.objects.count() == len(admitted) + 1


def test_a_limit_used_up_between_the_read_and_the_lock_sends_the_batch_down_the_locked_path(
    scenario, users, monkeypatch
):
    import psycopg2
    from django.db import connection

    import payments.services as services

    operator = users[OPERATOR]
    with time_machine.travel(WEDNESDAY, tick=False):
        pay(operator, amount="1.00")
        set_limit(ENBX, 5000)
        reads = []
        real_read = services.bank_positions_read

        def read_then_someone_else_commits(**kwargs):
            book = real_read(**kwargs)
            reads.append(book)
            if len(reads) == 1:
                # Another transaction commits 4,500 USD of ENBX's limit after this read, before the batch locks.
                params = connection.get_connection_params()
                other = psycopg2.connect(**params)
                with other, other.cursor() as cursor:
                    cursor.execute(
                        "UPDATE settlement_bankposition SET debit_usd = debit_usd + 4500 "
                        "WHERE bank_id = (SELECT id FROM settlement_bank WHERE bic = %s)",
                        [ENBX],
                    )
                other.close()
            return book

        monkeypatch.setattr(services, "bank_positions_read", read_then_someone_else_commits)
        ids = _batch(operator, [D("600.00")] * 3, "late")

    assert len(reads) == 1  # the second attempt took the locked path, which does not read unlocked
    payments = list(Payment.objects.filter(pk__in=ids))
    # On the locked path, with 4,501 used: none of the three 600s fits; each waits, none owes anything.
    assert all(p.awaiting_liquidity for p in payments) and len(payments) == 3
    assert not Obligation.objects.filter(payment_id__in=ids).exists()
    position = BankPosition.objects.get(bank__bic=ENBX)
    assert position.debit_usd == D("4501.00")
    assert PaymentTransition.objects.filter(payment_id__in=ids).count() == 5 * 3
