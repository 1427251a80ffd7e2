"""The pure rebalancing engine (liquidity/engines/rebalance.py): no database.

Examples use the seed's pool and USD base rates; property tests (hypothesis) check that a rebalance conserves
value up to its FX cost and a bounded rounding, never creates money, keeps every currency within its minimum and
maximum, fills what it can, and does nothing while every currency is within the threshold.
"""

import ast
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fxrates.engines.fx import Quote, RateTable
from liquidity.engines import rebalance
from liquidity.engines.rebalance import Move, PoolCurrency, plan_rebalance

D = Decimal
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
MILLION = D(1_000_000)
SPREAD = D("0.0005")

# The seed's USD base rates: 1 USD = rate X.
SEED_RATES = {
    "AED": D("3.6725"),
    "ILS": D("3.6500"),
    "PKR": D("278.5000"),
    "INR": D("83.2500"),
    "EUR": D("0.9200"),
    "GBP": D("0.7900"),
    "SAR": D("3.7500"),
}
SEED_TABLE = RateTable([Quote("USD", code, rate, T0) for code, rate in SEED_RATES.items()])


def millions(code, available, minimum, target, maximum, minor_units=2):
    return PoolCurrency(
        code, D(available) * MILLION, D(minimum) * MILLION, D(target) * MILLION, D(maximum) * MILLION, minor_units
    )


# The seed's pool (in millions): available, minimum, target, maximum. Every currency holds twice its target.
SEED_POOL = [
    millions("USD", 2000, 500, 1000, 3000),
    millions("EUR", 500, 100, 250, 750),
    millions("GBP", 300, 75, 150, 450),
    millions("AED", 1000, 250, 500, 1500),
    millions("ILS", 500, 125, 250, 750),
    millions("PKR", 50000, 12500, 25000, 75000),
    millions("INR", 60000, 15000, 30000, 90000),
]


def seed_pool(**available_millions):
    """The seed's pool with every currency at its target, except the given ones (available, in millions)."""
    pool = []
    for balance in SEED_POOL:
        available = D(available_millions.get(balance.currency, balance.target / MILLION)) * MILLION
        pool.append(PoolCurrency(balance.currency, available, balance.minimum, balance.target, balance.maximum, 2))
    return pool


