"""The FX engine: rate lookups, history, conversion rounding and the volatility simulation. No database."""

import ast
import math
import random
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deltran import money as money_module
from deltran.money import FX_RATE_PLACES
from fxrates.engines import fx
from fxrates.engines.fx import (
    RATE_FLOOR_FRACTION,
    NoRate,
    PairState,
    Quote,
    RateHistory,
    RateTable,
    SimulationParams,
    UnknownCurrency,
    convert,
    simulate_step,
)
from fxrates.iso4217 import minor_units

D = Decimal
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

# The seed's USD base rates (1 USD = rate X) and daily volatilities.
SEED_RATES = {
    "AED": (D("3.6725"), D("0.001")),
    "ILS": (D("3.6500"), D("0.015")),
    "PKR": (D("278.5000"), D("0.025")),
    "INR": (D("83.2500"), D("0.018")),
    "EUR": (D("0.9200"), D("0.012")),
    "GBP": (D("0.7900"), D("0.013")),
    "SAR": (D("3.7500"), D("0.001")),
}


def seed_table(at: datetime = T0) -> RateTable:
    return RateTable([Quote("USD", code, rate, at) for code, (rate, _) in SEED_RATES.items()])


def half_even_8(x: Fraction) -> Fraction:
    """x (> 0) rounded half-even to 8 places, worked out independently of the decimal module."""
    scaled = x * 10**8
    whole = scaled.numerator // scaled.denominator
    rest = scaled - whole
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and whole % 2):
        whole += 1
    return Fraction(whole, 10**8)


def test_engine_imports_only_the_standard_library_and_money():
    """No Django in the engine: it imports the standard library and deltran.money (itself Django-free), nothing else."""
    tree = ast.parse(Path(fx.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    outside = {name for name in imported if name.split(".")[0] not in sys.stdlib_module_names}
    assert outside == {"deltran.money"}
    money = ast.parse(Path(money_module.__file__).read_text())
    assert all(
        not (node.module or "").startswith("django") for node in ast.walk(money) if isinstance(node, ast.ImportFrom)
    )
    assert all(
        not alias.name.startswith("django")
        for node in ast.walk(money)
        if isinstance(node, ast.Import)
        for alias in node.names
    )


# --- Lookups ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(SEED_RATES))
def test_seed_direct_rates_to_eight_places(code):
    rate = seed_table().rate("USD", code)
    assert rate == SEED_RATES[code][0]
    assert rate.as_tuple().exponent == -8


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ("AED", "USD", "0.27229408"),  # 1 / 3.6725
        ("PKR", "USD", "0.00359066"),  # 1 / 278.5
        ("EUR", "USD", "1.08695652"),  # 1 / 0.92
        ("GBP", "USD", "1.26582278"),  # 1 / 0.79
    ],
)
def test_inverse_rates(source, target, expected):
    assert seed_table().rate(source, target) == D(expected)


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ("AED", "INR", "22.66848196"),  # 83.25 / 3.6725
        ("INR", "AED", "0.04411411"),  # 3.6725 / 83.25
        ("AED", "PKR", "75.83390061"),
        ("EUR", "GBP", "0.85869565"),
        ("GBP", "EUR", "1.16455696"),
        ("SAR", "AED", "0.97933333"),
        ("PKR", "GBP", "0.00283662"),
    ],
)
def test_cross_rates_through_usd(source, target, expected):
    rate = seed_table().rate(source, target)
    assert rate == D(expected)
    exact = Fraction(SEED_RATES[target][0]) / Fraction(SEED_RATES[source][0])
    assert Fraction(rate) == half_even_8(exact)


def test_cross_rate_is_rounded_once_not_per_leg():
    # Rounding the AED->USD leg first (0.27229408 x 83.25) would give 22.66848216.
    assert seed_table().rate("AED", "INR") == D("22.66848196")
    assert D("0.27229408") * D("83.25") == D("22.6684821600")


def test_rate_rounding_is_half_even_at_the_eighth_place():
    table = RateTable(
        [
            Quote("USD", "CHF", D("2"), T0),
            Quote("USD", "SEK", D("2.00000001"), T0),  # CHF->SEK = 1.000000005: a tie, to the even 1.00000000
            Quote("USD", "NOK", D("2.00000003"), T0),  # CHF->NOK = 1.000000015: a tie, to the even 1.00000002
            Quote("USD", "DKK", D("1.234567885"), T0),  # more places than 8: rounded too
        ]
    )
    assert table.rate("CHF", "SEK") == D("1.00000000")
    assert table.rate("CHF", "NOK") == D("1.00000002")
    assert table.rate("USD", "DKK") == D("1.23456788")


