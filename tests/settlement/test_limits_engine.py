"""The pure net debit cap maths (settlement/engines/limits.py): no database."""

import ast
import sys
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from settlement.engines import limits
from settlement.engines.limits import alerts_due, fits_limit, utilisation

D = Decimal
money = st.decimals(min_value=0, max_value=10**15, places=2, allow_nan=False, allow_infinity=False)


def test_engine_imports_no_django():
    tree = ast.parse(Path(limits.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {name for name in imported if name.split(".")[0] not in sys.stdlib_module_names} == set()


def test_exactly_at_the_limit_fits():
    assert fits_limit(debit=D("900"), credit=D("0"), amount=D("100"), limit=D("1000"))
    assert not fits_limit(debit=D("900"), credit=D("0"), amount=D("100.01"), limit=D("1000"))
    # What the bank is owed counts against what it owes.
    assert fits_limit(debit=D("900"), credit=D("500"), amount=D("600"), limit=D("1000"))


def test_utilisation_rounds_down_and_is_zero_when_owed():
    assert utilisation(debit=D("799.999"), credit=D(0), limit=D(1000)) == D("0.7999")
    assert utilisation(debit=D("100"), credit=D("200"), limit=D(1000)) == D("0.0000")
    assert utilisation(debit=D("100"), credit=D(0), limit=D(0)) is None
    assert utilisation(debit=D("2000"), credit=D(0), limit=D(1000)) == D("2.0000")


def test_alerts_once_per_threshold():
    assert alerts_due(used=D("0.7999"), alerted=None) == []
    assert alerts_due(used=D("0.8000"), alerted=None) == [D("0.80")]
    assert alerts_due(used=D("0.9700"), alerted=None) == [D("0.80"), D("0.95")]
    assert alerts_due(used=D("0.9700"), alerted=D("0.80")) == [D("0.95")]
    assert alerts_due(used=D("1.2"), alerted=D("0.95")) == []
    assert alerts_due(used=None, alerted=None) == []


@given(debit=money, credit=money, amount=money, limit=money)
def test_a_payment_that_fits_never_takes_the_net_debit_past_the_limit(debit, credit, amount, limit):
    if fits_limit(debit=debit, credit=credit, amount=amount, limit=limit):
        assert (debit + amount) - credit <= limit
    else:
        assert (debit + amount) - credit > limit


@given(debit=money, credit=money, limit=money.filter(lambda x: x > 0))
def test_a_shown_utilisation_never_reaches_a_threshold_the_exact_one_has_not(debit, credit, limit):
    shown = utilisation(debit=debit, credit=credit, limit=limit)
    exact = max(debit - credit, D(0)) / limit
    for threshold in limits.ALERT_THRESHOLDS:
        assert (shown >= threshold) == (exact >= threshold)
