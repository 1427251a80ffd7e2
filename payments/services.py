"""Payment writes: intake runs a payment through the pipeline's stages and records it.

The pipeline is the list PIPELINE below. Each stage takes the payment in memory
and may move it along the transition table (payments/choices.py); when every
stage has run, the payment, its timeline, its event and its audit entry are
written in one transaction. The liquidity check needs row locks, so it is a
persist-time stage (PERSIST_STAGES) inside that transaction.
"""

import functools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import CharField, Count, DateTimeField, IntegerField, Q, Sum, Value
from django.utils import timezone
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from compliance.engines.risk import structuring_band
from compliance.models import ReviewCase, ScreeningCheck
from compliance.selectors import compliance_settings, risk_rules
from compliance.services import ScreeningRecord, review_needed, risk_evaluate, screening_evaluate, screening_record_many
from deltran.audit import AuditItem, audit_record, audit_record_many
from deltran.bulk import instance_build, objects_insert, rows_insert
from deltran.errors import Conflict, DomainError, IdempotencyConflict, ValidationFailed, field_error
from deltran.events import event_record_many
from deltran.models import IdempotencyRecord
from deltran.money import MAX_AMOUNT, decimal_places
from fxrates.engines.fx import NoRate, UnknownCurrency, convert
from fxrates.selectors import current_rate_table
from payments.choices import Channel, PaymentStatus, can_transition
from payments.models import Payment, PaymentTransition
from settlement.choices import ObligationStatus
from settlement.engines.calendar import NoOpening, is_open, joint_opening
from settlement.models import NettingCycle, Obligation
from settlement.selectors import ParticipantDirectory, participant_directory
from settlement.services import (
    ObligationDraft,
    PositionBook,
    bank_positions_add,
    bank_positions_lock,
    bank_positions_read,
    bank_positions_save,
    obligation_legs,
    obligations_record,
)

# status_reason of a payment queued without obligations because its payer's limit does not allow it yet.
AWAITING_LIQUIDITY = "awaiting_liquidity"
# At most this many waiting payments are looked at in one transaction; the rest wait for the next credit or the
# periodic release task, so a long queue never makes a single payment slow.
RELEASE_BATCH = 500
# Ids per IN (...) list, under SQLite's host-parameter limit.
_CHUNK = 2000


@dataclass(frozen=True)
class PaymentInstruction:
    """What a bank asks the network to do, as parsed from REST JSON or an ISO 20022 message."""

    sender_bic: str
    receiver_bic: str
    amount: Decimal
    currency: str
    debtor_name: str
    creditor_name: str
    debtor_iban: str = ""
    debtor_account: str = ""
    creditor_iban: str = ""
    creditor_account: str = ""
    remittance_info: str = ""
    payment_reference: str = ""
    end_to_end_id: str = ""
    # The currency the receiver is credited in; empty means the payment currency (no FX).
    settlement_currency: str = ""


class InvalidTransition(DomainError):
    code = "invalid_transition"
    status_code = 409


class TimelineStep(NamedTuple):
    """A timeline row as written (the columns of PaymentTransition), without building a model instance."""

    payment_id: uuid.UUID
    from_status: str
    to_status: str
    actor_id: int | None
    actor_label: str
    reason: str
    occurred_at: datetime


@dataclass
class PipelineRun:
    """One payment on its way through the stages, with what the stages decided."""

    instruction: PaymentInstruction | None
    actor: object
    channel: str
    idempotency_key: str
    now: datetime
    directory: ParticipantDirectory
    payment: Payment | None = None
    transitions: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    screening: tuple | None = None
    # A stage that stops the pipeline (compliance review) sets this; later stages do not run.
    halted: bool = False
    timeline_rows: list = field(default_factory=list)
    # A batch reads its debtors' recent activity once and keeps it here, adding each payment it screens, so the
    # velocity rules see the batch's earlier payments too: debtor name -> [count, USD total, near-threshold count].
    activity: dict[str, list] | None = None
    # A batch shares the routing decisions of its bank and currency pairs here (all its payments have one ``now``).
    schedules: dict[tuple, tuple] | None = None
    screening_check: object | None = None
    errors: dict[str, list[dict]] = field(default_factory=dict)

    def error(self, field_name: str, code: str, message: str) -> None:
        self.errors.setdefault(field_name, []).append({"code": code, "message": message})

    def move(self, to_status: str, reason: str) -> None:
        from_status = self.payment.status
        if not can_transition(from_status, to_status):
            raise InvalidTransition(f"A payment cannot go from {from_status} to {to_status}.")
        self.transitions.append((from_status, to_status, reason))
        self.payment.status = to_status
        self.payment.status_reason = reason


# --- Stages ------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def _iban_problem(value: str) -> str:
    """Why ``value`` is not a valid IBAN, or "" — remembered, as a bank's customers' accounts recur."""
    try:
        IBAN(value)
    except SchwiftyException as exc:
        return str(exc) or "invalid"
    return ""