def test_same_currency_is_one():
    table = seed_table()
    assert table.rate("AED", "AED") == Decimal(1)
    assert table.rate("KWD", "KWD") == Decimal(1)  # no rate is needed to convert a currency into itself
    assert table.quote_time("AED", "AED") == T0


def test_direct_quote_preferred_to_a_cross_and_used_inverted():
    table = RateTable([*seed_table().quotes(), Quote("AED", "INR", D("22.5"), T0)])
    assert table.rate("AED", "INR") == D("22.5")
    assert table.rate("INR", "AED") == D("0.04444444")  # 1 / 22.5


def test_latest_quote_of_a_pair_wins_in_a_table():
    later = T0 + timedelta(minutes=1)
    table = RateTable([Quote("USD", "AED", D("3.68"), later), Quote("USD", "AED", D("3.67"), T0)])
    assert table.rate("USD", "AED") == D("3.68")
    assert table.quote_time("USD", "AED") == later


def test_quote_time_is_the_oldest_quote_used():
    table = RateTable(
        [
            Quote("USD", "AED", D("3.6725"), T0),
            Quote("USD", "INR", D("83.25"), T0 + timedelta(seconds=5)),
            Quote("USD", "EUR", D("0.92"), T0 + timedelta(seconds=10)),
        ]
    )
    assert table.quote_time("USD", "INR") == T0 + timedelta(seconds=5)
    assert table.quote_time("INR", "EUR") == T0 + timedelta(seconds=5)
    assert table.quote_time("EUR", "AED") == T0


@pytest.mark.parametrize(("source", "target"), [("USD", "XYZ"), ("XYZ", "AED"), ("JPY", "INR")])
def test_unknown_currency(source, target):
    table = seed_table()
    with pytest.raises(UnknownCurrency) as raised:
        table.rate(source, target)
    assert raised.value.code == "unknown_currency"
    assert isinstance(raised.value, ValueError)
    with pytest.raises(UnknownCurrency):
        table.quote_time(source, target)


def test_no_rate_when_no_path():
    # GBP is quoted only against EUR, so AED -> GBP has no leg from USD to GBP.
    table = RateTable([Quote("USD", "AED", D("3.6725"), T0), Quote("EUR", "GBP", D("0.86"), T0)])
    with pytest.raises(NoRate) as raised:
        table.rate("AED", "GBP")
    assert raised.value.code == "no_rate"
    assert table.rate("GBP", "EUR") == D("1.16279070")


def test_known_currency_without_a_quote_is_no_rate():
    table = RateTable([Quote("USD", "AED", D("3.6725"), T0)], currencies={"USD", "AED", "KWD"})
    with pytest.raises(NoRate):
        table.rate("AED", "KWD")
    with pytest.raises(UnknownCurrency):
        table.rate("AED", "JPY")


@pytest.mark.parametrize(
    "make",
    [
        lambda: Quote("USD", "AED", D("0"), T0),
        lambda: Quote("USD", "AED", D("-3.6725"), T0),
        lambda: Quote("USD", "AED", 3.6725, T0),
        lambda: Quote("USD", "USD", D("1"), T0),
        lambda: Quote("USD", "AED", D("3.6725"), datetime(2025, 1, 6, 9, 0)),
    ],
)
def test_invalid_quotes_are_refused(make):
    with pytest.raises(ValueError):
        make()


# --- Properties: inverse and cross consistency --------------------------------------------------------------------

PROPERTY_CURRENCIES = ["USD", "AED", "INR", "PKR", "EUR", "GBP", "JPY", "KWD"]
usd_rates = st.decimals(min_value=D("0.01"), max_value=D("10000"), places=4, allow_nan=False, allow_infinity=False)


@st.composite
def rate_tables(draw):
    """A table of USD quotes, each stored either as USD/X or X/USD; returns it with units of X per USD."""
    quotes, per_usd = [], {"USD": Fraction(1)}
    for code in PROPERTY_CURRENCIES[1:]:
        rate = draw(usd_rates)
        if draw(st.booleans()):
            quotes.append(Quote("USD", code, rate, T0))
            per_usd[code] = Fraction(rate)
        else:
            quotes.append(Quote(code, "USD", rate, T0))
            per_usd[code] = 1 / Fraction(rate)
    return RateTable(quotes), per_usd


