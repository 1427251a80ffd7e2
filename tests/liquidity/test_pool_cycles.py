"""Netting cycles move the liquidity pool: its legs become movements in the cycle's transaction, a pool that cannot
pay has its legs deferred, and a pool configured to fund shortfalls lends a short bank instead of deferring it."""

from decimal import Decimal
from unittest import mock

import pytest
import time_machine

from deltran.roles import OPERATOR
from liquidity.choices import MovementKind
from liquidity.models import LiquidityPool, PoolBalance, PoolMovement
from payments.choices import PaymentStatus
from payments.models import Payment
from settlement.choices import POOL, CycleStatus, CycleTrigger
from settlement.models import CyclePosition, LedgerPosting, NettingCycle, SettlementAccount
from settlement.services import netting_cycle_run
from settlement.signals import pool_capacity_provider
from tests.settlement.factories import ENBX, HABB, LUMI, SBIN, balances, minutes, pay, set_balance

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def operator(users):
    return users[OPERATOR]


@pytest.fixture
def book(scenario, operator):
    """USD among the four banks (ENBX nets -100), and one AED → INR payment through the pool."""
    return {
        "enbx_sbin": pay(operator, amount="1000.00"),
        "sbin_enbx": pay(operator, sender_bic=SBIN, receiver_bic=ENBX, amount="600.00"),
        "lumi_enbx": pay(operator, sender_bic=LUMI, receiver_bic=ENBX, amount="300.00"),
        "sbin_habb": pay(operator, sender_bic=SBIN, receiver_bic=HABB, amount="200.00"),
        "fx": pay(operator, currency="AED", amount="3672.50", settlement_currency="INR"),
    }


def run(at=None) -> NettingCycle:
    with time_machine.travel(at or minutes(5), tick=False):
        return netting_cycle_run(trigger=CycleTrigger.COMMAND)


def available(currency: str) -> Decimal:
    return PoolBalance.objects.get(currency=currency).available


def set_available(currency: str, amount) -> None:
    PoolBalance.objects.filter(currency=currency).update(available=D(str(amount)))


def movements(cycle: NettingCycle) -> list[tuple[str, str, Decimal, Decimal]]:
    rows = PoolMovement.objects.filter(reference=f"cycle:{cycle.pk}").order_by("id")
    return [(m.currency_id, m.kind, m.amount, m.balance_after) for m in rows]


def funds_shortfalls(enabled: bool = True) -> None:
    LiquidityPool.objects.update(funds_shortfalls=enabled)


def test_liquidity_registers_the_pool_hook():
    assert pool_capacity_provider() is not None


def test_the_pool_legs_move_the_pool_balances(book):
    aed, inr, usd = available("AED"), available("INR"), available("USD")
    cycle = run()
    assert cycle.status == CycleStatus.SETTLED and cycle.deferrals == [] and cycle.fundings == []
    settlement_amount = Payment.objects.get(pk=book["fx"].pk).settlement_amount
    pool = {row.currency_id: row.position for row in CyclePosition.objects.filter(cycle=cycle, participant_code=POOL)}
    assert pool == {"AED": D("3672.50"), "INR": -settlement_amount}
    assert movements(cycle) == [
        ("AED", MovementKind.FX_LEG_IN, D("3672.50"), aed + D("3672.50")),
        ("INR", MovementKind.FX_LEG_OUT, -settlement_amount, inr - settlement_amount),
    ]
    assert (available("AED"), available("INR")) == (aed + D("3672.50"), inr - settlement_amount)
    # Same-currency payments do not touch the pool.
    assert available("USD") == usd
    assert Payment.objects.get(pk=book["fx"].pk).status == PaymentStatus.SETTLED


