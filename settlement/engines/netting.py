"""Netting: turn a clearing window's obligations into per-currency net positions, settlement transfers and postings.

Pure Python (stdlib and ``deltran.money`` only, no Django).

Definitions (per currency)
--------------------------
* ``gross``: the sum of all obligation amounts.
* Bilateral netting: for each pair of participants ``a < b`` (by code), the net ``a -> b`` amount is
  ``sum(a pays b) - sum(b pays a)`` (positive: ``a`` pays ``b``). ``bilateral_net`` is the sum of the
  absolute pair nets: what would move if each pair settled on its own.
* Multilateral netting: a participant's net position is what it receives minus what it pays, over all
  counterparties (positive: receives, negative: pays). Positions sum to exactly zero.
  ``multilateral_net`` is the sum of the positive positions (equal to the sum of the negative ones,
  negated): what moves when everyone settles against the whole network.
* Always ``multilateral_net <= bilateral_net <= gross`` (triangle inequality).
* **Netting efficiency** -- the one definition of the figure, used wherever it is recorded or shown:
  ``1 - multilateral_net / gross``, i.e. the share of the gross value that never has to move; 0 when
  ``gross`` is 0; rounded once to 4 places (``EFFICIENCY_PLACES``) with ``deltran.money``'s rule
  (half-even). 0.8253 means 82.53 % of the gross was netted away. See ``netting_efficiency``.

Transfers realise the multilateral positions with few instructions: the largest remaining debtor pays the
largest remaining creditor the smaller of the two amounts, until every position is met (a greedy heuristic
that makes at most ``participants - 1`` transfers; ties go to the smaller participant code, so the result is
deterministic). ``postings`` writes the same positions as balanced double entries against a clearing account.

Exactness and speed
-------------------
Sums are computed in a ``decimal`` context of ``SUM_PRECISION`` digits that traps ``Inexact``: a sum is exact,
or the engine raises ``decimal.Inexact`` -- it never rounds silently. ``net`` and ``net_rows`` aggregate the input
in one pass into a dict keyed by ``(payer, payee, currency)`` (no object per obligation is created, only the
obligation ids are kept), so a million obligations among a handful of participants net in well under a second
(``bench/netting_engine.py``). Everything after that pass works on the few pair totals.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_05UP, Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow, localcontext

from deltran.money import quantize_amount

__all__ = [
    "EFFICIENCY_PLACES",
    "SUM_PRECISION",
    "CurrencyNetting",
    "Obligation",
    "Posting",
    "Transfer",
    "clearing_account",
    "net",
    "net_rows",
    "netting_efficiency",
    "postings",
]

EFFICIENCY_PLACES = 4
# Digits kept by sums: far more than any real amount needs (18 integer digits plus minor units, times a
# billion obligations, is under 35 digits); with ``Inexact`` trapped, an amount beyond it raises.
SUM_PRECISION = 100
_EXACT = Context(prec=SUM_PRECISION, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Obligation:
    """One payment obligation: ``payer`` owes ``payee`` ``amount`` (> 0, quantised to the currency's minor units).

    ``payer`` and ``payee`` are participant codes: a bank's BIC, or ``"POOL"`` for the liquidity pool.
    """

    id: str
    payer: str
    payee: str
    currency: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Transfer:
    """A settlement instruction: ``payer`` pays ``payee`` ``amount`` (> 0)."""

    payer: str
    payee: str
    currency: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Posting:
    """One leg of a double entry: ``amount`` credited (positive) or debited (negative) to ``account``.

    ``counterparty`` is the account of the other leg of the same entry.
    """

    account: str
    currency: str
    amount: Decimal
    counterparty: str
    memo: str


@dataclass(frozen=True)
class CurrencyNetting:
    """The netting of one currency's obligations (see the module docstring for the definitions)."""

    currency: str
    gross: Decimal
    bilateral_net: Decimal
    multilateral_net: Decimal
    # Participant -> net position (positive: receives, negative: pays); every participant of an obligation
    # is present, a fully offset one with 0. Sums to exactly 0. Ordered by participant code.
    positions: dict[str, Decimal]
    # (a, b) with a < b -> net a -> b amount (positive: a pays b), for every pair with an obligation, offset
    # pairs included (0). Ordered by pair.
    bilateral_positions: dict[tuple[str, str], Decimal]
    transfers: tuple[Transfer, ...]
    # The ids of the currency's obligations, in input order.
    obligation_ids: tuple[str, ...]
    efficiency: Decimal


def netting_efficiency(gross: Decimal, multilateral_net: Decimal) -> Decimal:
    """``1 - multilateral_net / gross`` to ``EFFICIENCY_PLACES`` places, half-even, rounded once; 0 when gross is 0."""
    with localcontext(_EXACT):
        netted = gross - multilateral_net
    if not gross or not netted:
        ratio = _ZERO
    else:
        # The quotient to two guard digits past the last place, with ROUND_05UP: an inexact quotient never ends
        # in 0 or 5, so it cannot pose as a half-way case and the one rounding below decides as the exact ratio
        # would (no double rounding). Same technique as fxrates.engines.fx.
        digits = max(1, netted.adjusted() - gross.adjusted() + 1) + EFFICIENCY_PLACES + 2
        with localcontext(Context(prec=digits, rounding=ROUND_05UP)):
            ratio = netted / gross
    with localcontext(Context()):
        return quantize_amount(ratio, EFFICIENCY_PLACES)


def net(obligations: Iterable[Obligation]) -> dict[str, CurrencyNetting]:
    """Net the obligations per currency; the result is keyed and ordered by currency code.

    Accepts any objects with ``id``, ``payer``, ``payee``, ``currency`` and ``amount`` attributes. Raises
    ``ValueError`` for an amount that is not > 0 or an obligation whose payer is its payee.
    """
    totals: dict[tuple[str, str, str], Decimal] = {}
    ids: dict[str, list[str]] = {}
    get_total = totals.get
    get_ids = ids.get
    # The same loop as net_rows, on attributes: kept apart rather than converting each obligation to a tuple,
    # which would cost an allocation per obligation.
    with localcontext(_EXACT):
        for obligation in obligations:
            amount = obligation.amount
            if not amount > _ZERO:
                raise ValueError(f"Obligation {obligation.id}: amount must be > 0, got {amount!r}")
            currency = obligation.currency
            key = (obligation.payer, obligation.payee, currency)
            totals[key] = get_total(key, _ZERO) + amount
            currency_ids = get_ids(currency)
            if currency_ids is None:
                ids[currency] = currency_ids = []
            currency_ids.append(obligation.id)
    return _result(totals, ids)


def net_rows(rows: Iterable[tuple[str, str, str, str, Decimal]]) -> dict[str, CurrencyNetting]:
    """``net`` for rows ``(id, payer, payee, currency, amount)``, as the database layer streams them."""
    totals: dict[tuple[str, str, str], Decimal] = {}
    ids: dict[str, list[str]] = {}
    get_total = totals.get
    get_ids = ids.get
    with localcontext(_EXACT):
        for obligation_id, payer, payee, currency, amount in rows:
            if not amount > _ZERO:
                raise ValueError(f"Obligation {obligation_id}: amount must be > 0, got {amount!r}")
            key = (payer, payee, currency)
            totals[key] = get_total(key, _ZERO) + amount
            currency_ids = get_ids(currency)
            if currency_ids is None:
                ids[currency] = currency_ids = []
            currency_ids.append(obligation_id)
    return _result(totals, ids)


def _result(totals: dict[tuple[str, str, str], Decimal], ids: dict[str, list[str]]) -> dict[str, CurrencyNetting]:
    by_currency: dict[str, dict[tuple[str, str], Decimal]] = {}
    for (payer, payee, currency), total in totals.items():
        if payer == payee:
            raise ValueError(f"An obligation in {currency} has {payer} as both payer and payee.")
        if not total.is_finite():
            raise ValueError(f"The {payer} -> {payee} obligations in {currency} sum to {total}.")
        by_currency.setdefault(currency, {})[(payer, payee)] = total
    with localcontext(_EXACT):
        return {
            currency: _net_currency(currency, by_currency[currency], tuple(ids[currency]))
            for currency in sorted(by_currency)
        }


def _net_currency(
    currency: str, pair_totals: dict[tuple[str, str], Decimal], obligation_ids: tuple[str, ...]
) -> CurrencyNetting:
    gross = sum(pair_totals.values(), _ZERO)

    bilateral: dict[tuple[str, str], Decimal] = {}
    positions: dict[str, Decimal] = {}
    for (payer, payee), total in pair_totals.items():
        if payer < payee:
            pair, signed = (payer, payee), total
        else:
            pair, signed = (payee, payer), -total
        bilateral[pair] = bilateral.get(pair, _ZERO) + signed
        positions[payer] = positions.get(payer, _ZERO) - total
        positions[payee] = positions.get(payee, _ZERO) + total
    bilateral = dict(sorted(bilateral.items()))
    positions = dict(sorted(positions.items()))

    bilateral_net = sum((abs(amount) for amount in bilateral.values()), _ZERO)
    multilateral_net = sum((amount for amount in positions.values() if amount > 0), _ZERO)
    # Exact arithmetic makes this impossible; should it ever happen, nothing may settle on it.
    if sum(positions.values(), _ZERO) != 0:
        raise AssertionError(f"Net positions in {currency} do not sum to zero: {positions}")

    return CurrencyNetting(
        currency=currency,
        gross=gross,
        bilateral_net=bilateral_net,
        multilateral_net=multilateral_net,
        positions=positions,
        bilateral_positions=bilateral,
        transfers=_transfers(currency, positions),
        obligation_ids=obligation_ids,
        efficiency=netting_efficiency(gross, multilateral_net),
    )


def _transfers(currency: str, positions: Mapping[str, Decimal]) -> tuple[Transfer, ...]:
    """Largest debtor pays largest creditor, greedily; ties to the smaller code."""
    # Heaps of (-amount, code): the largest amount first, then the smallest code.
    debtors = [(amount, code) for code, amount in positions.items() if amount < 0]  # amount < 0: -|debt|
    creditors = [(-amount, code) for code, amount in positions.items() if amount > 0]
    heapq.heapify(debtors)
    heapq.heapify(creditors)
    transfers = []
    while debtors and creditors:
        negative_debt, payer = heapq.heappop(debtors)
        negative_credit, payee = heapq.heappop(creditors)
        debt, credit = -negative_debt, -negative_credit
        amount = min(debt, credit)
        transfers.append(Transfer(payer=payer, payee=payee, currency=currency, amount=amount))
        if debt > amount:
            heapq.heappush(debtors, (amount - debt, payer))
        if credit > amount:
            heapq.heappush(creditors, (amount - credit, payee))
    if debtors or creditors:  # positions sum to zero, so both run out together
        raise AssertionError(f"Unbalanced positions in {currency}: {positions}")
    return tuple(transfers)


def clearing_account(currency: str) -> str:
    """The default clearing account that takes the other leg of every settlement posting in ``currency``."""
    return f"CLEARING:{currency}"


def postings(
    result: CurrencyNetting, *, settlement_accounts: Mapping[str, str], clearing: str | None = None
) -> list[Posting]:
    """Balanced double entries that settle ``result``'s positions on the participants' settlement accounts.

    For each participant with a non-zero position (ordered by code): a posting of exactly its position on its
    settlement account (``settlement_accounts[participant]``; credit positive, debit negative), followed by the
    opposite posting on the clearing account (``clearing``, by default ``clearing_account(currency)``). Each
    entry sums to zero, so the currency's postings do, and the clearing account ends flat. A participant whose
    position is 0 gets no posting. Raises ``ValueError`` when a participant has no settlement account.
    """
    currency = result.currency
    clearing = clearing or clearing_account(currency)
    missing = sorted(code for code, amount in result.positions.items() if amount and code not in settlement_accounts)
    if missing:
        raise ValueError(f"No {currency} settlement account for {', '.join(missing)}.")
    entries: list[Posting] = []
    with localcontext(_EXACT):  # negation rounds to the context's precision: keep it exact
        opposite = {code: -amount for code, amount in result.positions.items()}
    for code, amount in result.positions.items():
        if not amount:
            continue
        account = settlement_accounts[code]
        side = "receives" if amount > 0 else "pays"
        memo = f"Net settlement {currency}: {code} {side}"
        entries.append(Posting(account=account, currency=currency, amount=amount, counterparty=clearing, memo=memo))
        entries.append(
            Posting(account=clearing, currency=currency, amount=opposite[code], counterparty=account, memo=memo)
        )
    return entries