currency_pairs = st.tuples(st.sampled_from(PROPERTY_CURRENCIES), st.sampled_from(PROPERTY_CURRENCIES))


@given(rate_tables(), currency_pairs)
def test_every_rate_is_the_exact_ratio_rounded_once(table_and_values, pair):
    table, per_usd = table_and_values
    source, target = pair
    exact = per_usd[target] / per_usd[source]
    expected = Fraction(1) if source == target else half_even_8(exact)
    assert Fraction(table.rate(source, target)) == expected


@given(rate_tables(), currency_pairs)
def test_inverse_consistency(table_and_values, pair):
    """r_AB = R + e1 and r_BA = 1/R + e2 with |e| <= h = 0.5e-8, so
    |r_AB r_BA - 1| = |R e2 + e1 / R + e1 e2| <= h (R + 1/R) + h^2 <= h (r_AB + r_BA + 2h) + h^2."""
    table, _ = table_and_values
    source, target = pair
    forward, backward = Fraction(table.rate(source, target)), Fraction(table.rate(target, source))
    h = Fraction(FX_RATE_PLACES) / 2
    assert abs(forward * backward - 1) <= h * (forward + backward + 2 * h) + h * h


@given(
    rate_tables(),
    currency_pairs,
    st.integers(min_value=0, max_value=10**15),
)
def test_round_trip_comes_back_within_rounding(table_and_values, pair, minor_amount):
    """A -> B -> A returns the amount up to the error the roundings can make, and no more.

    b = round_B(a r_AB) = a r_AB + d with |d| <= u_B / 2 (u: the currency's minor unit)
    a' = round_A(b r_BA) = b r_BA + d' with |d'| <= u_A / 2
    a' - a = d' + d r_BA + a (r_AB r_BA - 1), and the last factor is bounded as in test_inverse_consistency:
    |a' - a| <= u_A / 2 + r_BA u_B / 2 + |a| (h (r_AB + r_BA + 2h) + h^2), h = 0.5e-8 the rate rounding.
    """
    table, _ = table_and_values
    source, target = pair
    units_a, units_b = minor_units(source), minor_units(target)
    amount = D(minor_amount).scaleb(-units_a)
    forward, backward = table.rate(source, target), table.rate(target, source)

    there = convert(amount, forward, units_b)
    back = convert(there, backward, units_a)

    h = Fraction(FX_RATE_PLACES) / 2
    r_ab, r_ba = Fraction(forward), Fraction(backward)
    bound = (
        Fraction(1, 10**units_a) / 2
        + r_ba * Fraction(1, 10**units_b) / 2
        + Fraction(amount) * (h * (r_ab + r_ba + 2 * h) + h * h)
    )
    assert there.as_tuple().exponent == -units_b
    assert back.as_tuple().exponent == -units_a
    assert abs(Fraction(back) - Fraction(amount)) <= bound


# --- History ------------------------------------------------------------------------------------------------------


def aed_history() -> RateHistory:
    quotes = [
        Quote("USD", "AED", D("3.6800"), T0 + timedelta(hours=2)),
        Quote("USD", "AED", D("3.6725"), T0),
        Quote("USD", "AED", D("3.6750"), T0 + timedelta(hours=1)),
        Quote("USD", "INR", D("83.2500"), T0 + timedelta(minutes=30)),
        Quote("USD", "INR", D("83.5000"), T0 + timedelta(minutes=90)),
    ]
    return RateHistory(quotes)


def test_history_rate_between_quotes_is_the_earlier_one():
    history = aed_history()
    assert history.rate_at("USD", "AED", T0 + timedelta(minutes=59, seconds=59)) == D("3.6725")
    assert history.rate_at("USD", "AED", T0 + timedelta(minutes=61)) == D("3.6750")


def test_history_rate_exactly_at_a_quote_time_is_that_quote():
    history = aed_history()
    assert history.rate_at("USD", "AED", T0) == D("3.6725")
    assert history.rate_at("USD", "AED", T0 + timedelta(hours=1)) == D("3.6750")
    assert history.rate_at("AED", "USD", T0 + timedelta(hours=2)) == D("0.27173913")  # 1 / 3.68


def test_history_after_the_last_quote_keeps_it():
    assert aed_history().rate_at("USD", "AED", T0 + timedelta(days=30)) == D("3.6800")


