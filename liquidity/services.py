"""Writes of the liquidity pool: its configuration, movements of its balances, and rebalancing.

Every balance change goes through ``_apply``: the balance rows are locked in primary-key order, changed, and one
append-only ``PoolMovement`` per change records the amount and the balance after it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from deltran.audit import audit_record
from deltran.errors import Conflict, DomainError, ValidationFailed, field_error
from deltran.events import event_record_many
from deltran.money import decimal_places
from fxrates.engines.fx import NoRate, UnknownCurrency
from fxrates.selectors import current_rate_table
from liquidity.choices import MOVEMENT_SIGNS, MovementKind, RebalanceStatus, RebalanceTrigger
from liquidity.engines.rebalance import PoolCurrency, RebalancePlan, plan_rebalance
from liquidity.models import LiquidityPool, PoolBalance, PoolMovement, Rebalance
from liquidity.selectors import currency_minor_units
from settlement.choices import POOL
from settlement.models import CyclePosition, NettingCycle
from settlement.signals import PoolCapacity

# Rebalances record their USD figures at these places (the exact figures stay in ``moves``, as strings).
USD_PLACES = Decimal("0.0001")
ROUNDING_PLACES = Decimal("0.0000000001")


class PoolNotFound(DomainError):
    code = "pool_not_found"
    status_code = 404


class PoolCurrencyUnknown(DomainError):
    code = "pool_currency_unknown"


class PoolBalanceInsufficient(Conflict):
    code = "pool_balance_insufficient"


class RebalanceRefused(DomainError):
    code = "rebalance_refused"
    status_code = 409


@transaction.atomic
def pool_ensure(
    *,
    name: str,
    rebalance_threshold: Decimal,
    auto_rebalance: bool,
    balances: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]],
) -> tuple[LiquidityPool, int]:
    """Create the pool and any missing currency balances (available, minimum, target, maximum)."""
    pool, _ = LiquidityPool.objects.get_or_create(
        name=name, defaults={"rebalance_threshold": rebalance_threshold, "auto_rebalance": auto_rebalance}
    )
    existing = set(pool.balances.values_list("currency_id", flat=True))
    created = 0
    for currency, (available, minimum, target, maximum) in balances.items():
        if currency in existing:
            continue
        balance = PoolBalance(
            pool=pool, currency_id=currency, available=available, minimum=minimum, target=target, maximum=maximum
        )
        balance.full_clean()
        balance.save()
        created += 1
    return pool, created


# --- Movements ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolLeg:
    """One change of one pool balance: ``amount`` is signed (positive adds to the balance)."""

    currency: str
    amount: Decimal
    kind: str
    reference: str = ""
    memo: str = ""


def _balances_locked(pool_id: int, codes: Sequence[str] | None = None) -> dict[str, PoolBalance]:
    """The pool's balances (or those of ``codes``) locked in primary-key order, so concurrent writers never deadlock."""
    rows = PoolBalance.objects.select_for_update().filter(pool_id=pool_id).order_by("pk")
    if codes is not None:
        rows = rows.filter(currency_id__in=sorted(set(codes)))
    return {row.currency_id: row for row in rows}


def _check_leg(leg: PoolLeg, minor_units: dict[str, int]) -> None:
    if leg.kind not in MOVEMENT_SIGNS:
        raise ValidationFailed(f"{leg.kind!r} is not a kind of pool movement.", code="pool_movement_kind_unknown")
    amount = leg.amount
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount == 0:
        raise ValidationFailed(
            "A pool movement needs a non-zero decimal amount.",
            fields=field_error("amount", "invalid", f"{amount!r} is not a non-zero decimal."),
        )
    sign = MOVEMENT_SIGNS[leg.kind]
    if sign and (amount > 0) != (sign > 0):
        direction = "add to" if sign > 0 else "take from"
        raise ValidationFailed(
            f"A {MovementKind(leg.kind).label.lower()} movement must {direction} the balance; got {amount}.",
            fields=field_error(
                "amount", "wrong_sign", f"{leg.kind} amounts must be {'positive' if sign > 0 else 'negative'}."
            ),
        )
    places = minor_units[leg.currency]
    if decimal_places(amount) > places:
        raise ValidationFailed(
            f"{amount} {leg.currency} has more decimal places than the currency's {places}.",
            fields=field_error("amount", "too_many_places", f"{leg.currency} has {places} decimal places."),
        )


