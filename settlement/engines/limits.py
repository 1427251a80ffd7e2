"""Net debit caps: does a payment fit a bank's daily liquidity limit, how far is the limit used, which alerts are due.

Pure Python (stdlib only, no Django).

A bank's position for a business day (its local date) is two running USD totals: ``debit`` (what its approved
payments owe, at their USD equivalent locked at acceptance) and ``credit`` (what approved payments owe it). Its
**net debit** is ``debit - credit``; negative means it is owed more than it owes. A payment fits when the payer's
net debit after it stays at or below the limit: ``debit + amount - credit <= limit``. Settling a netting cycle does
not change these totals: the cap is on the business day's net debit, and a new business day starts from zero.

**Utilisation** is ``net_debit / limit``, rounded *down* to ``UTILISATION_PLACES`` so that a shown figure never
reaches a threshold the exact one has not; 0 when the bank is owed more than it owes; ``None`` for a limit of 0
(nothing can be used of it). An alert is due for every threshold in ``ALERT_THRESHOLDS`` the utilisation has reached
and the day's last alert has not: once per threshold per bank and business day.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

__all__ = ["ALERT_THRESHOLDS", "UTILISATION_PLACES", "alerts_due", "fits_limit", "net_debit", "utilisation"]

ALERT_THRESHOLDS: tuple[Decimal, ...] = (Decimal("0.80"), Decimal("0.95"))
UTILISATION_PLACES = Decimal("0.0001")
_ZERO = Decimal(0)


def net_debit(debit: Decimal, credit: Decimal) -> Decimal:
    return debit - credit


def fits_limit(*, debit: Decimal, credit: Decimal, amount: Decimal, limit: Decimal) -> bool:
    """Would the payer's net debit stay within ``limit`` after a further ``amount`` owed?"""
    return debit + amount - credit <= limit


def utilisation(*, debit: Decimal, credit: Decimal, limit: Decimal) -> Decimal | None:
    if limit <= 0:
        return None
    owed = net_debit(debit, credit)
    if owed <= 0:
        return _ZERO.quantize(UTILISATION_PLACES)
    return (owed / limit).quantize(UTILISATION_PLACES, rounding=ROUND_FLOOR)


def alerts_due(*, used: Decimal | None, alerted: Decimal | None) -> list[Decimal]:
    """The thresholds reached by ``used`` above the last one alerted (``alerted``, None for none yet), lowest first."""
    if used is None:
        return []
    return [t for t in ALERT_THRESHOLDS if used >= t and (alerted is None or t > alerted)]