def stage_validate(run: PipelineRun) -> None:
    """BICs of known, active banks; an active ISO 4217 currency and its minor units; accounts on both sides."""
    ins = run.instruction
    banks = run.directory.banks
    for side, bic in (("sender_bic", ins.sender_bic), ("receiver_bic", ins.receiver_bic)):
        bank = banks.get(bic)
        if bank is None:
            run.error(side, "unknown_bank", f"{bic} is not a participant of the network.")
        elif not bank.is_active:
            run.error(side, "inactive_bank", f"{bic} is not active in the network.")
    currencies = run.directory.currencies
    target = ins.settlement_currency or ins.currency
    currency = currencies.get(ins.currency)
    if currency is None or not currency.is_active:
        run.error("currency", "unknown_currency", f"{ins.currency} is not a currency the network settles.")
    elif decimal_places(ins.amount) > currency.minor_units:
        run.error(
            "amount",
            "amount_precision",
            f"{ins.currency} has {currency.minor_units} decimal places; {ins.amount} has more.",
        )
    if target != ins.currency and (currencies.get(target) is None or not currencies[target].is_active):
        run.error("settlement_currency", "unknown_currency", f"{target} is not a currency the network settles.")
    # The sender pays in the payment currency; the receiver is credited in the settlement currency.
    receiver_field = "settlement_currency" if target != ins.currency else "currency"
    for field_name, bic, code in (
        ("currency", ins.sender_bic, ins.currency),
        (receiver_field, ins.receiver_bic, target),
    ):
        bank = banks.get(bic)
        if bank is None or not bank.is_active or code not in currencies:
            continue
        account = bank.accounts.get(code)
        if account is None or not account.is_active:
            run.error(field_name, "no_settlement_account", f"{bic} holds no active {code} settlement account.")
    if ins.amount <= 0:
        run.error("amount", "amount_not_positive", "The amount must be greater than zero.")
    elif ins.amount > MAX_AMOUNT:
        run.error("amount", "amount_too_large", f"The amount may not exceed {MAX_AMOUNT}.")
    for side in ("debtor_iban", "creditor_iban"):
        value = getattr(ins, side)
        if value:
            problem = _iban_problem(value)
            if problem:
                run.error(side, "invalid_iban", f"{value} is not a valid IBAN: {problem}.")
    if run.errors:
        return
    sender = banks[ins.sender_bic]
    receiver = banks[ins.receiver_bic]
    payment_id = Payment._meta.pk.default()
    run.payment = instance_build(
        Payment,
        {
            "id": payment_id,
            "payment_reference": ins.payment_reference or f"DLT{run.now:%Y%m%d}{payment_id.hex[-12:].upper()}",
            "end_to_end_id": ins.end_to_end_id,
            "sender_bank_id": sender.id,
            "receiver_bank_id": receiver.id,
            "sender_account_id": sender.accounts[ins.currency].id,
            "receiver_account_id": receiver.accounts[target].id,
            "sender_bic": sender.bic,
            "receiver_bic": receiver.bic,
            "amount": ins.amount,
            "currency_id": ins.currency,
            "settlement_currency_id": target,
            "settlement_amount": ins.amount,
            "scheduled_for": run.now,
            "debtor_name": ins.debtor_name,
            "debtor_iban": ins.debtor_iban,
            "debtor_account": ins.debtor_account,
            "creditor_name": ins.creditor_name,
            "creditor_iban": ins.creditor_iban,
            "creditor_account": ins.creditor_account,
            "remittance_info": ins.remittance_info,
            "status": PaymentStatus.INITIATED,
            "channel": run.channel,
            "idempotency_key": run.idempotency_key,
            "created_by_id": run.actor.pk if getattr(run.actor, "is_authenticated", False) else None,
            "created_at": run.now,
            "updated_at": run.now,
        },
    )
    run.transitions.append(("", PaymentStatus.INITIATED, f"Received over {Channel(run.channel).label}."))
    run.move(PaymentStatus.VALIDATED, "Banks, accounts, currency and amount validated.")


def stage_fx(run: PipelineRun) -> None:
    """A cross-currency payment gets the rate in force now, locked, and its settlement amount in the target's units.

    Every payment also gets its USD equivalent, for liquidity limits and the risk score's amount tiers.
    """
    payment = run.payment
    table = current_rate_table()
    try:
        payment.amount_usd = convert(payment.amount, table.rate(payment.currency_id, "USD"), 2)
    except (UnknownCurrency, NoRate) as exc:
        run.error("currency", "no_rate", f"No USD rate for {payment.currency_id}: {exc}")
        return
    if payment.settlement_currency_id == payment.currency_id:
        payment.settlement_amount = payment.amount
        return
    try:
        rate = table.rate(payment.currency_id, payment.settlement_currency_id)
        rate_at = table.quote_time(payment.currency_id, payment.settlement_currency_id)
    except (UnknownCurrency, NoRate) as exc:
        run.error("settlement_currency", exc.code, str(exc))
        return
    target_units = run.directory.currencies[payment.settlement_currency_id].minor_units
    payment.fx_rate = rate
    payment.fx_rate_at = rate_at
    payment.settlement_amount = convert(payment.amount, rate, target_units)
    run.notes.append(
        f"FX {payment.currency_id}→{payment.settlement_currency_id} {rate} locked: "
        f"{payment.settlement_amount} {payment.settlement_currency_id} to credit."
    )


def _debtors_activity(names: set[str], now: datetime) -> dict[str, list]:
    """Recent activity of debtors in one query each _CHUNK names: name -> [count, USD total, near-threshold count].

    Asked by every single payment and once by each batch. On PostgreSQL it is plain SQL, as the ORM's building of
    this aggregate cost several times the query; SQLite keeps the ORM, which turns its float sums back into Decimals.
    The SQL asks for each name on its own (a lateral join over the names) so that each is one probe of the
    (debtor_name, created_at) index whatever the statistics say: with ``debtor_name = ANY(...)``, a table growing
    faster than ANALYZE runs (a fresh database under load) made the planner scan the whole day by created_at
    instead, 0.6 -> 43 ms for 50 names at 60,000 payments, growing with the day.
    """
    window = timedelta(hours=compliance_settings().velocity_window_hours)
    low, high = structuring_band(risk_rules())
    found = {name: [0, Decimal(0), 0] for name in names}
    ordered = sorted(names)
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT n.name, a.count, a.total, a.near FROM unnest(%s::text[]) AS n(name) CROSS JOIN LATERAL "
                    "(SELECT count(*) AS count, coalesce(sum(amount_usd), 0) AS total, "
                    "count(*) FILTER (WHERE amount_usd >= %s AND amount_usd < %s) AS near "
                    f"FROM {connection.ops.quote_name(Payment._meta.db_table)} "
                    "WHERE debtor_name = n.name AND created_at >= %s AND created_at <= %s) AS a WHERE a.count > 0",
                    [chunk, low, high, now - window, now],
                )
                rows = cursor.fetchall()
        else:
            rows = (
                Payment.objects.filter(debtor_name__in=chunk, created_at__gte=now - window, created_at__lte=now)
                .order_by()
                .values_list("debtor_name")
                .annotate(
                    count=Count("id"),
                    total=Sum("amount_usd"),
                    near=Count("id", filter=Q(amount_usd__gte=low, amount_usd__lt=high)),
                )
            )
        for name, count, total, near in rows:
            found[name] = [count, total or Decimal(0), near]
    return found


def _debtor_activity(run: PipelineRun) -> tuple[int, Decimal, int]:
    """The debtor's payments in the velocity window (count, USD total, how many sat just below the threshold),
    counting this one in the near-threshold figure. A batch keeps its debtors' activity in ``run.activity`` and adds
    each payment it screens, so later payments of the batch see the earlier ones."""
    low, high = structuring_band(risk_rules())
    in_band = 1 if low <= run.payment.amount_usd < high else 0
    name = run.payment.debtor_name
    activity = run.activity if run.activity is not None else _debtors_activity({name}, run.now)
    seen = activity.setdefault(name, [0, Decimal(0), 0])
    count, total, near = seen
    seen[0], seen[1], seen[2] = count + 1, total + run.payment.amount_usd, near + in_band
    return count, total, near + in_band


