"""Money helpers (minor units, banker's rounding, exact parsing) and time-ordered UUIDs. No database."""

import time
import uuid
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deltran.ids import uuid7
from deltran.money import (
    FX_RATE_PLACES,
    ROUNDING,
    amount_str,
    decimal_places,
    minor_unit_exponent,
    parse_decimal,
    quantize_amount,
)

# --- decimal_places -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, places",
    [
        ("10", 0),
        ("10.00", 0),
        ("10.50", 1),
        ("10.05", 2),
        ("100", 0),
        ("1E+3", 0),
        ("0", 0),
        ("0.000", 0),
        ("0.001", 3),
        ("1E-8", 8),
        ("-0.25", 2),
        ("125000.5000", 1),
        ("123456789012345678.99", 2),
    ],
)
def test_decimal_places_counts_significant_places(text, places):
    assert decimal_places(Decimal(text)) == places


def test_decimal_places_of_non_finite_values_is_zero():
    assert decimal_places(Decimal("Infinity")) == 0
    assert decimal_places(Decimal("NaN")) == 0


# --- quantize_amount: banker's rounding ---------------------------------------------------------


def test_the_rounding_rule_is_half_even():
    assert ROUNDING == ROUND_HALF_EVEN
    assert FX_RATE_PLACES == Decimal("0.00000001")


@pytest.mark.parametrize(
    "amount, minor_units, expected",
    [
        ("2.345", 2, "2.34"),  # half to even: down
        ("2.355", 2, "2.36"),  # half to even: up
        ("2.3450001", 2, "2.35"),  # above half: up
        ("0.125", 2, "0.12"),
        ("0.135", 2, "0.14"),
        ("-2.345", 2, "-2.34"),
        ("-2.355", 2, "-2.36"),
        ("0.5", 0, "0"),
        ("1.5", 0, "2"),
        ("2.5", 0, "2"),
        ("1.0005", 3, "1.000"),
        ("1.0015", 3, "1.002"),
        ("10", 2, "10.00"),
        ("125000.5", 2, "125000.50"),
    ],
)
def test_quantize_amount_rounds_half_to_even(amount, minor_units, expected):
    result = quantize_amount(Decimal(amount), minor_units)
    assert str(result) == expected
    assert result.as_tuple().exponent == -minor_units


def test_minor_unit_exponent():
    assert minor_unit_exponent(2) == Decimal("0.01")
    assert minor_unit_exponent(0) == Decimal("1")
    assert minor_unit_exponent(3) == Decimal("0.001")


@pytest.mark.parametrize(
    "amount, minor_units, expected",
    [("1", 2, "1.00"), ("1234567.891", 3, "1234567.891"), ("5.5", 0, "6"), ("1E+3", 2, "1000.00")],
)
def test_amount_str_is_a_plain_string_with_the_minor_units(amount, minor_units, expected):
    assert amount_str(Decimal(amount), minor_units) == expected


@given(
    st.decimals(min_value=Decimal("-1e15"), max_value=Decimal("1e15"), allow_nan=False, allow_infinity=False, places=6),
    st.integers(min_value=0, max_value=4),
)
def test_quantize_amount_moves_an_amount_by_at_most_half_a_minor_unit(amount, minor_units):
    result = quantize_amount(amount, minor_units)
    unit = minor_unit_exponent(minor_units)
    assert abs(result - amount) <= unit / 2
    assert decimal_places(result) <= minor_units
    assert quantize_amount(result, minor_units) == result


# --- parse_decimal ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("125000.50", Decimal("125000.50")),
        (" 12.5 ", Decimal("12.5")),
        ("-0.01", Decimal("-0.01")),
        (Decimal("1E+3"), Decimal("1000")),  # a JSON number in exponent form, already parsed exactly
        (42, Decimal(42)),
        (Decimal("0.10"), Decimal("0.10")),
    ],
)
def test_parse_decimal_reads_strings_ints_and_decimals_exactly(value, expected):
    result = parse_decimal(value)
    assert isinstance(result, Decimal)
    assert result == expected
    assert str(result) == str(expected)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(0.1, id="float"),
        pytest.param(125000.5, id="float-exact"),
        pytest.param(float("nan"), id="float-nan"),
        pytest.param(float("inf"), id="float-inf"),
        pytest.param(True, id="true"),
        pytest.param(False, id="false"),
        pytest.param("NaN", id="NaN"),
        pytest.param("nan", id="nan"),
        pytest.param("sNaN", id="sNaN"),
        pytest.param("Infinity", id="Infinity"),
        pytest.param("-Infinity", id="-Infinity"),
        pytest.param("inf", id="inf"),
        pytest.param(Decimal("NaN"), id="Decimal-NaN"),
        pytest.param(Decimal("-Infinity"), id="Decimal-Infinity"),
        pytest.param("", id="empty"),
        pytest.param("abc", id="text"),
        pytest.param("1,000.00", id="thousands-separator"),
        pytest.param("1_000.00", id="underscore-separator"),
        pytest.param("1E+3", id="exponent-string"),
        pytest.param("+5", id="plus-sign"),
        pytest.param("١٢٣", id="arabic-indic-digits"),
        pytest.param("12.", id="trailing-point"),
        pytest.param(None, id="None"),
        pytest.param([], id="list"),
        pytest.param({"amount": "1"}, id="dict"),
    ],
)
def test_parse_decimal_refuses_floats_booleans_and_non_finite_values(value):
    with pytest.raises(InvalidOperation):
        parse_decimal(value)


# --- uuid7 -------------------------------------------------------------------------------------------


def test_uuid7_is_version_7_with_the_rfc_4122_variant():
    for _ in range(1000):
        value = uuid7()
        assert isinstance(value, uuid.UUID)
        assert value.version == 7
        assert value.variant == uuid.RFC_4122
        assert value.hex[12] == "7"
        assert value.hex[16] in "89ab"


def test_uuid7_carries_the_unix_time_in_milliseconds():
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after


def test_uuid7_is_ordered_across_milliseconds():
    values = []
    for _ in range(20):
        values.append(uuid7())
        start = time.monotonic_ns()
        while time.monotonic_ns() - start < 1_100_000:  # wait out the millisecond
            pass
    assert values == sorted(values)
    assert [value.int >> 80 for value in values] == sorted({value.int >> 80 for value in values})


def test_uuid7_is_unique_over_ten_thousand():
    values = [uuid7() for _ in range(10_000)]
    assert len(set(values)) == 10_000
    # And the ordering is by time first: never decreasing from one millisecond to the next.
    stamps = [value.int >> 80 for value in values]
    assert stamps == sorted(stamps)


def test_uuid7_random_bits_vary():
    values = [uuid7().int & ((1 << 62) - 1) for _ in range(100)]
    assert len(set(values)) == 100