def _apply(balances: dict[str, PoolBalance], legs: Sequence[PoolLeg], *, pool_id: int, now) -> list[PoolMovement]:
    """Change the locked balances leg by leg, refusing any that would take a balance below zero; write the rows."""
    movements = []
    changed: dict[str, PoolBalance] = {}
    for leg in legs:
        balance = balances[leg.currency]
        after = balance.available + leg.amount
        if after < 0:
            raise PoolBalanceInsufficient(
                f"The pool holds {balance.available} {leg.currency}; it cannot pay out {-leg.amount}.",
                fields=field_error(
                    "amount", "pool_balance_insufficient", f"Would leave the pool's {leg.currency} at {after}."
                ),
            )
        balance.available = after
        balance.updated_at = now
        changed[leg.currency] = balance
        movements.append(
            PoolMovement(
                pool_id=pool_id,
                currency_id=leg.currency,
                amount=leg.amount,
                balance_after=after,
                kind=leg.kind,
                reference=leg.reference,
                memo=leg.memo,
                created_at=now,
            )
        )
    PoolBalance.objects.bulk_update(sorted(changed.values(), key=lambda row: row.pk), ["available", "updated_at"])
    return PoolMovement.objects.bulk_create(movements)


def pool_movements_apply(*, pool: LiquidityPool | int, legs: Sequence[PoolLeg]) -> list[PoolMovement]:
    """Apply several legs at once (a netting cycle's pool legs), each recorded with the balance after it.

    All or nothing: a leg that would take a balance below zero refuses the whole batch
    (``pool_balance_insufficient``). Balances may go below their minimum: that is for rebalancing to repair.
    Runs inside the caller's transaction when there is one; it writes no audit entry or event of its own, since
    the change that moves the pool (a netting cycle, a payment's FX legs) records its own, last.
    """
    pool_id = pool.pk if isinstance(pool, LiquidityPool) else pool
    if not legs:
        return []
    codes = {leg.currency for leg in legs}
    minor_units = currency_minor_units(codes)
    with transaction.atomic():
        balances = _balances_locked(pool_id, sorted(codes))
        missing = sorted(codes - balances.keys())
        if missing:
            raise PoolCurrencyUnknown(
                f"The pool holds no {', '.join(missing)}.",
                fields=field_error("currency", "pool_currency_unknown", f"Not a currency of pool {pool_id}."),
            )
        for leg in legs:
            _check_leg(leg, minor_units)
        return _apply(balances, legs, pool_id=pool_id, now=timezone.now())


def pool_movement_apply(
    *, pool: LiquidityPool | int, currency: str, amount: Decimal, kind: str, reference: str = "", memo: str = ""
) -> PoolMovement:
    """Move one pool balance by a signed amount; refuses to take it below zero (``pool_balance_insufficient``)."""
    leg = PoolLeg(currency=currency, amount=amount, kind=kind, reference=reference, memo=memo)
    return pool_movements_apply(pool=pool, legs=[leg])[0]


# --- Netting cycles ------------------------------------------------------------------------------------------------
#
# Settlement asks (through the hook in settlement.signals) what the pool can pay, then sends cycle_settled; both run
# inside the cycle's settle transaction. The pool row itself is only read, never locked: a FOR UPDATE on it would
# block the KEY SHARE that inserting movements takes, which deadlocked with rebalancing (see pool_rebalance). The
# balances are locked in primary-key order, as every other writer of them does.


def _primary_pool() -> LiquidityPool | None:
    return LiquidityPool.objects.order_by("pk").first()


def pool_capacity_lock(currencies) -> PoolCapacity | None:
    """The primary pool's balances in ``currencies``, locked for the caller's transaction (settlement's hook)."""
    pool = _primary_pool()
    if pool is None:
        return None
    balances = _balances_locked(pool.pk, sorted(set(currencies)))
    return PoolCapacity(
        pool_id=pool.pk,
        pool_name=pool.name,
        available={code: row.available for code, row in balances.items()},
        funds_shortfalls=pool.funds_shortfalls,
    )