def stage_screen(run: PipelineRun) -> None:
    """Debtor, creditor and both banks against the lists; the risk score decides: pass, or wait for compliance."""
    payment = run.payment
    banks = run.directory.banks
    sender, receiver = banks[payment.sender_bic], banks[payment.receiver_bic]
    outcome = screening_evaluate(
        parties=[
            ("debtor", payment.debtor_name),
            ("creditor", payment.creditor_name),
            ("sender_bank", sender.name),
            ("receiver_bank", receiver.name),
        ]
    )
    count, total, near = _debtor_activity(run)
    risk = risk_evaluate(
        outcome=outcome,
        context={
            "amount_usd": payment.amount_usd,
            "amount": payment.amount,
            "currency": payment.currency_id,
            "sender_risk": sender.risk_rating,
            "receiver_risk": receiver.risk_rating,
            "sender_country": sender.country,
            "receiver_country": receiver.country,
            "debtor_recent_count": count,
            "debtor_recent_amount_usd": total,
            "debtor_near_threshold_count": near,
        },
    )
    payment.risk_score = risk.score
    run.screening = (outcome, risk)
    reasons = "; ".join(f"{r.rule} +{r.points}" for r in risk.reasons) or "no risk factors"
    run.move(PaymentStatus.SCREENED, f"Risk score {risk.score} ({reasons}).")
    if review_needed(risk):
        why = (
            "Definite sanctions hit: held for a compliance decision."
            if risk.definite_hit
            else (f"Risk score {risk.score} is at or above the review line: waiting for a compliance officer.")
        )
        run.move(PaymentStatus.COMPLIANCE_REVIEW, why)
        run.halted = True
    else:
        run.move(PaymentStatus.APPROVED, f"Risk score {risk.score} is below the review line.")


def _joint_schedule(
    directory: ParticipantDirectory, payment: Payment, now: datetime
) -> tuple[datetime | None, list[str]]:
    """When the payment can settle, with the BICs of the banks closed now: now if both banks' clearing windows are
    open, else their next joint opening (None when none opens within the calendars' horizon)."""
    banks = directory.banks
    sides = [
        (banks[payment.sender_bic], payment.currency_id),
        (banks[payment.receiver_bic], payment.settlement_currency_id),
    ]
    calendars = [(bank, bank.calendar(currency)) for bank, currency in sides]
    closed = [bank.bic for bank, calendar in calendars if calendar is not None and not is_open(calendar, now)]
    if not closed:
        return now, []
    try:
        return joint_opening([c for _, c in calendars if c is not None], now), closed
    except NoOpening:
        return None, closed


def stage_route(run: PipelineRun) -> None:
    """Both banks' clearing windows: out of window, a payment is accepted and scheduled for the next joint opening."""
    payment = run.payment
    pair = (payment.sender_bic, payment.currency_id, payment.receiver_bic, payment.settlement_currency_id)
    if run.schedules is None:
        scheduled_for, closed = _joint_schedule(run.directory, payment, run.now)
    elif pair in run.schedules:
        scheduled_for, closed = run.schedules[pair]
    else:
        scheduled_for, closed = run.schedules[pair] = _joint_schedule(run.directory, payment, run.now)
    if scheduled_for is None:
        run.error(
            "receiver_bic" if payment.receiver_bic in closed else "sender_bic",
            "no_clearing_window",
            f"No clearing window of {' and '.join(closed)} opens within the next 400 days.",
        )
        return
    payment.scheduled_for = scheduled_for
    if not closed:
        return
    payment.clearing_window_violation = True
    run.notes.append(
        f"Outside the clearing window of {' and '.join(closed)}; scheduled for "
        f"{payment.scheduled_for:%Y-%m-%d %H:%M} UTC."
    )


def stage_queue(run: PipelineRun) -> None:
    """Hand the payment to settlement: it waits in the queue for its clearing window and netting cycle."""
    run.move(PaymentStatus.QUEUED, " ".join([*run.notes, "Queued for the next netting cycle."])[:255])
    run.payment.processed_at = run.now


Stage = Callable[[PipelineRun], None]
PIPELINE: list[Stage] = [stage_validate, stage_fx, stage_screen, stage_route, stage_queue]
# What runs again when a compliance officer approves a held payment.
AFTER_REVIEW: list[Stage] = [stage_route, stage_queue]


# --- Persist-time stage: liquidity ------------------------------------------------------
#
# The stages above decide in memory. The liquidity check cannot: whether a payment fits its payer's daily
# liquidity limit depends on every other payment approved concurrently, so it reads and updates the banks'
# business-day positions under row locks, inside the transaction that records the payments and after their rows
# are written (obligations refer to them). Such stages take the batch's runs and return the audit items of what
# they changed besides those payments, recorded last with the rest.


@dataclass
class PersistContext:
    """How the persist-time stages may work in this transaction, and what they leave for its end."""

    # A batch may decide liquidity on an unlocked read of the positions and apply it at the end of its transaction
    # (stage_liquidity); it is started over with this off if a limit no longer holds by then (PositionsMoved).
    optimistic: bool = False
    # Run in order just before the audit entries, the transaction's last writes; each returns audit items.
    before_audit: list[Callable[[], list[AuditItem]]] = field(default_factory=list)


class PositionsMoved(Exception):
    """An optimistic liquidity decision no longer holds: other transactions used the limit meanwhile."""


PersistStage = Callable[[list[PipelineRun], PersistContext], list[AuditItem]]


def _actor_label(actor) -> str:
    return actor.get_username() if getattr(actor, "is_authenticated", False) else "system"


@dataclass
class _Admission:
    """What the liquidity check decided for a batch, with the positions it holds locked."""

    book: PositionBook
    now: datetime
    # New payments that must wait, with the reason their timeline shows.
    waiting: list[tuple[Payment, str]] = field(default_factory=list)
    # Payments that were waiting and are released now, with the reason.
    released: list[tuple[Payment, str]] = field(default_factory=list)
    drafts: list[ObligationDraft] = field(default_factory=list)


def _waiting_closure(bank_ids: set[int]) -> tuple[set[int], bool]:
    """The banks, and transitively the receivers of their payments waiting for liquidity: every position a release
    set off by these banks may touch, so all of them are locked at once, in primary-key order. Also whether any of
    these banks has a payment waiting at all (usually none: then there is no queue to read).

    Plain SQL (the partial index on waiting payments answers it): it runs in every payment's transaction.
    """
    banks = set(bank_ids)
    frontier = set(bank_ids)
    table = connection.ops.quote_name(Payment._meta.db_table)
    waiting = False
    with connection.cursor() as cursor:
        while frontier:
            cursor.execute(
                f"SELECT DISTINCT receiver_bank_id FROM {table} WHERE awaiting_liquidity "
                f"AND sender_bank_id IN ({', '.join(['%s'] * len(frontier))})",
                sorted(frontier),
            )
            receivers = {row[0] for row in cursor.fetchall()}
            waiting = waiting or bool(receivers)
            frontier = receivers - banks
            banks |= frontier
    return banks, waiting