def test_engine_imports_no_django():
    tree = ast.parse(Path(rebalance.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    outside = {name for name in imported if name.split(".")[0] not in sys.stdlib_module_names}
    assert outside == {"deltran.money"}


# --- Examples ------------------------------------------------------------------------------------------------------


def test_seed_pool_as_seeded_is_beyond_threshold_everywhere_but_has_nothing_to_fill():
    # Every currency is 100 % above its target: beyond the 20 % threshold, but no currency is short, and
    # rebalancing only moves value between currencies (it does not withdraw it).
    plan = plan_rebalance(SEED_POOL, SEED_TABLE)
    assert plan.beyond_threshold == ("AED", "EUR", "GBP", "ILS", "INR", "PKR", "USD")
    assert plan.moves == ()
    assert plan.is_noop
    assert plan.after == plan.before
    assert plan.value_after_usd == plan.value_before_usd
    assert plan.fx_cost_usd == plan.rounding_usd == 0


def test_seed_pool_usd_far_above_target_funds_eur_and_gbp():
    # USD 2,000m (target 1,000m: +100 %), EUR 150m (target 250m: -40 %), GBP 100m (target 150m: -33 %).
    # USD values: u(EUR) = rate(EUR, USD) = 1 / 0.92 = 1.08695652; u(GBP) = 1 / 0.79 = 1.26582278.
    # EUR is short 100m EUR = 108,695,652.00 USD, GBP 50m GBP = 63,291,139.00 USD: EUR first.
    # USD -> EUR: 108,695,652.00 / (1 - 0.0005) = 108,750,027.0135... -> the smallest cent amount that covers it,
    #   108,750,027.02; FX cost 0.0005 x that = 54,375.01351; proceeds 108,695,652.00649 USD buy exactly
    #   100,000,000.00 EUR (worth 108,695,652.00): 0.00649 USD is rounding.
    # USD -> GBP: 63,291,139.00 / 0.9995 = 63,322,800.4002... -> 63,322,800.41; FX cost 31,661.400205;
    #   proceeds 63,291,139.009795 buy exactly 50,000,000.00 GBP: 0.009795 USD is rounding.
    plan = plan_rebalance(seed_pool(USD=2000, EUR=150, GBP=100), SEED_TABLE)
    assert plan.beyond_threshold == ("EUR", "GBP", "USD")
    assert plan.moves == (
        Move("USD", "EUR", D("108750027.02"), D("100000000.00"), D("0.92000000"), D("54375.013510")),
        Move("USD", "GBP", D("63322800.41"), D("50000000.00"), D("0.79000000"), D("31661.400205")),
    )
    assert plan.after["EUR"] == plan.after["GBP"] / D(150) * D(250) == D("250000000.00")  # both on target
    assert plan.after["USD"] == D("2000000000") - D("108750027.02") - D("63322800.41") == D("1827927172.57")
    assert {code: plan.after[code] for code in ("AED", "ILS", "PKR", "INR")} == {
        code: plan.before[code] for code in ("AED", "ILS", "PKR", "INR")
    }
    assert plan.fx_cost_usd == D("86036.413715")
    assert plan.rounding_usd == D("0.016285")  # 0.00649 + 0.009795
    assert plan.value_before_usd - plan.value_after_usd == plan.fx_cost_usd + plan.rounding_usd


def test_insufficient_surplus_fills_what_it_can_largest_deficit_first():
    # USD 1,100m (+10 %: within the threshold, but a surplus of 100m USD); EUR 100m (-60 %: short 150m EUR =
    # 163,043,478.00 USD) and GBP 100m (-33 %: short 63,291,139.00 USD). EUR, the larger deficit, is filled first
    # and takes the whole surplus; nothing is left for GBP.
    plan = plan_rebalance(seed_pool(USD=1100, EUR=100, GBP=100), SEED_TABLE)
    assert [(m.source, m.target) for m in plan.moves] == [("USD", "EUR")]
    (move,) = plan.moves
    assert move.source_amount == D("100000000.00")
    assert move.fx_cost == D("50000.0000")
    # Proceeds 99,950,000.00 USD / 1.08695652 = 91,954,000.1471... EUR, rounded down to the cent.
    assert move.target_amount == D("91954000.14")
    assert plan.after["USD"] == D("1000000000.00")  # exactly on target, never below it
    assert plan.after["EUR"] == D("191954000.14")
    assert plan.after["GBP"] == D("100000000")
    assert 0 <= plan.rounding_usd < D("0.01") * D("1.08695652")


def test_within_threshold_deficit_is_filled_only_from_a_beyond_threshold_surplus():
    # USD +100 % (beyond), EUR -10 % (within): the USD surplus comes down by filling EUR.
    plan = plan_rebalance(seed_pool(USD=2000, EUR=225), SEED_TABLE)
    assert [(m.source, m.target, m.target_amount) for m in plan.moves] == [("USD", "EUR", D("25000000.00"))]
    # USD +10 % and EUR -10 % (both within), GBP -40 % (beyond): GBP is filled, EUR is left alone.
    plan = plan_rebalance(seed_pool(USD=1100, EUR=225, GBP=90), SEED_TABLE)
    assert [(m.source, m.target) for m in plan.moves] == [("USD", "GBP")]
    assert plan.after["EUR"] == D("225000000")


def test_largest_surplus_is_used_first_and_cross_currency_moves_are_priced_through_usd():
    # GBP short 100m GBP (126,582,278.00 USD); surpluses: AED 100m AED (27,229,408.00 USD) and EUR 50m EUR
    # (54,347,826.00 USD). EUR, the larger surplus, first; then AED; still short after both.
    plan = plan_rebalance(seed_pool(GBP=50, AED=600, EUR=300), SEED_TABLE)
    assert [(m.source, m.target) for m in plan.moves] == [("EUR", "GBP"), ("AED", "GBP")]
    eur_gbp, aed_gbp = plan.moves
    assert eur_gbp.rate == D("0.85869565")  # u(EUR) / u(GBP) = 1.08695652 / 1.26582278 (0.79 / 0.92 = 0.858695652)
    assert aed_gbp.rate == D("0.21511232")  # 0.27229408 / 1.26582278 = 0.2151123240 (0.79 / 3.6725 = 0.2151123213)
    assert plan.after["EUR"] == D("250000000.00")
    assert plan.after["AED"] == D("500000000.00")
    assert plan.after["GBP"] < D("150000000")


def test_a_surplus_too_small_for_one_sink_still_serves_the_next():
    # Found by hypothesis. 1 EUR = 10 USD, 1 GBP = 9.99000999 USD, 1 INR = 1.42836738 USD. EUR and GBP are each
    # short one cent; INR's whole surplus (0.07 INR = 0.0999857 USD) cannot buy a EUR cent (0.10 USD), the larger
    # shortfall, served first; it can buy a GBP cent (0.0999001 USD).
    table = RateTable(
        [Quote("USD", code, D(rate), T0) for code, rate in (("EUR", "0.1"), ("GBP", "0.1001"), ("INR", "0.7001"))]
    )
    pool = [
        PoolCurrency("EUR", D("0"), D("0"), D("0.01"), D("0.01"), 2),
        PoolCurrency("GBP", D("0"), D("0"), D("0.01"), D("0.01"), 2),
        PoolCurrency("INR", D("0.07"), D("0"), D("0"), D("0"), 2),
    ]
    plan = plan_rebalance(pool, table, fx_spread=D(0))
    assert [(m.source, m.target, m.source_amount, m.target_amount) for m in plan.moves] == [
        ("INR", "GBP", D("0.07"), D("0.01"))
    ]
    assert plan.after == {"EUR": D("0"), "GBP": D("0.01"), "INR": D("0.00")}


def test_exactly_at_the_threshold_is_within_it():
    assert plan_rebalance(seed_pool(EUR=200, USD=1200), SEED_TABLE).moves == ()  # -20 % and +20 % exactly
    plan = plan_rebalance(seed_pool(EUR=D("199.99"), USD=1200), SEED_TABLE)
    assert plan.beyond_threshold == ("EUR",)
    assert [(m.source, m.target) for m in plan.moves] == [("USD", "EUR")]


def test_threshold_and_spread_are_parameters():
    plan = plan_rebalance(seed_pool(EUR=225, USD=1100), SEED_TABLE, threshold=D("0.05"), fx_spread=D(0))
    assert [(m.source, m.target) for m in plan.moves] == [("USD", "EUR")]
    assert plan.fx_cost_usd == 0
    assert plan.moves[0].target_amount == D("25000000.00")
    assert plan.moves[0].source_amount == D("27173913.00")  # 25m x 1.08695652, no spread


def test_empty_pool():
    plan = plan_rebalance([], SEED_TABLE)
    assert plan.moves == () and plan.before == plan.after == {}
    assert plan.value_before_usd == plan.value_after_usd == plan.fx_cost_usd == plan.rounding_usd == 0


def test_invalid_input_is_refused():
    with pytest.raises(ValueError, match="minimum <= target <= maximum"):
        PoolCurrency("EUR", D(1), D(5), D(4), D(10), 2)
    with pytest.raises(ValueError, match="minor units"):
        PoolCurrency("EUR", D(1), D(1), D(4), D(10), -1)
    with pytest.raises(ValueError, match="finite Decimal"):
        PoolCurrency("EUR", 1.5, D(1), D(4), D(10), 2)
    with pytest.raises(ValueError, match="twice"):
        plan_rebalance([SEED_POOL[0], SEED_POOL[0]], SEED_TABLE)
    with pytest.raises(ValueError, match="threshold"):
        plan_rebalance(SEED_POOL, SEED_TABLE, threshold=D("-0.1"))
    with pytest.raises(ValueError, match="fx_spread"):
        plan_rebalance(SEED_POOL, SEED_TABLE, fx_spread=D(1))


# --- Properties ----------------------------------------------------------------------------------------------------

THRESHOLD = D("0.20")
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MINOR_UNITS = {"USD": 2, "EUR": 2, "GBP": 2, "AED": 2, "PKR": 2, "INR": 2, "JPY": 0, "KWD": 3}


def unit(minor_units):
    return D(1).scaleb(-minor_units)


@st.composite
def pools(draw, threshold=THRESHOLD, within=False):
    """A random pool on the minor-unit grid, its rate table; with ``within``, every currency within the threshold."""
    codes = draw(st.lists(st.sampled_from(sorted(MINOR_UNITS)), min_size=1, max_size=6, unique=True))
    quotes = [
        Quote("USD", code, D(draw(st.integers(1_000, 5_000_000))).scaleb(-4), T0) for code in codes if code != "USD"
    ]
    table = RateTable(quotes, currencies=codes)
    balances = []
    for code in codes:
        places = MINOR_UNITS[code]
        target = D(draw(st.one_of(st.just(0), st.integers(1, 10**13)))).scaleb(-places)
        minimum = (target * draw(st.integers(0, 100)) / 100).quantize(unit(places))
        maximum = target + (target * draw(st.integers(0, 200)) / 100).quantize(unit(places))
        if within:
            band = int((target * threshold).scaleb(places))
            available = target + D(draw(st.integers(-band, band))).scaleb(-places)
        else:
            available = (target * draw(st.integers(0, 300)) / 100).quantize(unit(places))
            available = max(D(0), available + D(draw(st.integers(-1000, 1000))).scaleb(-places))
        balances.append(PoolCurrency(code, available, minimum, target, maximum, places))
    return balances, table


spreads = st.sampled_from([D(0), D("0.0005"), D("0.01")])
thresholds = st.sampled_from([D(0), D("0.05"), D("0.20"), D("0.5")])


def usd_rates(balances, table):
    return {b.currency: table.rate(b.currency, "USD") for b in balances}


@PROPERTY
@given(pools(), thresholds, spreads)
def test_value_is_conserved_up_to_fx_cost_and_rounding_and_never_created(pool, threshold, spread):
    balances, table = pool
    plan = plan_rebalance(balances, table, threshold=threshold, fx_spread=spread)
    usd = usd_rates(balances, table)
    places = {b.currency: b.minor_units for b in balances}
    assert plan.value_before_usd == sum(b.available * usd[b.currency] for b in balances)
    assert plan.value_after_usd == sum(plan.after[code] * usd[code] for code in plan.after)
    assert plan.fx_cost_usd == sum(move.fx_cost for move in plan.moves)
    assert plan.value_before_usd == plan.value_after_usd + plan.fx_cost_usd + plan.rounding_usd  # exactly
    # The documented bound: per move, >= 0 and below one minor unit of its source or target currency, in USD.
    bound = D(0)
    for move in plan.moves:
        proceeds = move.source_amount * usd[move.source] - move.fx_cost
        residue = proceeds - move.target_amount * usd[move.target]
        unit_values = (unit(places[move.source]) * usd[move.source], unit(places[move.target]) * usd[move.target])
        assert 0 <= residue < max(unit_values)
        assert move.fx_cost == spread * move.source_amount * usd[move.source]
        bound += max(unit_values)
    assert 0 <= plan.rounding_usd <= bound
    if plan.moves:
        assert plan.rounding_usd < bound
    else:
        assert plan.rounding_usd == 0


@PROPERTY
@given(pools(), thresholds, spreads)
def test_sources_stay_above_minimum_and_sinks_below_maximum(pool, threshold, spread):
    balances, table = pool
    plan = plan_rebalance(balances, table, threshold=threshold, fx_spread=spread)
    by_code = {b.currency: b for b in balances}
    sources = {m.source for m in plan.moves}
    sinks = {m.target for m in plan.moves}
    assert sources.isdisjoint(sinks)
    for code in sources:
        assert plan.after[code] >= by_code[code].target >= by_code[code].minimum
        assert plan.after[code] < plan.before[code]
    for code in sinks:
        assert plan.after[code] <= by_code[code].target <= by_code[code].maximum
        assert plan.after[code] > plan.before[code]
    for code, balance in by_code.items():
        moved_out = sum((m.source_amount for m in plan.moves if m.source == code), D(0))
        moved_in = sum((m.target_amount for m in plan.moves if m.target == code), D(0))
        assert plan.after[code] == balance.available - moved_out + moved_in
        assert plan.after[code].as_tuple().exponent >= -balance.minor_units  # still on the minor-unit grid
    for move in plan.moves:
        assert move.source_amount > 0 and move.target_amount > 0
        assert move.source_amount.as_tuple().exponent >= -by_code[move.source].minor_units
        assert move.target_amount.as_tuple().exponent >= -by_code[move.target].minor_units
        assert move.source in plan.beyond_threshold or move.target in plan.beyond_threshold
        assert move.rate.as_tuple().exponent == -8


@PROPERTY
@given(pools(), thresholds, spreads)
def test_fills_what_it_can(pool, threshold, spread):
    balances, table = pool
    plan = plan_rebalance(balances, table, threshold=threshold, fx_spread=spread)
    if not plan.beyond_threshold:
        return
    usd = usd_rates(balances, table)
    by_code = {b.currency: b for b in balances}
    beyond = set(plan.beyond_threshold)
    for sink, balance in by_code.items():
        if plan.after[sink] >= balance.target:
            continue
        # Still short: every source it may draw on has too little left to buy one minor unit of it.
        one_unit_usd = unit(balance.minor_units) * usd[sink]
        for source, other in by_code.items():
            if source == sink or plan.after[source] <= other.target:
                continue
            if sink in beyond or source in beyond:
                assert (plan.after[source] - other.target) * usd[source] * (1 - spread) < one_unit_usd


@PROPERTY
@given(pools(within=True), spreads)
def test_no_move_while_every_currency_is_within_the_threshold(pool, spread):
    balances, table = pool
    plan = plan_rebalance(balances, table, threshold=THRESHOLD, fx_spread=spread)
    assert plan.beyond_threshold == ()
    assert plan.moves == ()
    assert plan.after == plan.before
    assert plan.fx_cost_usd == plan.rounding_usd == 0


@PROPERTY
@given(pools(), st.randoms(use_true_random=False))
def test_the_plan_does_not_depend_on_input_order(pool, rng):
    balances, table = pool
    shuffled = list(balances)
    rng.shuffle(shuffled)
    assert plan_rebalance(shuffled, table) == plan_rebalance(balances, table)