def pool_cycle_settle(*, cycle: NettingCycle) -> list[PoolMovement]:
    """Move the primary pool by a settled cycle's pool positions and shortfall loans, in the cycle's transaction.

    Per currency, in code order: what the pool receives (``fx_leg_in``, then the loans banks repay out of their net
    credit, ``loan_repayment``, one per bank), then what it lends (``shortfall_loan``, one per bank), then what it
    pays (``fx_leg_out``), so no step passes below zero a balance the cycle checked. Each movement has reference
    ``cycle:<id>``. Raises (failing the cycle) if the pool cannot pay, which the cycle's deferral already prevents.
    """
    positions = dict(
        CyclePosition.objects.filter(cycle=cycle, participant_code=POOL)
        .exclude(position=0)
        .order_by()
        .values_list("currency_id", "position")
    )
    fundings = cycle.fundings or []
    repayments = cycle.repayments or []
    if not positions and not fundings and not repayments:
        return []
    pool = _primary_pool()
    if pool is None:
        raise PoolNotFound("No liquidity pool exists to settle the cycle's pool legs.")
    reference = f"cycle:{cycle.pk}"
    legs = []
    currencies = set(positions) | {row["currency"] for row in fundings} | {row["currency"] for row in repayments}
    for currency in sorted(currencies):
        position = positions.get(currency, Decimal(0))
        if position > 0:
            legs.append(
                PoolLeg(
                    currency, position, MovementKind.FX_LEG_IN, reference, f"Netting cycle {cycle.pk}: pool receives"
                )
            )
        for repayment in repayments:
            if repayment["currency"] == currency:
                legs.append(
                    PoolLeg(
                        currency,
                        Decimal(repayment["amount"]),
                        MovementKind.LOAN_REPAYMENT,
                        reference,
                        f"Netting cycle {cycle.pk}: {repayment['bic']} repays its {currency} loan",
                    )
                )
        for funding in fundings:
            if funding["currency"] == currency:
                legs.append(
                    PoolLeg(
                        currency,
                        -Decimal(funding["amount"]),
                        MovementKind.SHORTFALL_LOAN,
                        reference,
                        f"Netting cycle {cycle.pk}: loan to {funding['bic']} for its {currency} shortfall",
                    )
                )
        if position < 0:
            legs.append(
                PoolLeg(currency, position, MovementKind.FX_LEG_OUT, reference, f"Netting cycle {cycle.pk}: pool pays")
            )
    return pool_movements_apply(pool=pool, legs=legs)


# --- Rebalancing ---------------------------------------------------------------------------------------------------


def pool_fx_spread() -> Decimal:
    return Decimal(str(getattr(settings, "POOL_FX_SPREAD", "0.0005")))


def _usd(value: Decimal, places: Decimal = USD_PLACES) -> Decimal:
    return value.quantize(places)


def _move_record(move) -> dict:
    """A move as JSON carries it: decimal strings, exact (amounts on their minor units, rate to 8 places)."""
    return {
        "source": move.source,
        "target": move.target,
        "source_amount": format(move.source_amount, "f"),
        "target_amount": format(move.target_amount, "f"),
        "rate": format(move.rate, "f"),
        "fx_cost_usd": format(move.fx_cost, "f"),
    }


def _rebalance_legs(plan: RebalancePlan, reference: str) -> list[PoolLeg]:
    legs = []
    for move in plan.moves:
        memo = (
            f"{move.source_amount} {move.source} sold for {move.target_amount} {move.target} "
            f"at 1 {move.source} = {move.rate} {move.target}"
        )
        legs.append(PoolLeg(move.source, -move.source_amount, MovementKind.REBALANCE_OUT, reference, memo))
        legs.append(PoolLeg(move.target, move.target_amount, MovementKind.REBALANCE_IN, reference, memo))
    return legs


def rebalance_event_payload(rebalance: Rebalance) -> dict:
    return {
        "rebalance_id": rebalance.pk,
        "pool_id": rebalance.pool_id,
        "trigger": rebalance.trigger,
        "status": rebalance.status,
        "moves": rebalance.moves,
        "beyond_threshold": rebalance.beyond_threshold,
        "value_before_usd": format(rebalance.value_before_usd, "f"),
        "value_after_usd": format(rebalance.value_after_usd, "f"),
        "fx_cost_usd": format(rebalance.fx_cost_usd, "f"),
        "rounding_usd": format(rebalance.rounding_usd, "f"),
        "run_by": rebalance.run_by.get_username() if rebalance.run_by_id else None,
        "created_at": rebalance.created_at,
    }


