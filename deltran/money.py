"""Money helpers: the one place amounts are quantised to a currency's minor units."""

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# Banker's rounding: the rule for every amount DelTran computes (FX legs, fees, splits).
ROUNDING = ROUND_HALF_EVEN
FX_RATE_PLACES = Decimal("0.00000001")
# Largest amount accepted on one payment, in any currency (18 integer digits).
MAX_AMOUNT = Decimal("999999999999999999")


def minor_unit_exponent(minor_units: int) -> Decimal:
    return Decimal(1).scaleb(-minor_units)


def quantize_amount(amount: Decimal, minor_units: int) -> Decimal:
    return amount.quantize(minor_unit_exponent(minor_units), rounding=ROUNDING)


def decimal_places(amount: Decimal) -> int:
    """Significant decimal places: 10.50 has one, 10.00 none."""
    normalised = amount.normalize()
    exponent = normalised.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


# Plain decimal notation in ASCII digits: no exponent, no digit separators, no other scripts' digits.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def parse_decimal(value) -> Decimal:
    """A Decimal from a JSON string or number in plain notation ("1250.50"); floats are refused (they are not exact)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidOperation("not an exact decimal")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidOperation("not a finite decimal")
        value = format(value, "f")
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str) or not _PLAIN_DECIMAL.fullmatch(value.strip()):
        raise InvalidOperation("not a plain decimal number")
    return Decimal(value.strip())


def amount_str(amount: Decimal, minor_units: int) -> str:
    """The amount as JSON and CSV carry it: a plain decimal string with the currency's minor units."""
    return format(quantize_amount(amount, minor_units), "f")