def _obligation_drafts(payment: Payment, book: PositionBook) -> list[ObligationDraft]:
    return obligation_legs(
        payment_id=payment.id,
        payer_bic=payment.sender_bic,
        payer_bank_id=payment.sender_bank_id,
        payee_bic=payment.receiver_bic,
        payee_bank_id=payment.receiver_bank_id,
        currency=payment.currency_id,
        amount=payment.amount,
        settlement_currency=payment.settlement_currency_id,
        settlement_amount=payment.settlement_amount,
        amount_usd=payment.amount_usd,
        due_at=payment.scheduled_for,
        business_date=book.business_date(payment.sender_bank_id),
    )


def _liquidity_admit(*, new: list[Payment], bank_ids: set[int], now: datetime) -> _Admission:
    """Lock the positions, then admit payments oldest first while any fits: first those waiting, then ``new``.

    A payment fits when its payer's net debit for the business day, with it, stays within the daily limit; it then
    owes its USD equivalent (payer's debit) and is owed it (payee's credit). A payment between two customers of
    one bank always fits and leaves the position as it is. Each admission may make room for a
    waiting payment of its payee, so the waiting ones are gone through again until a pass admits nothing. A
    payment that does not fit yet does not hold back younger ones that do (first in, first out with bypass, as
    RTGS queues do): one large payment cannot stop its bank's day.
    """
    directory = participant_directory()
    # Only a bank whose net debit goes down (a payee of a new payment, or a bank asked to release) can have waiting
    # payments that now fit; a payer's own debit only grows, so its queue is not read.
    credited = set(bank_ids) | {p.receiver_bank_id for p in new if p.receiver_bank_id != p.sender_bank_id}
    releasing, waiting = _waiting_closure(credited) if credited else (set(), False)
    banks = releasing | {p.sender_bank_id for p in new} | {p.receiver_bank_id for p in new}
    book = bank_positions_lock(bank_ids=banks, now=now)
    queue = (
        [
            payment
            for payment in Payment.objects.select_for_update()
            .filter(awaiting_liquidity=True, sender_bank_id__in=releasing)
            .order_by("created_at", "id")[:RELEASE_BATCH]
            # A payment that started waiting after the banks were gathered, to a bank not locked, waits for the
            # next release of its payer.
            if payment.receiver_bank_id in book
        ]
        if waiting
        else []
    )
    admission = _Admission(book=book, now=now)
    new_ids = {payment.id for payment in new}
    admitted_ids: set[uuid.UUID] = set()
    reasons: dict[uuid.UUID, str] = {}
    progress = True
    while progress:
        progress = False
        for payment in [*queue, *new]:
            if payment.id in admitted_ids:
                continue
            payer = payment.sender_bank_id
            # Between two customers of one bank the payment does not change the bank's net debit.
            if payer != payment.receiver_bank_id:
                if not book.fits(payer_bank_id=payer, amount_usd=payment.amount_usd):
                    reasons[payment.id] = f"{book.describe(payer, payment.amount_usd)}."
                    continue
                book.take(payer_bank_id=payer, payee_bank_id=payment.receiver_bank_id, amount_usd=payment.amount_usd)
            admitted_ids.add(payment.id)
            progress = True
            if payment.id not in new_ids:
                # Its clearing windows may have closed while it waited: schedule it for when both are open.
                scheduled_for, closed = _joint_schedule(directory, payment, now)
                note = ""
                if scheduled_for is not None:
                    payment.scheduled_for = scheduled_for
                    if closed:
                        note = f" Scheduled for {scheduled_for:%Y-%m-%d %H:%M} UTC ({' and '.join(closed)} closed)."
                admission.released.append(
                    (payment, f"Released from the liquidity queue: {book.describe(payer)}.{note}")
                )
            admission.drafts.extend(_obligation_drafts(payment, book))
    admission.waiting = [(payment, reasons[payment.id]) for payment in new if payment.id not in admitted_ids]
    return admission


def _admission_write(admission: _Admission) -> list[AuditItem]:
    """Write the positions (and their limit alerts), the obligations, and the released payments with their timeline
    and events; return the released payments' audit items."""
    now = admission.now
    bank_positions_save(book=admission.book, now=now)
    obligations_record(drafts=admission.drafts, now=now)
    if not admission.released:
        return []
    released = [payment for payment, _ in admission.released]
    for payment in released:
        payment.awaiting_liquidity = False
        payment.status_reason = "Released from the liquidity queue; queued for the next netting cycle."
        payment.updated_at = now
    Payment.objects.bulk_update(released, ["awaiting_liquidity", "status_reason", "scheduled_for", "updated_at"])
    PaymentTransition.objects.bulk_create(
        [
            PaymentTransition(
                payment_id=payment.id,
                from_status=PaymentStatus.QUEUED,
                to_status=PaymentStatus.QUEUED,
                actor_id=None,
                actor_label="system",
                reason=reason[:255],
                occurred_at=now,
            )
            for payment, reason in admission.released
        ]
    )
    event_record_many(
        events=[("payments", "payments.payment_update", payment_event_payload(payment)) for payment in released]
    )
    return [
        AuditItem(
            action="payment.liquidity_release",
            object_type="payment",
            object_id=str(payment.id),
            payload={"reason": reason, "business_date": admission.book.business_date(payment.sender_bank_id)},
        )
        for payment, reason in admission.released
    ]


def _liquidity_admit_on_read(*, new: list[Payment], now: datetime) -> tuple[_Admission, dict] | None:
    """The common case decided without locks: every payment fits its payer's limit on the positions as committed
    now, and no payee has payments waiting to be released. Returns the admission and the positions it read (bank
    -> (debit, credit)), or None when the locked path must decide (a payment that does not fit, a release due, a
    bank's first payment of its day).
    """
    credited = {p.receiver_bank_id for p in new if p.receiver_bank_id != p.sender_bank_id}
    if credited and _waiting_closure(credited)[1]:
        return None
    book = bank_positions_read(bank_ids={p.sender_bank_id for p in new} | {p.receiver_bank_id for p in new}, now=now)
    if book is None:
        return None
    read = {bank_id: (p.debit_usd, p.credit_usd) for bank_id, p in book.positions.items()}
    admission = _Admission(book=book, now=now)
    for payment in new:
        payer = payment.sender_bank_id
        if payer != payment.receiver_bank_id:
            if not book.fits(payer_bank_id=payer, amount_usd=payment.amount_usd):
                return None
            book.take(payer_bank_id=payer, payee_bank_id=payment.receiver_bank_id, amount_usd=payment.amount_usd)
        admission.drafts.extend(_obligation_drafts(payment, book))
    return admission, read