def test_history_before_the_first_quote_is_no_rate_raised_lazily():
    history = aed_history()
    early = history.table_at(T0 - timedelta(seconds=1))  # building the table does not raise
    with pytest.raises(NoRate):
        early.rate("USD", "AED")
    with pytest.raises(NoRate):
        history.rate_at("USD", "AED", T0 - timedelta(microseconds=1))
    # AED is quoted from T0 but INR only from T0 + 30 min: the cross needs both.
    at_ten = history.table_at(T0 + timedelta(minutes=10))
    assert at_ten.rate("USD", "AED") == D("3.6725")
    with pytest.raises(NoRate):
        at_ten.rate("AED", "INR")


def test_history_cross_rate_and_quote_time():
    history = aed_history()
    at = T0 + timedelta(minutes=100)
    table = history.table_at(at)
    assert table.rate("AED", "INR") == half_even_8(Fraction(D("83.5")) / Fraction(D("3.675")))
    assert table.quote_time("AED", "INR") == T0 + timedelta(hours=1)  # the older of 60 and 90 minutes
    assert table.quote_time("AED", "AED") == at


def test_history_quote_at_and_unknown_currency():
    history = aed_history()
    assert history.quote_at("USD", "AED", T0 + timedelta(minutes=5)).rate == D("3.6725")
    assert history.quote_at("USD", "AED", T0 - timedelta(minutes=5)) is None
    with pytest.raises(UnknownCurrency):
        history.rate_at("USD", "JPY", T0)


def test_history_needs_an_aware_instant():
    with pytest.raises(ValueError):
        aed_history().table_at(datetime(2025, 1, 6, 10, 0))


# --- Conversion rounding -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [
        ("1.00", "150.50000000", "150"),  # 150.5: half-way, to the even 150
        ("1.00", "151.50000000", "152"),  # 151.5: half-way, to the even 152
        ("100.00", "151.12340000", "15112"),
        ("2.01", "151.00000000", "304"),  # 303.51
        ("0.01", "50.00000000", "0"),  # 0.5: half-way, to the even 0
    ],
)
def test_convert_to_zero_decimal_jpy(amount, rate, expected):
    result = convert(D(amount), D(rate), minor_units("JPY"))
    assert minor_units("JPY") == 0
    assert result == D(expected)
    assert result.as_tuple().exponent == 0


@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [
        ("1.00", "0.30750000", "0.308"),  # 0.3075: half-way, to the even 0.308 (up)
        ("1.00", "0.30850000", "0.308"),  # 0.3085: half-way, to the even 0.308 (down)
        ("1.00", "0.30750001", "0.308"),
        ("1.00", "0.30849999", "0.308"),
        ("1000.00", "0.30712345", "307.123"),  # 307.12345
    ],
)
def test_convert_to_three_decimal_kwd(amount, rate, expected):
    result = convert(D(amount), D(rate), minor_units("KWD"))
    assert minor_units("KWD") == 3
    assert result == D(expected)
    assert result.as_tuple().exponent == -3


def test_convert_with_a_table_rate():
    table = RateTable([Quote("USD", "JPY", D("150.5"), T0), Quote("USD", "KWD", D("0.3075"), T0)])
    assert convert(D("1.00"), table.rate("USD", "JPY"), 0) == D("150")
    assert convert(D("1.00"), table.rate("USD", "KWD"), 3) == D("0.308")
    assert convert(D("150"), table.rate("JPY", "USD"), 2) == D("1.00")  # 150 x 0.00664452 = 0.9966780


def test_convert_multiplies_exactly_before_its_one_rounding():
    # The product has 29 significant digits: 1000000003237833333.0450000001. Rounded to the default
    # 28-digit context first it would become a tie (...045) and go to the even .04; exactly, it is above the tie.
    amount, rate = D("333333333301500000.01"), D("3.00000001")
    assert convert(amount, rate, 2) == D("1000000003237833333.05")


# --- Simulation ---------------------------------------------------------------------------------------------------

STEPS = 100_000
PKR_RATE, PKR_VOLATILITY = SEED_RATES["PKR"]


def pkr_state() -> PairState:
    return PairState("USD", "PKR", PKR_RATE, PKR_VOLATILITY, PKR_RATE)


def run(state: PairState, steps: int, seed: int, params: SimulationParams):
    rng = random.Random(seed)
    ticks = []
    for _ in range(steps):
        state, tick = simulate_step(state, rng, params)
        ticks.append(tick)
    return state, ticks