def test_a_pool_that_cannot_pay_has_its_legs_deferred(book):
    set_available("INR", "10.00")
    aed = available("AED")
    cycle = run()
    assert cycle.status == CycleStatus.SETTLED
    settlement_amount = Payment.objects.get(pk=book["fx"].pk).settlement_amount
    [deferral] = cycle.deferrals
    assert (deferral["bic"], deferral["currency"], deferral["reason"]) == (POOL, "INR", "insufficient_pool_balance")
    assert D(deferral["balance"]) == D("10.00") and D(deferral["shortfall"]) == settlement_amount - D("10.00")
    assert deferral["obligations"] == 1
    # The AED leg (pool receives) settles; the INR leg waits, the pool's INR is untouched.
    assert movements(cycle) == [("AED", MovementKind.FX_LEG_IN, D("3672.50"), aed + D("3672.50"))]
    assert available("INR") == D("10.00")
    assert not CyclePosition.objects.filter(cycle=cycle, currency="INR").exists()
    assert not LedgerPosting.objects.filter(cycle=cycle, account_code="POOL:INR").exists()
    assert Payment.objects.get(pk=book["fx"].pk).status == PaymentStatus.SETTLING
    # Once the pool holds enough, the next cycle pays the leg.
    set_available("INR", "10000000")
    second = run(at=minutes(6))
    assert second.deferrals == [] and second.obligation_count == 1
    assert movements(second) == [
        ("INR", MovementKind.FX_LEG_OUT, -settlement_amount, D("10000000") - settlement_amount)
    ]
    assert Payment.objects.get(pk=book["fx"].pk).status == PaymentStatus.SETTLED


def test_a_pool_without_the_currency_has_its_legs_deferred(book):
    PoolBalance.objects.filter(currency="INR").delete()
    cycle = run()
    assert cycle.status == CycleStatus.SETTLED
    assert [(d["bic"], d["currency"], d["reason"]) for d in cycle.deferrals] == [(POOL, "INR", "no_pool_balance")]
    assert [row[:2] for row in movements(cycle)] == [("AED", MovementKind.FX_LEG_IN)]


def test_a_short_bank_is_deferred_when_the_pool_does_not_fund_shortfalls(book):
    set_balance(ENBX, "USD", "40.00")
    usd = available("USD")
    cycle = run()
    assert [(d["bic"], d["currency"], d["reason"]) for d in cycle.deferrals] == [(ENBX, "USD", "insufficient_balance")]
    assert cycle.fundings == []
    assert available("USD") == usd
    assert not PoolMovement.objects.filter(kind=MovementKind.SHORTFALL_LOAN).exists()


def test_the_pool_funds_a_short_bank_when_configured_to(book):
    funds_shortfalls()
    set_balance(ENBX, "USD", "40.00")
    usd = available("USD")
    before = balances()
    cycle = run()
    assert cycle.status == CycleStatus.SETTLED and cycle.deferrals == []
    assert cycle.fundings == [
        {"bic": ENBX, "currency": "USD", "amount": "60.00", "balance": "40.00", "position": "-100.00",
         "pool": "Primary Liquidity Pool"}
    ]  # fmt: skip
    # ENBX nets -100 on 40: the pool lends 60, the account ends at zero.
    assert balances()[(ENBX, "USD")] == 0
    assert balances()[(SBIN, "USD")] == before[(SBIN, "USD")] + 200
    loan = LedgerPosting.objects.filter(cycle=cycle, memo__startswith="Liquidity pool funds")
    assert sorted((p.account_code, p.amount, p.counter_account_code) for p in loan) == [
        ("DLTENBXAEADUSD", D("60.00"), "POOL:USD"),
        ("POOL:USD", D("-60.00"), "DLTENBXAEADUSD"),
    ]
    assert sum(p.amount for p in LedgerPosting.objects.filter(cycle=cycle, currency="USD")) == 0
    assert ("USD", MovementKind.SHORTFALL_LOAN, D("-60.00"), usd - D("60.00")) in movements(cycle)
    assert available("USD") == usd - D("60.00")
    assert Payment.objects.get(pk=book["enbx_sbin"].pk).status == PaymentStatus.SETTLED


def test_a_pool_that_cannot_lend_the_shortfall_defers_the_bank(book):
    funds_shortfalls()
    set_balance(ENBX, "USD", "40.00")
    set_available("USD", "59.99")
    cycle = run()
    assert [(d["bic"], d["reason"]) for d in cycle.deferrals] == [(ENBX, "insufficient_balance")]
    assert cycle.fundings == [] and available("USD") == D("59.99")