def _positions_apply(admission: _Admission, read: dict) -> list[AuditItem]:
    if not bank_positions_add(book=admission.book, read=read, now=admission.now):
        raise PositionsMoved
    return []


def stage_liquidity(runs: list[PipelineRun], ctx: PersistContext | None = None) -> list[AuditItem]:
    """Approved payments owe their obligations now if the payer's limit allows, else they wait for liquidity.

    A waiting payment is QUEUED with status_reason ``awaiting_liquidity`` and no obligations. Payments held for
    compliance review are not here: they reach this stage when an officer approves them.

    With ``ctx.optimistic`` (batches on PostgreSQL), when every payment fits on an unlocked read of the positions,
    the obligations are written now and the positions only just before the audit entries, under their row locks,
    after checking the limits again: two batches then hold the banks' rows for their last statements only, instead
    of from here to COMMIT. Anything else takes the locked path below.
    """
    queued = [run for run in runs if run.payment.status == PaymentStatus.QUEUED]
    if not queued:
        return []
    if ctx is not None and ctx.optimistic:
        decided = _liquidity_admit_on_read(new=[run.payment for run in queued], now=queued[0].now)
        if decided is not None:
            admission, read = decided
            obligations_record(drafts=admission.drafts, now=admission.now)
            ctx.before_audit.append(lambda: _positions_apply(admission, read))
            return []
    admission = _liquidity_admit(new=[run.payment for run in queued], bank_ids=set(), now=queued[0].now)
    waiting = {payment.id: reason for payment, reason in admission.waiting}
    for run in queued:
        reason = waiting.get(run.payment.id)
        if reason is None:
            continue
        from_status, to_status, _ = run.transitions[-1]
        run.transitions[-1] = (
            from_status,
            to_status,
            " ".join([*run.notes, f"Awaiting liquidity: {reason}"])[:255],
        )
        run.payment.awaiting_liquidity = True
        run.payment.status_reason = AWAITING_LIQUIDITY
    if waiting:
        Payment.objects.filter(pk__in=list(waiting)).update(awaiting_liquidity=True, status_reason=AWAITING_LIQUIDITY)
    return _admission_write(admission)


PERSIST_STAGES: list[PersistStage] = [stage_liquidity]


# --- Services ------------------------------------------------------------------


def _run_pipeline(run: PipelineRun, stages: list[Stage] = PIPELINE) -> None:
    for stage in stages:
        if run.halted:
            break
        stage(run)
        if run.errors:
            raise ValidationFailed(
                "The payment is not valid. "
                + " ".join(f"{name}: {errs[0]['message']}" for name, errs in run.errors.items()),
                fields=run.errors,
            )


def payment_event_payload(payment: Payment) -> dict:
    return {
        "id": str(payment.id),
        "payment_reference": payment.payment_reference,
        "status": payment.status,
        "amount": payment.amount,
        "currency": payment.currency_id,
        "sender_bic": payment.sender_bic,
        "receiver_bic": payment.receiver_bic,
        "awaiting_liquidity": payment.awaiting_liquidity,
        "updated_at": payment.updated_at,
    }


def _timeline_steps(run: PipelineRun, start: int = 0) -> list[TimelineStep]:
    label = _actor_label(run.actor)
    return [
        TimelineStep(run.payment.id, from_status, to_status, run.payment.created_by_id, label, reason, run.now)
        for from_status, to_status, reason in run.transitions[start:]
    ]


def _persist(runs: list[PipelineRun], ctx: PersistContext | None = None) -> None:
    """Write payments, timelines, events and audit entries of finished runs in the caller's transaction.

    The persist-time stages take row locks held until commit, so they run as late as they can: after the payment
    rows, the timeline steps they cannot change and the screening records are written. They may still change the
    runs' payments and last transitions; those steps, the events and the audit entries are written after them.
    """
    payments = [run.payment for run in runs]
    objects_insert(payments)
    # Every step but a queued payment's last (the liquidity stage may give it the reason it waits).
    settled_steps = {id(run): len(run.transitions) - (run.payment.status == PaymentStatus.QUEUED) for run in runs}
    for run in runs:
        run.timeline_rows = _timeline_steps(run)
    rows_insert(
        PaymentTransition,
        TimelineStep._fields,
        [step for run in runs for step in run.timeline_rows[: settled_steps[id(run)]]],
    )
    screened = [run for run in runs if run.screening is not None]
    checks = screening_record_many(
        records=[
            ScreeningRecord(
                payment_id=run.payment.id,
                outcome=run.screening[0],
                risk=run.screening[1],
                amount_usd=run.payment.amount_usd,
                sender_bic=run.payment.sender_bic,
                receiver_bic=run.payment.receiver_bic,
                payment_reference=run.payment.payment_reference,
            )
            for run in screened
        ],
        now=runs[0].now,
    )
    for run, check in zip(screened, checks, strict=True):
        run.screening_check = check
    ctx = ctx or PersistContext()
    stage_audit = [item for stage in PERSIST_STAGES for item in stage(runs, ctx)]
    for run in runs:
        # A stage may have changed the steps not yet written (it gives a waiting payment's last step its reason).
        settled = settled_steps[id(run)]
        if settled < len(run.transitions):
            run.timeline_rows[settled:] = _timeline_steps(run, settled)
    rows_insert(
        PaymentTransition,
        TimelineStep._fields,
        [step for run in runs for step in run.timeline_rows[settled_steps[id(run)] :]],
    )
    event_record_many(
        events=[("payments", "payments.payment_update", payment_event_payload(payment)) for payment in payments]
    )
    for finish in ctx.before_audit:
        stage_audit += finish()
    audit_record_many(
        actor=runs[0].actor,
        items=[
            AuditItem(
                action="payment.initiate",
                object_type="payment",
                object_id=str(run.payment.id),
                payload={
                    "payment_reference": run.payment.payment_reference,
                    "sender_bic": run.payment.sender_bic,
                    "receiver_bic": run.payment.receiver_bic,
                    "amount": run.payment.amount,
                    "currency": run.payment.currency_id,
                    "status": run.payment.status,
                    "channel": run.payment.channel,
                    "awaiting_liquidity": run.payment.awaiting_liquidity,
                },
            )
            for run in runs
        ]
        + stage_audit,
        occurred_at=runs[0].now,
    )