def stationary_sd(volatility: Decimal, params: SimulationParams) -> float:
    """Deviation from base x_{t+1} = (1 - theta) x_t + sigma Z has Var = sigma^2 / (1 - (1 - theta)^2)."""
    theta = float(params.mean_reversion)
    sigma = float(volatility * params.step_volatility_scale)
    return sigma / math.sqrt(2 * theta - theta * theta)


@pytest.fixture(scope="module")
def pkr_with_spikes():
    return run(pkr_state(), STEPS, seed=20250106, params=SimulationParams())[1]


@pytest.fixture(scope="module")
def pkr_without_spikes():
    return run(pkr_state(), STEPS, seed=20250107, params=SimulationParams(spike_probability=D(0)))[1]


def test_default_parameters():
    params = SimulationParams()
    assert params.mean_reversion == D("0.05")
    assert params.spike_probability == D("0.001")
    assert params.spike_magnitude == D("0.05")
    # Daily volatility to a 5-second step by the square root of time.
    assert abs(float(params.step_volatility_scale) - math.sqrt(5 / 86_400)) < 1e-4
    assert SimulationParams.for_interval(5).step_volatility_scale == D("0.00760726")


@pytest.mark.parametrize(
    "overrides",
    [
        {"mean_reversion": D(0)},
        {"mean_reversion": D("1.5")},
        {"spike_probability": D("-0.1")},
        {"spike_magnitude": D(1)},
        {"step_volatility_scale": D("-1")},
    ],
)
def test_invalid_parameters_are_refused(overrides):
    with pytest.raises(ValueError):
        SimulationParams(**overrides)


def test_spike_frequency_is_binomial(pkr_with_spikes):
    p = float(SimulationParams().spike_probability)
    expected = STEPS * p  # 100
    sd = math.sqrt(STEPS * p * (1 - p))  # ~10
    spikes = [tick for tick in pkr_with_spikes if tick.is_spike]
    assert abs(len(spikes) - expected) <= 5 * sd
    assert {tick.spike_size for tick in spikes} == {D("0.05"), D("-0.05")}
    assert all(tick.spike_size is None for tick in pkr_with_spikes if not tick.is_spike)


def test_ticks_chain_and_are_quantised(pkr_with_spikes):
    assert pkr_with_spikes[0].previous == PKR_RATE
    assert all(later.previous == earlier.rate for earlier, later in pairwise(pkr_with_spikes))
    assert all(tick.rate.as_tuple().exponent == -8 for tick in pkr_with_spikes)
    assert all((tick.base, tick.quote) == ("USD", "PKR") for tick in pkr_with_spikes)


def test_mean_reversion_noise_matches_the_stationary_variance(pkr_without_spikes):
    """Without spikes the deviation is the OU process: all of it within 6 stationary sd, its sd close to theory.

    6 sd: over n = 100,000 steps P(any |x| > 6 sd) <= n P(|Z| > 6) ~= 2e-4 (union bound).
    AR(1) with phi = 1 - theta: the sample mean's sd is s sqrt((1 + phi) / ((1 - phi) n)); the sample variance's
    relative sd is sqrt(2 (1 + phi^2) / ((1 - phi^2) n)).
    """
    params = SimulationParams()
    s = stationary_sd(PKR_VOLATILITY, params)
    base = float(PKR_RATE)
    deviations = [float(tick.rate) / base - 1 for tick in pkr_without_spikes[1000:]]  # past the start-up
    n = len(deviations)
    phi = 1 - float(params.mean_reversion)

    assert max(abs(x) for x in deviations) <= 6 * s
    mean = sum(deviations) / n
    assert abs(mean) <= 5 * s * math.sqrt((1 + phi) / ((1 - phi) * n))
    variance = sum((x - mean) ** 2 for x in deviations) / n
    assert abs(variance / s**2 - 1) <= 5 * math.sqrt(2 * (1 + phi**2) / ((1 - phi**2) * n))


def spike_band(volatility: Decimal, params: SimulationParams) -> tuple[float, float]:
    """The band a pair stays in with spikes: 6 stationary sd of noise, and at most three spikes' worth stacked.

    A spike multiplies the rate by (1 +/- m) and then decays by (1 - theta) per step (half-life ~14 steps).
    Getting past three full spikes needs four or more within a few half-lives: about n p (k p)^3 / 3! with a
    window k ~ 40 steps, ~1e-4 over the run.
    """
    s = stationary_sd(volatility, params)
    m = float(params.spike_magnitude)
    return (1 - m) ** 3 * (1 - 6 * s), (1 + m) ** 3 * (1 + 6 * s)


