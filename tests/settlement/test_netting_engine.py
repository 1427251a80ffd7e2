"""The pure netting engine (settlement/engines/netting.py): no database.

Examples with the seed's four banks are worked out by hand; property tests (hypothesis) check the invariants
on random obligation sets: positions sum to exactly zero, multilateral <= bilateral <= gross, transfers and
postings realise exactly the positions.
"""

import ast
import decimal
import random
import sys
from collections import Counter
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settlement.engines import netting
from settlement.engines.netting import (
    CurrencyNetting,
    Obligation,
    Posting,
    Transfer,
    clearing_account,
    net,
    net_rows,
    netting_efficiency,
    postings,
)

D = Decimal
ENBD, LEUMI, HABIB, SBI, POOL = "ENBXAEADXXX", "LUMIILITXXX", "HABBPKKKXXX", "SBININBBXXX", "POOL"
PARTICIPANTS = (ENBD, LEUMI, HABIB, SBI, POOL)


def obligations(*specs):
    """Obligations numbered from 1: (payer, payee, currency, amount as text)."""
    return [
        Obligation(str(n), payer, payee, currency, D(amount))
        for n, (payer, payee, currency, amount) in enumerate(specs, start=1)
    ]


def as_rows(items):
    return [(o.id, o.payer, o.payee, o.currency, o.amount) for o in items]


def accounts(result):
    return {code: f"{code}-{result.currency}-SETTLEMENT" for code in result.positions}