def pool_rebalance(*, pool_id: int | None = None, trigger: str, actor=None) -> Rebalance | None:
    """Plan a rebalance of the pool at the current rates (``liquidity.engines.rebalance``) and apply it.

    In one transaction: the pool row and then its balances are locked (primary-key order), the plan is made from
    the locked balances, each move becomes two movements (out of the source, into the target) with the balances
    after them, and the ``Rebalance``, its ``liquidity.liquidity_rebalance`` event and its audit entry (last) are
    written. Without ``pool_id`` the primary pool is rebalanced.

    A plan without moves is recorded (status ``noop``) only when a person asked for it (operator, command); a
    scheduled run (``beat``) that finds nothing to do, or finds automatic rebalancing switched off, records nothing
    and returns None.
    """
    if trigger not in RebalanceTrigger.values:
        raise ValueError(f"{trigger!r} is not a rebalance trigger")
    fx_spread = pool_fx_spread()
    with transaction.atomic():
        # NO KEY UPDATE: rebalances of a pool queue on its row, while movements applied meanwhile may still insert
        # rows referring to it (their foreign-key check takes KEY SHARE, which FOR UPDATE would block: a deadlock
        # with a movement that already holds a balance this rebalance is waiting for).
        pools = LiquidityPool.objects.select_for_update(no_key=True)
        pool = pools.filter(pk=pool_id).first() if pool_id is not None else pools.order_by("pk").first()
        if pool is None:
            raise PoolNotFound(f"No liquidity pool {pool_id}." if pool_id is not None else "No liquidity pool exists.")
        if trigger == RebalanceTrigger.BEAT and not pool.auto_rebalance:
            return None
        balances = _balances_locked(pool.pk)
        minor_units = currency_minor_units(balances)
        inputs = [
            PoolCurrency(
                currency=code,
                available=row.available,
                minimum=row.minimum,
                target=row.target,
                maximum=row.maximum,
                minor_units=minor_units[code],
            )
            for code, row in balances.items()
        ]
        rates = current_rate_table()
        try:
            plan = plan_rebalance(inputs, rates, threshold=pool.rebalance_threshold, fx_spread=fx_spread)
        except (NoRate, UnknownCurrency) as exc:
            raise RebalanceRefused(f"The pool cannot be valued in USD: {exc}", code=exc.code) from exc
        if plan.is_noop and trigger == RebalanceTrigger.BEAT:
            return None

        now = timezone.now()
        rebalance = Rebalance(
            pool=pool,
            trigger=trigger,
            status=RebalanceStatus.NOOP if plan.is_noop else RebalanceStatus.APPLIED,
            run_by=actor if actor is not None and actor.is_authenticated else None,
            created_at=now,
            moves=[_move_record(move) for move in plan.moves],
            beyond_threshold=list(plan.beyond_threshold),
            threshold=pool.rebalance_threshold,
            fx_spread=fx_spread,
            rates_as_of=rates.as_of,
            value_before_usd=_usd(plan.value_before_usd),
            value_after_usd=_usd(plan.value_after_usd),
            fx_cost_usd=_usd(plan.fx_cost_usd),
            rounding_usd=_usd(plan.rounding_usd, ROUNDING_PLACES),
        )
        rebalance.full_clean()
        rebalance.save()

        movements = _apply(balances, _rebalance_legs(plan, f"rebalance:{rebalance.pk}"), pool_id=pool.pk, now=now)
        # The engine promises that balances land where its plan says and that no source ends below its minimum
        # (nor its target); a broken promise must not reach the books.
        sources = {move.source for move in plan.moves}
        for code, row in balances.items():
            if row.available != plan.after[code] or (code in sources and row.available < row.minimum):
                raise RebalanceRefused(
                    f"The rebalance of {code} does not keep to its plan.", code="rebalance_inconsistent"
                )

        event_record_many(events=[("liquidity", "liquidity.liquidity_rebalance", rebalance_event_payload(rebalance))])
        audit_record(
            actor=actor,
            action="liquidity.rebalance",
            object_type="rebalance",
            object_id=rebalance.pk,
            payload={
                "pool": pool.name,
                "trigger": trigger,
                "status": rebalance.status,
                "moves": rebalance.moves,
                "movements": [movement.pk for movement in movements],
                "value_before_usd": format(plan.value_before_usd, "f"),
                "value_after_usd": format(plan.value_after_usd, "f"),
                "fx_cost_usd": format(plan.fx_cost_usd, "f"),
                "rounding_usd": format(plan.rounding_usd, "f"),
            },
        )
    return rebalance
