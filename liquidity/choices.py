"""Kinds of pool movement and their signs, rebalance triggers and outcomes, and the states of a pool balance."""

from django.db import models


class MovementKind(models.TextChoices):
    # A cross-currency payment's first leg: the payer pays the pool in the payment currency.
    FX_LEG_IN = "fx_leg_in", "FX leg in"
    # Its second leg: the pool pays the payee in the settlement currency.
    FX_LEG_OUT = "fx_leg_out", "FX leg out"
    REBALANCE_OUT = "rebalance_out", "Rebalance out"
    REBALANCE_IN = "rebalance_in", "Rebalance in"
    FX_COST = "fx_cost", "FX cost"
    ADJUSTMENT = "adjustment", "Adjustment"
    # The pool lends a bank the shortfall of its settlement account in a netting cycle (pool → bank).
    SHORTFALL_LOAN = "shortfall_loan", "Shortfall loan"
    # A bank repays such a loan out of its net credit in a later cycle (bank → pool).
    LOAN_REPAYMENT = "loan_repayment", "Loan repayment"


# The sign a movement of each kind must have: +1 adds to the balance, -1 takes from it, 0 either.
MOVEMENT_SIGNS: dict[str, int] = {
    MovementKind.FX_LEG_IN: 1,
    MovementKind.FX_LEG_OUT: -1,
    MovementKind.REBALANCE_OUT: -1,
    MovementKind.REBALANCE_IN: 1,
    MovementKind.FX_COST: -1,
    MovementKind.ADJUSTMENT: 0,
    MovementKind.SHORTFALL_LOAN: -1,
    MovementKind.LOAN_REPAYMENT: 1,
}


class RebalanceTrigger(models.TextChoices):
    BEAT = "beat", "Scheduled (Celery beat)"
    OPERATOR = "operator", "Operator"
    COMMAND = "command", "Management command"


class RebalanceStatus(models.TextChoices):
    APPLIED = "applied", "Applied"
    # Asked for by a person (page, API, command) when nothing was beyond the threshold or nothing could move;
    # a scheduled run that finds nothing to do records nothing.
    NOOP = "noop", "Nothing to move"


class BalanceState(models.TextChoices):
    """Where a currency's balance stands against its thresholds, worst first."""

    BELOW_MINIMUM = "below_minimum", "Below minimum"
    ABOVE_MAXIMUM = "above_maximum", "Above maximum"
    BEYOND_THRESHOLD = "beyond_threshold", "Beyond threshold"
    OK = "ok", "Within threshold"
