"""Concurrency on PostgreSQL: real threads with their own connections, released together by a barrier.

Rebalances asked for at once apply one plan once; withdrawals racing for one balance never take it below zero;
whatever the interleaving, each currency's movements chain (every balance_after is the previous one plus amount).
"""

from decimal import Decimal

import pytest

from deltran.errors import DomainError
from deltran.roles import OPERATOR
from liquidity.choices import MovementKind, RebalanceStatus, RebalanceTrigger
from liquidity.models import LiquidityPool, PoolBalance, PoolMovement, Rebalance
from liquidity.services import pool_movement_apply, pool_rebalance
from payments.scenario import POOL
from tests.concurrency import in_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal
MILLION = D(1_000_000)


def set_pool(**available_millions) -> None:
    for code, (_, _, target, _) in POOL["balances"].items():
        available = D(available_millions[code]) * MILLION if code in available_millions else target
        PoolBalance.objects.filter(currency_id=code).update(available=available)


def assert_movements_chain() -> None:
    start = {code: None for code in POOL["balances"]}
    for movement in PoolMovement.objects.order_by("id"):
        previous = start[movement.currency_id]
        if previous is not None:
            assert movement.balance_after == previous + movement.amount, movement
        start[movement.currency_id] = movement.balance_after
    for code, balance in PoolBalance.objects.values_list("currency_id", "available"):
        assert start[code] in (None, balance)


def test_rebalances_asked_for_at_once_apply_the_plan_once(scenario, users):
    set_pool(USD=2000, EUR=150, GBP=100)
    results = in_threads(
        4,
        lambda i: pool_rebalance(trigger=RebalanceTrigger.OPERATOR, actor=users[OPERATOR]).status,
        expected=(DomainError,),
    )
    assert sorted(results) == [RebalanceStatus.APPLIED] + [RebalanceStatus.NOOP] * 3
    balances = dict(PoolBalance.objects.values_list("currency_id", "available"))
    assert (balances["USD"], balances["EUR"], balances["GBP"]) == (D("1827927172.57"), 250 * MILLION, 150 * MILLION)
    assert PoolMovement.objects.count() == 4
    assert Rebalance.objects.filter(status=RebalanceStatus.APPLIED).count() == 1
    assert_movements_chain()


def test_withdrawals_racing_for_one_balance_never_take_it_below_zero(scenario):
    pool = LiquidityPool.objects.get()
    PoolBalance.objects.filter(currency_id="GBP").update(available=D("200.00"))
    results = in_threads(
        10,
        lambda i: (
            pool_movement_apply(
                pool=pool, currency="GBP", amount=D("-30.00"), kind=MovementKind.FX_LEG_OUT, reference=f"t{i}"
            ).balance_after
        ),
        expected=(DomainError,),
    )
    refused = [r for r in results if r == "pool_balance_insufficient"]
    paid = sorted((r for r in results if r not in refused), reverse=True)
    assert len(paid) == 6 and len(refused) == 4
    assert paid == [D("200.00") - 30 * n for n in range(1, 7)]  # every balance from 170 down to 20, once
    assert PoolBalance.objects.get(currency_id="GBP").available == D("20.00")
    assert_movements_chain()


def test_a_rebalance_and_fx_legs_at_once_keep_every_movement_chained(scenario):
    pool = LiquidityPool.objects.get()
    set_pool(USD=2000, EUR=150)

    def work(i):
        if i == 0:
            return pool_rebalance(trigger=RebalanceTrigger.BEAT).status
        kind, amount = (MovementKind.FX_LEG_IN, D("1000.00")) if i % 2 else (MovementKind.FX_LEG_OUT, D("-400.00"))
        return pool_movement_apply(pool=pool, currency="EUR" if i % 3 else "USD", amount=amount, kind=kind).pk

    in_threads(9, work, expected=(DomainError,))
    assert Rebalance.objects.get().status == RebalanceStatus.APPLIED
    assert PoolMovement.objects.count() == 8 + 2
    assert_movements_chain()