@dataclass(frozen=True)
class InitiatedPayment:
    """A recorded payment with what was written beside it, so callers answer without reading it back."""

    payment: Payment
    timeline: list[PaymentTransition]
    screening: ScreeningCheck | None


def payment_initiate(
    *, actor, instruction: PaymentInstruction, channel: str = Channel.REST, idempotency_key: str = ""
) -> InitiatedPayment:
    """Validate and record one payment and everything it passes through, in one transaction."""
    run = PipelineRun(
        instruction=instruction,
        actor=actor,
        channel=channel,
        idempotency_key=idempotency_key,
        now=timezone.now(),
        directory=participant_directory(),
    )
    _run_pipeline(run)
    # No savepoint: inside a caller's transaction (idempotency) a failure must roll back the whole of it anyway.
    with transaction.atomic(savepoint=False):
        _persist([run])
    return InitiatedPayment(payment=run.payment, timeline=run.timeline_rows, screening=run.screening_check)


# --- Batch intake -------------------------------------------------------------
#
# JSON batches and ISO 20022 messages carry thousands of payments. Each runs the same stages as a single
# payment, in memory; they are written in chunks, one transaction per chunk, so a batch costs a few statements
# per thousand payments instead of a transaction each. One invalid item rejects only itself.

BATCH_CHUNK = 1000


@dataclass(frozen=True)
class BatchItem:
    """One payment of a batch. ``idempotency_key`` (scoped to the sender bank) needs the item's ``fingerprint``:
    a hash of what was asked (deltran.idempotency.request_fingerprint of the item), compared on repeats."""

    instruction: PaymentInstruction
    idempotency_key: str = ""
    fingerprint: str = ""


@dataclass
class BatchOutcome:
    """What became of one item: a payment (``replayed`` when its key was seen before with the same content), or
    the error that rejected it (ValidationFailed with field details, or IdempotencyConflict)."""

    payment: Payment | None = None
    replayed: bool = False
    error: DomainError | None = None


def batch_item_body(payment: Payment) -> dict:
    """The response stored for an item's idempotency key, and what a repeat of it is answered with."""
    return {"id": str(payment.id), "payment_reference": payment.payment_reference, "status": payment.status}


def _key_conflict(message: str) -> IdempotencyConflict:
    return IdempotencyConflict(
        message, fields=field_error("idempotency_key", "idempotency_conflict", "The key belongs to another payment.")
    )


def _idempotency_claim(rows: list[tuple[str, str, str, dict]], now: datetime) -> set[tuple[str, str]]:
    """Insert (scope, key, fingerprint, body) records unless the key exists; the (scope, key) pairs inserted.

    ON CONFLICT DO NOTHING waits for a concurrent transaction holding the same key and then skips it, so of two
    batches carrying one key exactly one records a payment for it.
    """
    if not rows:
        return set()
    table = connection.ops.quote_name(IdempotencyRecord._meta.db_table)
    created_at = IdempotencyRecord._meta.get_field("created_at").get_db_prep_save(now, connection)
    claimed: set[tuple[str, str]] = set()
    # 6 parameters a row: under SQLite's host-parameter limit; on PostgreSQL one statement for a chunk.
    per_statement = 1000 if connection.vendor == "postgresql" else 150
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
            params = []
            for scope, key, fingerprint, body in chunk:
                # A batch item's body names its payment (batch_item_body: id, reference, status) and holds no
                # account data, so it is stored as plain JSON, which the encrypted field reads as it is
                # (deltran.crypto.EncryptedJSONField), rather than encrypted item by item.
                params += [
                    scope,
                    key,
                    fingerprint,
                    201,
                    json.dumps(body, cls=DjangoJSONEncoder, separators=(",", ":")),
                    created_at,
                ]
            cursor.execute(
                f"INSERT INTO {table} (scope, key, request_hash, response_status, response_body, created_at) "
                f"VALUES {values} ON CONFLICT (scope, key) DO NOTHING RETURNING scope, key",
                params,
            )
            claimed.update((scope, key) for scope, key in cursor.fetchall())
    return claimed


def _idempotency_replays(items: list[BatchItem], indexes: list[int], outcomes: list[BatchOutcome | None]) -> None:
    """Answer the items whose keys were recorded before: the earlier payment, or a conflict for other content."""
    wanted = {(items[i].instruction.sender_bic, items[i].idempotency_key) for i in indexes}
    records = {}
    keys_by_scope: dict[str, list[str]] = {}
    for scope, key in wanted:
        keys_by_scope.setdefault(scope, []).append(key)
    for scope, keys in keys_by_scope.items():
        for start in range(0, len(keys), _CHUNK):
            for record in IdempotencyRecord.objects.filter(scope=scope, key__in=keys[start : start + _CHUNK]):
                records[(record.scope, record.key)] = record
    payment_ids = {
        record.response_body.get("id") for record in records.values() if isinstance(record.response_body, dict)
    }
    payments = Payment.objects.in_bulk([pid for pid in payment_ids if pid]) if payment_ids else {}
    for i in indexes:
        item = items[i]
        record = records.get((item.instruction.sender_bic, item.idempotency_key))
        if record is None:
            # Claimed by a transaction that rolled back after we looked: the caller may send it again.
            outcomes[i] = BatchOutcome(
                error=Conflict(f"Idempotency key {item.idempotency_key!r} is in use by another request; retry.")
            )
            continue
        if record.request_hash != item.fingerprint:
            outcomes[i] = BatchOutcome(
                error=_key_conflict(f"Idempotency key {item.idempotency_key!r} was already used for other content.")
            )
            continue
        body = record.response_body if isinstance(record.response_body, dict) else {}
        payment = payments.get(uuid.UUID(body["id"])) if body.get("id") else None
        outcomes[i] = BatchOutcome(payment=payment, replayed=True)