def test_mean_reversion_keeps_rates_in_a_band(pkr_with_spikes):
    params = SimulationParams()
    low, high = spike_band(PKR_VOLATILITY, params)  # ~0.854 and ~1.162 of base
    ratios = [float(tick.rate / PKR_RATE) for tick in pkr_with_spikes]
    assert low <= min(ratios) and max(ratios) <= high
    # The band is not idle: spikes took the rate well away from base, and it came back.
    assert max(abs(r - 1) for r in ratios) > float(params.spike_magnitude) / 2
    assert abs(ratios[-1] - 1) < 0.01


def test_long_run_mean_is_close_to_base(pkr_with_spikes):
    """Each spike adds an area of about m / theta (relative deviation x steps) with a random sign, so the spikes
    move the long-run mean by (m / theta) sqrt(p / n) in sd; the noise by s sqrt((1 + phi) / ((1 - phi) n))."""
    params = SimulationParams()
    theta, p, m = float(params.mean_reversion), float(params.spike_probability), float(params.spike_magnitude)
    s, n, phi = stationary_sd(PKR_VOLATILITY, params), len(pkr_with_spikes), 1 - theta
    standard_error = math.hypot((m / theta) * math.sqrt(p / n), s * math.sqrt((1 + phi) / ((1 - phi) * n)))
    mean_ratio = sum(float(tick.rate) for tick in pkr_with_spikes) / n / float(PKR_RATE)
    assert abs(mean_ratio - 1) <= 5 * standard_error


def test_without_mean_reversion_the_same_path_leaves_the_band():
    """The band test has teeth: a walk that hardly reverts (theta = 1e-7) drifts out of it on the same seed."""
    params = SimulationParams(mean_reversion=D("0.0000001"))
    low, high = spike_band(PKR_VOLATILITY, SimulationParams())
    _, ticks = run(pkr_state(), STEPS, seed=20250106, params=params)
    ratios = [float(tick.rate / PKR_RATE) for tick in ticks]
    assert min(ratios) < low or max(ratios) > high


def test_a_spike_jumps_by_the_magnitude():
    params = SimulationParams(spike_probability=D(1))
    state = PairState("USD", "EUR", D("0.92"), D(0), D("0.92"))  # no noise: the move is the spike alone
    rng = random.Random(7)
    sizes = set()
    for _ in range(50):
        _, tick = simulate_step(state, rng, params)
        assert tick.is_spike
        assert tick.rate == (D("0.92") * (1 + tick.spike_size)).quantize(FX_RATE_PLACES)
        sizes.add(tick.spike_size)
    assert sizes == {D("0.05"), D("-0.05")}


@given(
    seed=st.integers(min_value=0, max_value=2**32),
    base_rate=st.decimals(min_value=D("0.0001"), max_value=D("100000"), places=4),
    volatility=st.decimals(min_value=D(0), max_value=D(50), places=3),
    magnitude=st.decimals(min_value=D(0), max_value=D("0.99"), places=2),
)
def test_rates_never_reach_zero(seed, base_rate, volatility, magnitude):
    params = SimulationParams(step_volatility_scale=D(1), spike_probability=D("0.2"), spike_magnitude=magnitude)
    floor = max((base_rate * RATE_FLOOR_FRACTION).quantize(FX_RATE_PLACES), FX_RATE_PLACES)
    _, ticks = run(PairState("USD", "XTS", base_rate, volatility, base_rate), 50, seed, params)
    assert all(tick.rate >= floor > 0 for tick in ticks)


def test_wild_volatility_is_held_at_the_floor():
    # Per-step sigma of 100% of base: without the floor, about a sixth of the steps would go to or below zero.
    params = SimulationParams(step_volatility_scale=D(1))
    _, ticks = run(PairState("USD", "PKR", PKR_RATE, D(1), PKR_RATE), 200, seed=1, params=params)
    floor = PKR_RATE * RATE_FLOOR_FRACTION
    assert min(tick.rate for tick in ticks) == floor == D("2.785")


def test_simulation_is_deterministic_for_a_seed():
    first = run(pkr_state(), 2000, seed=42, params=SimulationParams(spike_probability=D("0.01")))
    second = run(pkr_state(), 2000, seed=42, params=SimulationParams(spike_probability=D("0.01")))
    other = run(pkr_state(), 2000, seed=43, params=SimulationParams(spike_probability=D("0.01")))
    assert first == second
    assert first[1] != other[1]
    assert any(tick.is_spike for tick in first[1])