def test_engine_imports_no_django():
    tree = ast.parse(Path(netting.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    outside = {name for name in imported if name.split(".")[0] not in sys.stdlib_module_names}
    assert outside == {"deltran.money"}


# --- Worked examples: the seed's four banks ------------------------------------------------------------------------

# USD, by hand:
#   pair totals   ENBD->LEUMI 1,250.50 (1,000.00 + 250.50)   LEUMI->ENBD 400.00   LEUMI->HABIB 700.00
#                 HABIB->SBI 500.00                          SBI->ENBD 300.00
#   gross         1,000.00 + 400.00 + 700.00 + 500.00 + 300.00 + 250.50 = 3,150.50
#   bilateral     (ENBD, LEUMI) +850.50   (ENBD, SBI) -300.00   (HABIB, LEUMI) -700.00   (HABIB, SBI) +500.00
#                 bilateral net = 850.50 + 300.00 + 700.00 + 500.00 = 2,350.50
#   positions     ENBD   receives 400.00 + 300.00 = 700.00, pays 1,250.50    -> -550.50
#                 LEUMI  receives 1,250.50, pays 400.00 + 700.00 = 1,100.00 -> +150.50
#                 HABIB  receives 700.00, pays 500.00                        -> +200.00
#                 SBI    receives 500.00, pays 300.00                        -> +200.00
#   multilateral  150.50 + 200.00 + 200.00 = 550.50
#   efficiency    1 - 550.50 / 3,150.50 = 1 - 0.17473417 = 0.82526583 -> 0.8253
# EUR: a pair that offsets fully. AED: a cycle ENBD -> LEUMI -> HABIB -> ENBD that only multilateral netting clears.
SEED_OBLIGATIONS = obligations(
    (ENBD, LEUMI, "USD", "1000.00"),
    (LEUMI, ENBD, "USD", "400.00"),
    (LEUMI, HABIB, "USD", "700.00"),
    (HABIB, SBI, "USD", "500.00"),
    (SBI, ENBD, "USD", "300.00"),
    (ENBD, LEUMI, "USD", "250.50"),
    (ENBD, LEUMI, "EUR", "75.25"),
    (LEUMI, ENBD, "EUR", "75.25"),
    (ENBD, LEUMI, "AED", "100.00"),
    (LEUMI, HABIB, "AED", "100.00"),
    (HABIB, ENBD, "AED", "100.00"),
)


def test_seed_banks_usd_by_hand():
    usd = net(SEED_OBLIGATIONS)["USD"]
    assert usd.gross == D("3150.50")
    assert usd.bilateral_net == D("2350.50")
    assert usd.multilateral_net == D("550.50")
    assert usd.efficiency == D("0.8253")
    assert usd.positions == {ENBD: D("-550.50"), HABIB: D("200.00"), LEUMI: D("150.50"), SBI: D("200.00")}
    assert list(usd.positions) == sorted(usd.positions)
    assert usd.bilateral_positions == {
        (ENBD, LEUMI): D("850.50"),
        (ENBD, SBI): D("-300.00"),
        (HABIB, LEUMI): D("-700.00"),
        (HABIB, SBI): D("500.00"),
    }
    # Largest debtor (ENBD) pays the largest creditors in turn; HABIB and SBI tie at 200.00: the smaller code first.
    assert usd.transfers == (
        Transfer(ENBD, HABIB, "USD", D("200.00")),
        Transfer(ENBD, SBI, "USD", D("200.00")),
        Transfer(ENBD, LEUMI, "USD", D("150.50")),
    )
    assert usd.obligation_ids == ("1", "2", "3", "4", "5", "6")


def test_seed_banks_full_offset_and_cycle():
    result = net(SEED_OBLIGATIONS)
    assert list(result) == ["AED", "EUR", "USD"]

    eur = result["EUR"]
    assert (eur.gross, eur.bilateral_net, eur.multilateral_net) == (D("150.50"), D("0.00"), D("0.00"))
    assert eur.positions == {ENBD: 0, LEUMI: 0}
    assert eur.bilateral_positions == {(ENBD, LEUMI): 0}
    assert eur.transfers == ()
    assert eur.efficiency == D("1.0000")
    assert postings(eur, settlement_accounts=accounts(eur)) == []

    aed = result["AED"]
    assert (aed.gross, aed.bilateral_net, aed.multilateral_net) == (D("300.00"), D("300.00"), D("0.00"))
    assert aed.bilateral_positions == {
        (ENBD, HABIB): D("-100.00"),
        (ENBD, LEUMI): D("100.00"),
        (HABIB, LEUMI): D("-100.00"),
    }
    assert set(aed.positions.values()) == {0}
    assert aed.transfers == ()
    assert aed.efficiency == D("1.0000")
    assert aed.obligation_ids == ("9", "10", "11")


def test_seed_banks_postings():
    usd = net(SEED_OBLIGATIONS)["USD"]
    entries = postings(usd, settlement_accounts=accounts(usd))
    clearing = "CLEARING:USD"
    assert clearing_account("USD") == clearing
    assert [(p.account, p.amount, p.counterparty) for p in entries] == [
        (f"{ENBD}-USD-SETTLEMENT", D("-550.50"), clearing),
        (clearing, D("550.50"), f"{ENBD}-USD-SETTLEMENT"),
        (f"{HABIB}-USD-SETTLEMENT", D("200.00"), clearing),
        (clearing, D("-200.00"), f"{HABIB}-USD-SETTLEMENT"),
        (f"{LEUMI}-USD-SETTLEMENT", D("150.50"), clearing),
        (clearing, D("-150.50"), f"{LEUMI}-USD-SETTLEMENT"),
        (f"{SBI}-USD-SETTLEMENT", D("200.00"), clearing),
        (clearing, D("-200.00"), f"{SBI}-USD-SETTLEMENT"),
    ]
    assert {p.currency for p in entries} == {"USD"}
    assert entries[0].memo == f"Net settlement USD: {ENBD} pays"
    assert entries[2].memo == f"Net settlement USD: {HABIB} receives"
    assert sum(p.amount for p in entries) == 0
    custom = postings(usd, settlement_accounts=accounts(usd), clearing="SUSPENSE")
    assert {p.account for p in custom[1::2]} == {"SUSPENSE"}


def test_pool_is_a_participant_like_any_bank():
    # A cross-currency payment's USD leg: the payer pays the pool, the pool pays another bank.
    result = net(obligations((ENBD, POOL, "USD", "500.00"), (POOL, SBI, "USD", "480.00"), (SBI, ENBD, "USD", "20.00")))
    usd = result["USD"]
    assert usd.positions == {ENBD: D("-480.00"), POOL: D("20.00"), SBI: D("460.00")}
    assert usd.transfers == (Transfer(ENBD, SBI, "USD", D("460.00")), Transfer(ENBD, POOL, "USD", D("20.00")))
    assert usd.multilateral_net == D("480.00")
    assert usd.efficiency == D("0.5200")  # 1 - 480 / 1,000
    with pytest.raises(ValueError, match="POOL"):
        postings(usd, settlement_accounts={ENBD: "E", SBI: "S"})


def test_empty_input():
    assert net([]) == {}
    assert net_rows([]) == {}
    assert net_rows(iter(())) == {}
    assert netting_efficiency(D(0), D(0)) == D("0.0000")


def test_rows_are_streamed_once():
    rows = (row for row in as_rows(SEED_OBLIGATIONS))  # a generator, as the database layer yields them
    assert net_rows(rows) == net(SEED_OBLIGATIONS)


@pytest.mark.parametrize(
    ("gross", "multilateral", "expected"),
    [
        ("3150.50", "550.50", "0.8253"),
        ("100", "100", "0.0000"),
        ("100", "0", "1.0000"),
        ("20000", "1", "1.0000"),  # 0.99995: a tie, half-even goes to the even 1.0000
        ("20000", "3", "0.9998"),  # 0.99985: a tie, half-even goes to the even 0.9998
        ("200000000000000000000000000000000001", "1", "1.0000"),  # just above a tie: 0.99999...
        ("3", "1", "0.6667"),
    ],
)
def test_efficiency_definition(gross, multilateral, expected):
    assert netting_efficiency(D(gross), D(multilateral)) == D(expected)


def test_sums_are_exact_beyond_the_default_precision():
    # 34 significant digits each: the default 28-digit context would round these sums.
    big = D("1234567890123456789012.123456789012")
    items = obligations(*[(ENBD, LEUMI, "USD", str(big))] * 1000, (LEUMI, ENBD, "USD", "0.000000000001"))
    usd = net(items)["USD"]
    assert usd.gross == D("1234567890123456789012123.456789012001")  # 1,000 x big + 0.000000000001, exactly
    assert usd.positions[LEUMI] == D("1234567890123456789012123.456789011999")
    assert usd.positions[ENBD] == usd.positions[LEUMI].copy_negate()  # comparisons are exact, arithmetic is not
    with decimal.localcontext(prec=100):
        assert sum(usd.positions.values()) == 0
    entries = postings(usd, settlement_accounts=accounts(usd))
    assert entries[1].amount == D("1234567890123456789012123.456789011999")


def test_an_amount_too_long_to_sum_exactly_raises():
    huge = D("1" + "0" * 120 + ".01")
    with pytest.raises(decimal.Inexact):
        net(obligations((ENBD, LEUMI, "USD", str(huge)), (ENBD, LEUMI, "USD", "1")))


@pytest.mark.parametrize("amount", [D("0"), D("-1.00"), D("0.00")])
def test_amount_must_be_positive(amount):
    with pytest.raises(ValueError, match="amount must be > 0"):
        net([Obligation("x", ENBD, LEUMI, "USD", amount)])
    with pytest.raises(ValueError, match="amount must be > 0"):
        net_rows([("x", ENBD, LEUMI, "USD", amount)])


def test_not_a_number_and_infinity_are_refused():
    with pytest.raises(decimal.InvalidOperation):
        net([Obligation("x", ENBD, LEUMI, "USD", D("NaN"))])
    with pytest.raises(ValueError, match="sum to Infinity"):
        net([Obligation("x", ENBD, LEUMI, "USD", D("Infinity"))])


def test_a_float_amount_is_refused():
    with pytest.raises(TypeError):
        net_rows([("x", ENBD, LEUMI, "USD", 1.5)])


def test_payer_and_payee_must_differ():
    with pytest.raises(ValueError, match="both payer and payee"):
        net(obligations((ENBD, ENBD, "USD", "1.00")))


# --- Properties ----------------------------------------------------------------------------------------------------

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

amounts = st.one_of(
    st.integers(1, 10**9).map(lambda n: D(n).scaleb(-2)),  # everyday amounts, two minor units
    st.integers(1, 10**20).map(lambda n: D(n).scaleb(-2)),  # up to the largest accepted amount
    st.integers(1, 10**6).map(D),  # no minor units (JPY)
    st.integers(1, 10**9).map(lambda n: D(n).scaleb(-3)),  # three minor units (KWD)
)


@st.composite
def obligation_sets(draw, max_size=60):
    specs = draw(
        st.lists(
            st.tuples(
                st.lists(st.sampled_from(PARTICIPANTS), min_size=2, max_size=2, unique=True),
                st.sampled_from(("USD", "EUR", "PKR")),
                amounts,
            ),
            max_size=max_size,
        )
    )
    return [
        Obligation(f"o{n}", payer, payee, currency, amount)
        for n, ((payer, payee), currency, amount) in enumerate(specs)
    ]


@PROPERTY
@given(obligation_sets())
def test_positions_sum_to_exactly_zero(items):
    for result in net(items).values():
        assert sum(result.positions.values(), D(0)) == 0


@PROPERTY
@given(obligation_sets())
def test_gross_bilateral_multilateral(items):
    result = net(items)
    assert set(result) == {o.currency for o in items}
    for currency, r in result.items():
        mine = [o for o in items if o.currency == currency]
        assert r.gross == sum(o.amount for o in mine)
        assert 0 <= r.multilateral_net <= r.bilateral_net <= r.gross
        assert r.multilateral_net == -sum(amount for amount in r.positions.values() if amount < 0)
        assert r.bilateral_net == sum(abs(amount) for amount in r.bilateral_positions.values())
        assert r.efficiency == netting_efficiency(r.gross, r.multilateral_net)
        assert r.efficiency.as_tuple().exponent == -4
        assert 0 <= r.efficiency <= 1


@PROPERTY
@given(obligation_sets())
def test_positions_and_bilateral_positions_agree_with_the_obligations(items):
    for currency, r in net(items).items():
        mine = [o for o in items if o.currency == currency]
        expected: Counter = Counter()
        pairs: Counter = Counter()
        for o in mine:
            expected[o.payee] += o.amount
            expected[o.payer] -= o.amount
            a, b = sorted((o.payer, o.payee))
            pairs[(a, b)] += o.amount if o.payer == a else -o.amount
        assert r.positions == {
            code: expected[code] for code in sorted({o.payer for o in mine} | {o.payee for o in mine})
        }
        assert r.bilateral_positions == dict(sorted(pairs.items()))
        assert all(a < b for a, b in r.bilateral_positions)
        # Each participant's position is the sum of its bilateral positions.
        from_pairs: Counter = Counter()
        for (a, b), amount in r.bilateral_positions.items():
            from_pairs[a] -= amount
            from_pairs[b] += amount
        assert all(from_pairs[code] == amount for code, amount in r.positions.items())
        assert r.obligation_ids == tuple(o.id for o in mine)


@PROPERTY
@given(obligation_sets())
def test_transfers_realise_exactly_the_positions(items):
    for currency, r in net(items).items():
        balances: Counter = Counter()
        for transfer in r.transfers:
            assert transfer.currency == currency
            assert transfer.amount > 0
            assert transfer.payer != transfer.payee
            balances[transfer.payer] -= transfer.amount
            balances[transfer.payee] += transfer.amount
        assert {code: balances[code] for code in r.positions} == r.positions
        assert set(balances) <= set(r.positions)
        movers = sum(1 for amount in r.positions.values() if amount)
        assert len(r.transfers) <= max(0, movers - 1)
        assert sum(t.amount for t in r.transfers) == r.multilateral_net
        # A payer only ever pays, a payee only ever receives.
        assert {t.payer for t in r.transfers}.isdisjoint({t.payee for t in r.transfers})


@PROPERTY
@given(obligation_sets())
def test_postings_balance_and_match_the_positions(items):
    for currency, r in net(items).items():
        settlement = accounts(r)
        entries = postings(r, settlement_accounts=settlement)
        assert all(isinstance(p, Posting) and p.currency == currency for p in entries)
        assert sum(p.amount for p in entries) == 0
        by_account: Counter = Counter()
        for p in entries:
            by_account[p.account] += p.amount
        assert by_account[clearing_account(currency)] == 0
        for code, amount in r.positions.items():
            own = [p for p in entries if p.account == settlement[code]]
            if amount:
                assert [p.amount for p in own] == [amount]
            else:
                assert own == []
        # Every entry is a pair: a settlement leg followed by its opposite clearing leg.
        for leg, other in zip(entries[::2], entries[1::2], strict=True):
            assert leg.amount == -other.amount != 0
            assert (leg.counterparty, other.counterparty) == (other.account, leg.account)


@PROPERTY
@given(obligation_sets(), st.randoms(use_true_random=False))
def test_rows_and_objects_and_input_order_give_the_same_netting(items, rng):
    result = net(items)
    assert net_rows(as_rows(items)) == result
    shuffled = list(items)
    rng.shuffle(shuffled)
    again = net(shuffled)
    for currency, r in result.items():
        other = again[currency]
        assert (other.gross, other.bilateral_net, other.multilateral_net, other.efficiency) == (
            r.gross,
            r.bilateral_net,
            r.multilateral_net,
            r.efficiency,
        )
        assert (other.positions, other.bilateral_positions, other.transfers) == (
            r.positions,
            r.bilateral_positions,
            r.transfers,
        )
        assert sorted(other.obligation_ids) == sorted(r.obligation_ids)


@PROPERTY
@given(st.integers(1, 10**30), st.integers(0, 10**30))
def test_efficiency_is_the_exact_ratio_rounded_half_even_once(gross, netted_away):
    netted_away = min(netted_away, gross)
    multilateral = gross - netted_away
    exact = Fraction(netted_away, gross) * 10**4
    whole, rest = divmod(exact.numerator, exact.denominator)
    if 2 * rest > exact.denominator or (2 * rest == exact.denominator and whole % 2):
        whole += 1
    assert netting_efficiency(D(gross).scaleb(-2), D(multilateral).scaleb(-2)) == D(whole).scaleb(-4)


def test_result_type_and_many_participants():
    rng = random.Random(7)
    codes = [f"BANK{n:03d}XXXX" for n in range(200)]
    items = []
    for n in range(5000):
        payer, payee = rng.sample(codes, 2)
        items.append(Obligation(str(n), payer, payee, "USD", D(rng.randint(1, 10**8)).scaleb(-2)))
    usd = net(items)["USD"]
    assert isinstance(usd, CurrencyNetting)
    assert sum(usd.positions.values()) == 0
    assert len(usd.transfers) <= sum(1 for amount in usd.positions.values() if amount) - 1