def _chunk_record(
    chunk: list[tuple[int, PipelineRun]], items: list[BatchItem], now: datetime
) -> tuple[list[tuple[int, PipelineRun]], list[int]]:
    """One chunk in one transaction: claim its keys, write its new payments. The liquidity stage decides on an
    unlocked read first (PostgreSQL); if a limit no longer holds when the positions are locked at the end, the
    transaction is rolled back and the chunk written again on the locked path. The (index, run) pairs written and the
    indexes whose keys were taken before."""
    for optimistic in (True, False) if connection.vendor == "postgresql" else (False,):
        try:
            with transaction.atomic():
                keyed = [(i, run) for i, run in chunk if run.idempotency_key]
                claimed = _idempotency_claim(
                    [
                        (
                            run.payment.sender_bic,
                            run.idempotency_key,
                            items[i].fingerprint,
                            batch_item_body(run.payment),
                        )
                        for i, run in keyed
                    ],
                    now,
                )
                fresh = [
                    (i, run)
                    for i, run in chunk
                    if not run.idempotency_key or (run.payment.sender_bic, run.idempotency_key) in claimed
                ]
                taken = [i for i, run in keyed if (run.payment.sender_bic, run.idempotency_key) not in claimed]
                if fresh:
                    _persist([run for _, run in fresh], PersistContext(optimistic=optimistic))
            return fresh, taken
        except PositionsMoved:
            if not optimistic:
                raise
    raise AssertionError("unreachable")


def payments_initiate_many(*, actor, items: list[BatchItem], channel: str) -> list[BatchOutcome]:
    """Validate and record many payments through the pipeline; one outcome per item, in order.

    Items are written in chunks of BATCH_CHUNK, one transaction each (inside a caller's transaction they become
    part of it). An item whose idempotency key was recorded before (by an earlier request or earlier in this
    batch) is answered with that payment, or refused when its content differs.
    """
    now = timezone.now()
    directory = participant_directory()
    outcomes: list[BatchOutcome | None] = [None] * len(items)
    activity = _debtors_activity({item.instruction.debtor_name for item in items}, now)
    schedules: dict[tuple, tuple] = {}
    runs: list[tuple[int, PipelineRun]] = []
    seen: dict[tuple[str, str], int] = {}
    later_repeats: list[int] = []
    for i, item in enumerate(items):
        key = item.idempotency_key
        if key:
            scope_key = (item.instruction.sender_bic, key)
            if scope_key in seen:
                later_repeats.append(i)
                continue
            seen[scope_key] = i
        run = PipelineRun(
            instruction=item.instruction,
            actor=actor,
            channel=channel,
            idempotency_key=key,
            now=now,
            directory=directory,
            activity=activity,
            schedules=schedules,
        )
        try:
            _run_pipeline(run)
        except ValidationFailed as exc:
            outcomes[i] = BatchOutcome(error=exc)
            continue
        runs.append((i, run))
    for start in range(0, len(runs), BATCH_CHUNK):
        chunk = runs[start : start + BATCH_CHUNK]
        fresh, taken = _chunk_record(chunk, items, now)
        for i, run in fresh:
            outcomes[i] = BatchOutcome(payment=run.payment)
        if taken:
            _idempotency_replays(items, taken, outcomes)
    for i in later_repeats:
        item = items[i]
        first_index = seen[(item.instruction.sender_bic, item.idempotency_key)]
        first = outcomes[first_index]
        if items[first_index].fingerprint != item.fingerprint:
            outcomes[i] = BatchOutcome(
                error=_key_conflict(
                    f"Idempotency key {item.idempotency_key!r} is used twice in this batch for different content."
                )
            )
        else:
            outcomes[i] = BatchOutcome(payment=first.payment, replayed=first.payment is not None, error=first.error)
    return outcomes


def payment_review_decided(*, case: ReviewCase, decision: str, officer, reason: str) -> Payment:
    """A compliance decision on a held payment: approved, it continues its pipeline; rejected, it ends.

    Runs inside the decision's transaction (compliance sends `case_decided`); the payment row is locked.
    """
    payment = Payment.objects.select_for_update().get(pk=case.payment_id)
    if payment.status != PaymentStatus.COMPLIANCE_REVIEW:
        raise InvalidTransition(f"Payment {payment.pk} is {payment.status}, not waiting for compliance review.")
    now = timezone.now()
    run = PipelineRun(
        instruction=None,
        actor=officer,
        channel=payment.channel,
        idempotency_key=payment.idempotency_key,
        now=now,
        directory=participant_directory(),
        payment=payment,
    )
    label = officer.get_username()
    if decision == "approve":
        run.move(PaymentStatus.APPROVED, f"Approved by compliance officer {label}: {reason}"[:255])
        _run_pipeline(run, AFTER_REVIEW)
    else:
        run.move(PaymentStatus.REJECTED, f"Rejected by compliance officer {label}: {reason}"[:255])
    payment.updated_at = now
    payment.save()
    # Approved: its obligations are recorded now (or it waits for liquidity), as at intake.
    stage_audit = [item for stage in PERSIST_STAGES for item in stage([run], PersistContext())]
    PaymentTransition.objects.bulk_create(
        [
            PaymentTransition(
                payment=payment,
                from_status=a,
                to_status=b,
                actor=officer,
                actor_label=label,
                reason=why,
                occurred_at=now,
            )
            for a, b, why in run.transitions
        ]
    )
    event_record_many(events=[("payments", "payments.payment_update", payment_event_payload(payment))])
    audit_record_many(
        actor=officer,
        items=[
            AuditItem(
                action=f"payment.review_{decision}",
                object_type="payment",
                object_id=str(payment.pk),
                payload={
                    "status": payment.status,
                    "case": case.pk,
                    "reason": reason,
                    "awaiting_liquidity": payment.awaiting_liquidity,
                },
            ),
            *stage_audit,
        ],
        occurred_at=now,
    )
    return payment


class NotCancellable(InvalidTransition):
    code = "not_cancellable"