def test_the_pool_does_not_lend_what_it_receives_in_the_same_cycle(book):
    """ENBX is short in AED; the pool's AED is what it receives from ENBX's own leg, so it cannot lend it."""
    funds_shortfalls()
    set_balance(ENBX, "AED", "0")
    set_available("AED", "0")
    cycle = run()
    assert [(d["bic"], d["currency"]) for d in cycle.deferrals] == [(ENBX, "AED")]
    assert cycle.fundings == [] and available("AED") == 0


def test_a_failing_pool_receiver_fails_the_cycle(book):
    before = balances()
    with mock.patch("liquidity.signals.pool_cycle_settle", side_effect=RuntimeError("pool down")):
        failed = run()
    assert failed.status == CycleStatus.FAILED and failed.failure_reason == "RuntimeError: pool down"
    assert balances() == before and not PoolMovement.objects.filter(reference=f"cycle:{failed.pk}").exists()


def owed(bic: str, currency: str = "USD") -> Decimal:
    return SettlementAccount.objects.get(bank__bic=bic, currency_id=currency).pool_loan


def test_a_funded_bank_repays_the_pool_from_its_next_credits(book, operator):
    funds_shortfalls()
    set_balance(ENBX, "USD", "40.00")
    usd = available("USD")
    lent = run()
    assert [f["amount"] for f in lent.fundings] == ["60.00"] and lent.repayments == []
    assert owed(ENBX) == D("60.00") and balances()[(ENBX, "USD")] == 0

    # Next cycle ENBX nets +45 (SBIN pays it 45): all of it goes to the pool, 15 stays owed.
    pay(operator, sender_bic=SBIN, receiver_bic=ENBX, amount="45.00", debtor_name="Repay 1", at=minutes(10))
    first = run(at=minutes(15))
    assert first.status == CycleStatus.SETTLED and first.fundings == []
    assert first.repayments == [
        {"bic": ENBX, "currency": "USD", "amount": "45.00", "position": "45.00", "outstanding": "15.00",
         "pool": "Primary Liquidity Pool"}
    ]  # fmt: skip
    assert owed(ENBX) == D("15.00") and balances()[(ENBX, "USD")] == 0
    assert movements(first) == [("USD", MovementKind.LOAN_REPAYMENT, D("45.00"), usd - D("60.00") + D("45.00"))]
    repaid = LedgerPosting.objects.filter(cycle=first, memo__contains="repays")
    assert sorted((p.account_code, p.amount, p.counter_account_code) for p in repaid) == [
        ("DLTENBXAEADUSD", D("-45.00"), "POOL:USD"),
        ("POOL:USD", D("45.00"), "DLTENBXAEADUSD"),
    ]
    assert sum(p.amount for p in LedgerPosting.objects.filter(cycle=first, currency="USD")) == 0

    # Then it nets +100: 15 repays the rest of the loan, 85 stays on its account; the pool is whole again.
    pay(operator, sender_bic=LUMI, receiver_bic=ENBX, amount="100.00", debtor_name="Repay 2", at=minutes(20))
    second = run(at=minutes(25))
    assert [(r["amount"], r["outstanding"]) for r in second.repayments] == [("15.00", "0.00")]
    assert owed(ENBX) == 0 and balances()[(ENBX, "USD")] == D("85.00")
    assert available("USD") == usd
    assert PoolMovement.objects.filter(kind=MovementKind.LOAN_REPAYMENT).count() == 2

    # Nothing is owed any more: a further credit stays with the bank.
    pay(operator, sender_bic=SBIN, receiver_bic=ENBX, amount="10.00", debtor_name="Repay 3", at=minutes(30))
    third = run(at=minutes(35))
    assert third.repayments == [] and balances()[(ENBX, "USD")] == D("95.00") and available("USD") == usd


def test_a_bank_that_owes_the_pool_and_pays_in_a_cycle_repays_nothing(book, operator):
    funds_shortfalls()
    set_balance(ENBX, "USD", "40.00")
    run()
    set_balance(ENBX, "USD", "500.00")
    pay(operator, sender_bic=ENBX, receiver_bic=SBIN, amount="70.00", debtor_name="Pays again", at=minutes(10))
    cycle = run(at=minutes(15))
    assert cycle.repayments == [] and cycle.fundings == []
    assert owed(ENBX) == D("60.00") and balances()[(ENBX, "USD")] == D("430.00")
    assert not PoolMovement.objects.filter(kind=MovementKind.LOAN_REPAYMENT).exists()