def payment_cancel(*, actor, payment_id, reason: str) -> Payment:
    """An operator cancels a payment waiting for liquidity (QUEUED → CANCELLED); the reason is mandatory.

    Only a waiting payment can be cancelled: it has no obligations and holds nothing of its payer's position. A
    payment with obligations belongs to settlement and is refused.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "A cancellation needs a reason.",
            fields={"reason": [{"code": "required", "message": "Give the reason for cancelling the payment."}]},
        )
    now = timezone.now()
    label = _actor_label(actor)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.QUEUED or not payment.awaiting_liquidity:
            raise NotCancellable(
                f"Payment {payment.payment_reference} is {payment.status}"
                f"{' with settlement obligations' if payment.status == PaymentStatus.QUEUED else ''}: "
                "only a payment waiting for liquidity can be cancelled."
            )
        if not can_transition(payment.status, PaymentStatus.CANCELLED):
            raise NotCancellable(f"A payment cannot go from {payment.status} to cancelled.")
        why = f"Cancelled by {label} while awaiting liquidity: {reason}"[:255]
        from_status = payment.status
        payment.status = PaymentStatus.CANCELLED
        payment.status_reason = why
        payment.awaiting_liquidity = False
        payment.updated_at = now
        payment.save(update_fields=["status", "status_reason", "awaiting_liquidity", "updated_at"])
        PaymentTransition.objects.create(
            payment=payment,
            from_status=from_status,
            to_status=PaymentStatus.CANCELLED,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            actor_label=label,
            reason=why,
            occurred_at=now,
        )
        event_record_many(events=[("payments", "payments.payment_update", payment_event_payload(payment))])
        audit_record(
            actor=actor,
            action="payment.cancel",
            object_type="payment",
            object_id=payment.pk,
            payload={"reason": reason, "from_status": from_status, "awaiting_liquidity": True},
        )
    return payment


def payments_liquidity_release(*, now: datetime | None = None) -> int:
    """Release the waiting payments that fit their payers' positions now; the number released.

    Incoming payments release waiting ones in their own transaction; this covers the rest: a bank's new business
    day starts from a fresh position (settling a cycle does not lower the day's net debit), so beat runs this
    (task payments.liquidity_release) to release what fits the new day without waiting for an incoming payment.
    """
    now = now or timezone.now()
    senders = set(
        Payment.objects.filter(awaiting_liquidity=True).order_by().values_list("sender_bank_id", flat=True).distinct()
    )
    if not senders:
        return 0
    with transaction.atomic():
        admission = _liquidity_admit(new=[], bank_ids=senders, now=now)
        items = _admission_write(admission)
        audit_record_many(actor=None, items=items, occurred_at=now)
    return len(admission.released)


def _transitions_insert(
    *, payment_ids: list[uuid.UUID], from_status: str, to_status: str, label: str, reason: str, now: datetime
) -> None:
    """The same timeline step for many payments (no actor), in payment id order: one INSERT … SELECT, no objects.

    A netting cycle settles up to hundreds of thousands of payments; building a model instance per step cost more
    than the rest of the cycle.
    """
    if not payment_ids:
        return
    rows = (
        Payment.objects.filter(pk__in=payment_ids)
        .order_by("pk")
        .annotate(
            _from=Value(from_status, output_field=CharField()),
            _to=Value(to_status, output_field=CharField()),
            _actor=Value(None, output_field=IntegerField()),
            _label=Value(label, output_field=CharField()),
            _reason=Value(reason, output_field=CharField()),
            _at=Value(now, output_field=DateTimeField()),
        )
        .values_list("pk", "_from", "_to", "_actor", "_label", "_reason", "_at")
    )
    select, params = rows.query.sql_with_params()
    quote = connection.ops.quote_name
    fields = ("payment", "from_status", "to_status", "actor", "actor_label", "reason", "occurred_at")
    columns = ", ".join(quote(PaymentTransition._meta.get_field(name).column) for name in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(PaymentTransition._meta.db_table)} ({columns}) {select}", params)


def payments_settle(*, cycle: NettingCycle, payment_ids: list[uuid.UUID]) -> int:
    """A netting cycle settled these payments' obligations: QUEUED → SETTLING, and → SETTLED once all are settled.

    Runs inside the cycle's settle transaction (settlement sends ``cycle_settled``): a payment in any other status
    raises, and the whole cycle rolls back. A cross-currency payment whose other leg was deferred stays SETTLING
    until a later cycle settles it. Returns how many payments became SETTLED.
    """
    now = timezone.now()
    label = cycle.run_by
    settled_count = 0
    for start in range(0, len(payment_ids), _CHUNK):
        chunk = payment_ids[start : start + _CHUNK]
        payments = list(
            Payment.objects.select_for_update()
            .filter(pk__in=chunk)
            .only(
                "id",
                "payment_reference",
                "status",
                "amount",
                "currency",
                "sender_bic",
                "receiver_bic",
                "awaiting_liquidity",
                "updated_at",
            )
            .order_by("pk")
        )
        if len(payments) != len(chunk):
            raise InvalidTransition(f"Netting cycle {cycle.pk} names payments that do not exist.")
        # Read after the payments are locked: a concurrent cycle that settled another leg of one of them has
        # committed by now, so its leg counts as settled.
        unsettled = set(
            Obligation.objects.filter(payment_id__in=chunk)
            .exclude(status=ObligationStatus.SETTLED)
            .order_by()
            .values_list("payment_id", flat=True)
            .distinct()
        )
        queued, settled, settling = [], [], []
        for payment in payments:
            if payment.status not in (PaymentStatus.QUEUED, PaymentStatus.SETTLING):
                raise InvalidTransition(
                    f"Payment {payment.pk} is {payment.status}; netting cycle {cycle.pk} cannot settle it."
                )
            if payment.status == PaymentStatus.QUEUED:
                queued.append(payment.pk)
            if payment.pk in unsettled:
                if payment.status == PaymentStatus.QUEUED:
                    settling.append(payment)
                continue
            settled.append(payment)
        for payment in settling:
            payment.status = PaymentStatus.SETTLING
            payment.status_reason = f"Part settled in netting cycle {cycle.pk}; the rest waits for a later cycle."
        for payment in settled:
            payment.status = PaymentStatus.SETTLED
            payment.status_reason = f"Settled in netting cycle {cycle.pk}."
            payment.settled_at = now
        for payment in settling + settled:
            payment.updated_at = now
        if settling:
            Payment.objects.filter(pk__in=[p.pk for p in settling]).update(
                status=PaymentStatus.SETTLING, status_reason=settling[0].status_reason, updated_at=now
            )
        if settled:
            Payment.objects.filter(pk__in=[p.pk for p in settled]).update(
                status=PaymentStatus.SETTLED, status_reason=settled[0].status_reason, settled_at=now, updated_at=now
            )
        # Each payment's steps in order: every queued one enters the cycle, then the settled ones leave it.
        _transitions_insert(
            payment_ids=queued,
            from_status=PaymentStatus.QUEUED,
            to_status=PaymentStatus.SETTLING,
            label=label,
            reason=f"In netting cycle {cycle.pk}.",
            now=now,
        )
        _transitions_insert(
            payment_ids=[payment.pk for payment in settled],
            from_status=PaymentStatus.SETTLING,
            to_status=PaymentStatus.SETTLED,
            label=label,
            reason=f"Settled in netting cycle {cycle.pk}.",
            now=now,
        )
        event_record_many(
            events=[
                ("payments", "payments.payment_update", payment_event_payload(payment))
                for payment in settling + settled
            ]
        )
        settled_count += len(settled)
    return settled_count
