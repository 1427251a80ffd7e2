"""Settlement writes: participant reference data; obligations and business-day positions; netting cycles."""

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal, Inexact, localcontext
from zoneinfo import ZoneInfo

import holidays as holiday_calendars
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from deltran.audit import audit_record
from deltran.bulk import instance_build, objects_insert
from deltran.errors import Conflict, ValidationFailed
from deltran.events import event_record_many
from deltran.money import quantize_amount
from settlement.choices import POOL, CycleStatus, CycleTrigger, ObligationLeg, ObligationStatus, cycle_can_transition
from settlement.engines import limits, netting
from settlement.models import (
    Bank,
    BankPosition,
    ClearingWindow,
    CyclePosition,
    Holiday,
    LedgerPosting,
    NettingCycle,
    Obligation,
    SettlementAccount,
    SettlementInstruction,
)
from settlement.selectors import participant_directory
from settlement.signals import PoolCapacity, cycle_settled, pool_capacity_provider

logger = logging.getLogger(__name__)


@transaction.atomic
def bank_ensure(
    *,
    bic: str,
    name: str,
    country: str,
    timezone: str,
    primary_currency: str,
    secondary_currencies: list[str],
    daily_liquidity_limit_usd: Decimal,
    risk_rating: str,
    kyc_status: str,
    active_weekdays: list[int],
    accounts: dict[str, Decimal],
    clearing_window: tuple[time, time],
) -> tuple[Bank, bool]:
    """Create a bank with its accounts and clearing window if it is not there; an existing bank is left as is."""
    bank = Bank.objects.filter(bic=bic).first()
    if bank is not None:
        return bank, False
    bank = Bank(
        bic=bic,
        name=name,
        country=country,
        timezone=timezone,
        primary_currency_id=primary_currency,
        daily_liquidity_limit_usd=daily_liquidity_limit_usd,
        risk_rating=risk_rating,
        kyc_status=kyc_status,
        active_weekdays=active_weekdays,
    )
    bank.full_clean()
    bank.save()
    bank.secondary_currencies.set(secondary_currencies)
    for currency, balance in accounts.items():
        account = SettlementAccount(
            bank=bank, currency_id=currency, account_number=f"DLT{bic[:8]}{currency}", balance=balance
        )
        account.full_clean()
        account.save()
    opens_at, closes_at = clearing_window
    window = ClearingWindow(bank=bank, opens_at=opens_at, closes_at=closes_at)
    window.full_clean()
    window.save()
    return bank, True


@transaction.atomic
def holidays_import(*, country: str, year: int, source_name: str = "holidays") -> int:
    """Create the country's public holidays for a year from the `holidays` package; existing dates are kept."""
    country = country.strip().upper()
    try:
        calendar = holiday_calendars.country_holidays(country, years=year)
    except NotImplementedError as exc:
        raise ValidationFailed(
            f"No holiday calendar is known for country {country!r}.", code="unknown_country"
        ) from exc
    existing = set(
        Holiday.objects.filter(country=country, bank__isnull=True, date__year=year).values_list("date", flat=True)
    )
    created = [
        Holiday(country=country, date=day, name=name[:128], source=f"{source_name} {holiday_calendars.__version__}")
        for day, name in sorted(calendar.items())
        if day not in existing
    ]
    Holiday.objects.bulk_create(created)
    return len(created)


# --- Obligations and business-day positions -------------------------------------------------
#
# Called by the payment pipeline inside the transaction that approves a payment (payments/services.py,
# stage_liquidity): lock the banks' positions, check the payer's limit, record the obligations.


@dataclass(frozen=True)
class ObligationDraft:
    """One leg of an approved payment, before it is recorded."""

    payment_id: uuid.UUID
    leg: str
    payer_code: str
    payee_code: str
    payer_bank_id: int | None
    payee_bank_id: int | None
    currency: str
    amount: Decimal
    amount_usd: Decimal
    due_at: datetime
    business_date: date


def obligation_legs(
    *,
    payment_id: uuid.UUID,
    payer_bic: str,
    payer_bank_id: int,
    payee_bic: str,
    payee_bank_id: int,
    currency: str,
    amount: Decimal,
    settlement_currency: str,
    settlement_amount: Decimal,
    amount_usd: Decimal,
    due_at: datetime,
    business_date: date,
) -> list[ObligationDraft]:
    """A same-currency payment owes directly; a cross-currency one pays the pool and the pool pays the payee.

    Both pool legs carry the payment's USD equivalent locked at acceptance.
    """
    common = {"payment_id": payment_id, "amount_usd": amount_usd, "due_at": due_at, "business_date": business_date}
    if settlement_currency == currency:
        return [
            ObligationDraft(
                leg=ObligationLeg.DIRECT,
                payer_code=payer_bic,
                payee_code=payee_bic,
                payer_bank_id=payer_bank_id,
                payee_bank_id=payee_bank_id,
                currency=currency,
                amount=amount,
                **common,
            )
        ]
    return [
        ObligationDraft(
            leg=ObligationLeg.TO_POOL,
            payer_code=payer_bic,
            payee_code=POOL,
            payer_bank_id=payer_bank_id,
            payee_bank_id=None,
            currency=currency,
            amount=amount,
            **common,
        ),
        ObligationDraft(
            leg=ObligationLeg.FROM_POOL,
            payer_code=POOL,
            payee_code=payee_bic,
            payer_bank_id=None,
            payee_bank_id=payee_bank_id,
            currency=settlement_currency,
            amount=settlement_amount,
            **common,
        ),
    ]


def obligations_record(*, drafts: list[ObligationDraft], now: datetime) -> list[Obligation]:
    """Insert obligations in the caller's transaction (the one that moved the payers' positions)."""
    if not drafts:
        return []
    obligations = [
        instance_build(
            Obligation,
            {
                "payment_id": d.payment_id,
                "leg": d.leg,
                "payer_code": d.payer_code,
                "payee_code": d.payee_code,
                "payer_bank_id": d.payer_bank_id,
                "payee_bank_id": d.payee_bank_id,
                "currency_id": d.currency,
                "amount": d.amount,
                "amount_usd": d.amount_usd,
                "business_date": d.business_date,
                "due_at": d.due_at,
                "status": ObligationStatus.PENDING,
                "created_at": now,
            },
        )
        for d in drafts
    ]
    objects_insert(obligations)
    return obligations


def business_date(bank_timezone: str, instant: datetime) -> date:
    """A bank's business day: its local calendar date at the instant."""
    return instant.astimezone(ZoneInfo(bank_timezone)).date()


class PositionBook:
    """Some banks' positions for their current business day, locked until the caller's transaction ends.

    The payment pipeline asks ``fits`` and records with ``take``; ``bank_positions_save`` writes the result.
    """

    def __init__(self, *, positions: dict[int, BankPosition], limits_usd: dict[int, Decimal], bics: dict[int, str]):
        self.positions = positions
        self.limits_usd = limits_usd
        self.bics = bics
        self.changed: set[int] = set()

    def __contains__(self, bank_id: int) -> bool:
        return bank_id in self.positions

    def business_date(self, bank_id: int) -> date:
        return self.positions[bank_id].business_date

    def fits(self, *, payer_bank_id: int, amount_usd: Decimal) -> bool:
        position = self.positions[payer_bank_id]
        return limits.fits_limit(
            debit=position.debit_usd,
            credit=position.credit_usd,
            amount=amount_usd,
            limit=self.limits_usd[payer_bank_id],
        )

    def take(self, *, payer_bank_id: int, payee_bank_id: int, amount_usd: Decimal) -> None:
        """The payer owes ``amount_usd`` more today, the payee is owed it."""
        self.positions[payer_bank_id].debit_usd += amount_usd
        self.positions[payee_bank_id].credit_usd += amount_usd
        self.changed.update((payer_bank_id, payee_bank_id))

    def describe(self, bank_id: int, extra_usd: Decimal = Decimal(0)) -> str:
        """The bank's net debit (plus ``extra_usd``) against its limit, as the timeline explains it."""
        position = self.positions[bank_id]
        owed = limits.net_debit(position.debit_usd, position.credit_usd) + extra_usd
        return (
            f"{self.bics[bank_id]}'s net debit for {position.business_date} "
            f"{'would be' if extra_usd else 'is'} {owed} USD of its {self.limits_usd[bank_id]} USD daily limit"
        )


def _position_keys(bank_ids: Iterable[int], now: datetime) -> dict[int, tuple[date, str, Decimal]]:
    banks = participant_directory().banks_by_id
    keys = {}
    for bank_id in sorted(set(bank_ids)):
        bank = banks[bank_id]
        keys[bank_id] = (business_date(bank.timezone, now), bank.bic, bank.daily_liquidity_limit_usd)
    return keys


def _positions_select(keys: dict[int, tuple[date, str, Decimal]], *, lock: bool):
    table = connection.ops.quote_name(BankPosition._meta.db_table)
    pairs = ", ".join(["(%s, %s::date)"] * len(keys))
    flat = [value for bank_id, (day, _, _) in keys.items() for value in (bank_id, day)]
    return BankPosition.objects.raw(
        f"SELECT * FROM {table} WHERE (bank_id, business_date) IN (VALUES {pairs}) ORDER BY id"
        + (" FOR UPDATE" if lock else ""),
        flat,
    )


def bank_positions_read(*, bank_ids: Iterable[int], now: datetime) -> PositionBook | None:
    """The banks' business-day positions as committed now, without locking them (PostgreSQL); None when one of the
    rows does not exist yet (the first payment of a bank's day takes the locked path, which creates it).

    For deciding on a read and applying the result later with ``bank_positions_add``.
    """
    keys = _position_keys(bank_ids, now)
    if not keys:
        return None
    positions = {row.bank_id: row for row in _positions_select(keys, lock=False)}
    if len(positions) != len(keys):
        return None
    return PositionBook(
        positions=positions,
        limits_usd={bank_id: limit for bank_id, (_, _, limit) in keys.items()},
        bics={bank_id: bic for bank_id, (_, bic, _) in keys.items()},
    )


def bank_positions_add(*, book: PositionBook, read: dict[int, tuple[Decimal, Decimal]], now: datetime) -> bool:
    """Apply what ``book`` took since ``read`` (each bank's debit and credit when it was read unlocked) to the
    positions as they are now, under their row locks (taken here, in primary-key order, held until commit).

    Each bank whose debit grew is checked against its limit again with what other transactions committed
    meanwhile; if one no longer fits, nothing is written and the answer is False (the caller starts over on the
    locked path). Otherwise the rows are written as ``bank_positions_save`` does, alerts included.
    """
    banks = sorted(book.changed)
    if not banks:
        return True
    keys = {
        bank_id: (book.positions[bank_id].business_date, book.bics[bank_id], book.limits_usd[bank_id])
        for bank_id in banks
    }
    locked = {row.bank_id: row for row in _positions_select(keys, lock=True)}
    for bank_id in banks:
        mine = book.positions[bank_id]
        debit_then, credit_then = read[bank_id]
        row = locked[bank_id]
        row.debit_usd += mine.debit_usd - debit_then
        row.credit_usd += mine.credit_usd - credit_then
        if mine.debit_usd > debit_then and not limits.fits_limit(
            debit=row.debit_usd, credit=row.credit_usd, amount=Decimal(0), limit=book.limits_usd[bank_id]
        ):
            return False
    for bank_id in banks:
        book.positions[bank_id] = locked[bank_id]
    bank_positions_save(book=book, now=now)
    return True


def _positions_lock_postgres(keys: dict[int, tuple[date, str, Decimal]], now: datetime):
    """Plain SQL, as this runs in every payment's transaction, where building the ORM's statements cost more than
    running them: insert the missing rows (in bank order, before any row is locked, so two transactions starting a
    bank's day cannot deadlock; an existing row is left alone), then lock them all in primary-key order."""
    table = connection.ops.quote_name(BankPosition._meta.db_table)
    pairs = ", ".join(["(%s, %s::date)"] * len(keys))
    flat = [value for bank_id, (day, _, _) in keys.items() for value in (bank_id, day)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (bank_id, business_date, debit_usd, credit_usd, updated_at) "
            f"SELECT d.bank_id, d.day, 0, 0, %s FROM (VALUES {pairs}) AS d (bank_id, day) "
            "ON CONFLICT (bank_id, business_date) DO NOTHING",
            [now, *flat],
        )
    return _positions_select(keys, lock=True)


def bank_positions_lock(*, bank_ids: Iterable[int], now: datetime) -> PositionBook:
    """The banks' positions for their business day at ``now``, created when missing, locked in primary-key order.

    Missing rows are inserted before any row is locked, in bank order, so two transactions that both start a
    bank's day cannot deadlock; then all rows are locked in one statement ordered by primary key.
    """
    keys = _position_keys(bank_ids, now)
    if not keys:
        return PositionBook(positions={}, limits_usd={}, bics={})
    if connection.vendor == "postgresql":
        rows = _positions_lock_postgres(keys, now)
    else:
        # SQLite (the embedded mode) has no row locks: its IMMEDIATE transactions hold the whole database.
        which = Q()
        for bank_id, (day, _, _) in keys.items():
            which |= Q(bank_id=bank_id, business_date=day)
        BankPosition.objects.bulk_create(
            [BankPosition(bank_id=bank_id, business_date=day, updated_at=now) for bank_id, (day, _, _) in keys.items()],
            ignore_conflicts=True,
        )
        rows = BankPosition.objects.filter(which).order_by("pk")
    positions = {row.bank_id: row for row in rows}
    return PositionBook(
        positions=positions,
        limits_usd={bank_id: limit for bank_id, (_, _, limit) in keys.items()},
        bics={bank_id: bic for bank_id, (_, bic, _) in keys.items()},
    )


def _positions_write(rows: list[BankPosition], now: datetime) -> None:
    """The locked rows' new totals: one UPDATE … FROM VALUES on PostgreSQL, an UPDATE by key each elsewhere."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        for position in rows:
            BankPosition.objects.filter(pk=position.pk).update(
                debit_usd=position.debit_usd,
                credit_usd=position.credit_usd,
                alerted_threshold=position.alerted_threshold,
                updated_at=now,
            )
        return
    table = connection.ops.quote_name(BankPosition._meta.db_table)
    values = ", ".join(["(%s, %s::numeric, %s::numeric, %s::numeric)"] * len(rows))
    params = [now]
    for p in rows:
        params += [p.pk, p.debit_usd, p.credit_usd, p.alerted_threshold]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS t SET debit_usd = v.debit, credit_usd = v.credit, alerted_threshold = v.alerted, "
            f"updated_at = %s FROM (VALUES {values}) AS v (id, debit, credit, alerted) WHERE t.id = v.id",
            params,
        )


def bank_positions_save(*, book: PositionBook, now: datetime) -> list[dict]:
    """Write the positions ``book`` changed, and an alert event for each limit threshold a bank reached today.

    Returns the alerts' payloads. Each threshold (80 %, 95 %) is alerted once per bank and business day: the last
    one alerted is kept on the position.
    """
    alerts = []
    rows = []
    for bank_id in sorted(book.changed):
        position = book.positions[bank_id]
        used = limits.utilisation(debit=position.debit_usd, credit=position.credit_usd, limit=book.limits_usd[bank_id])
        for threshold in limits.alerts_due(used=used, alerted=position.alerted_threshold):
            position.alerted_threshold = threshold
            alerts.append(
                {
                    "bic": book.bics[bank_id],
                    "business_date": position.business_date,
                    "utilisation": used,
                    "threshold": threshold,
                    "net_debit_usd": position.net_debit_usd,
                    "limit_usd": book.limits_usd[bank_id],
                }
            )
        position.updated_at = now
        rows.append(position)
    _positions_write(rows, now)
    if alerts:
        event_record_many(events=[("settlement", "settlement.limit_alert", alert) for alert in alerts])
    return alerts


# --- Netting cycles -------------------------------------------------------------------------


class CycleNotRunning(Conflict):
    code = "cycle_not_running"


def pool_account(currency: str) -> str:
    """The ledger account code of the liquidity pool in ``currency`` (the pool has no settlement account row)."""
    return f"POOL:{currency}"


# Exact sums and balances: never rounded silently (as in the netting engine).
_EXACT = Context(prec=netting.SUM_PRECISION, traps=[Inexact])
# Ids per IN (...) list, under SQLite's host-parameter limit.
_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class _Pair:
    """A cycle's claimed obligations from one payer to one payee in one currency, added up (the netting's input)."""

    payer: str
    payee: str
    currency: str
    amount: Decimal
    count: int
    amount_usd: Decimal


def _run_by(actor, trigger: str) -> str:
    if actor is not None and getattr(actor, "is_authenticated", False):
        return actor.get_username()
    return CycleTrigger(trigger).label


def netting_cycle_run(*, trigger: str, actor=None, now: datetime | None = None) -> NettingCycle | None:
    """Net and settle every pending obligation due at ``now``; None when nothing is due (no cycle is recorded).

    1. The cycle row is written (running) in its own transaction.
    2. One transaction claims the due obligations (id order; cycles take turns to claim, see ``_claim``) by writing
       their final state (settled, with the cycle id) in one UPDATE, adds them up per payer, payee and currency in
       the database, nets the totals per currency with the pure engine, defers participants that would go below
       zero (their obligations go back to pending) unless the pool lends the shortfall, moves the settlement
       account balances by the positions, writes postings, instructions and positions, tells payments and
       liquidity (``cycle_settled``), repays the pool's loans out of banks' net credits, and writes the event and
       audit entry. No other transaction sees the claimed
       state before it commits, so no obligation is ever seen settled by a cycle that did not settle it.
    3. If that transaction fails nothing of it stays (the obligations are pending again); the cycle is marked
       failed with the reason in a transaction of its own, and the next run takes the obligations again.
    """
    now = now or timezone.now()
    _abandoned_cycles_fail(actor=actor)
    if not Obligation.objects.filter(status=ObligationStatus.PENDING, due_at__lte=now).exists():
        return None
    cycle = NettingCycle(status=CycleStatus.RUNNING, trigger=trigger, run_by=_run_by(actor, trigger), started_at=now)
    cycle.full_clean()
    cycle.save()
    try:
        with transaction.atomic():
            _cycle_settle(cycle_id=cycle.pk, actor=actor, now=now)
    except Exception as exc:
        logger.exception("Netting cycle %s failed", cycle.pk)
        _cycle_fail(cycle_id=cycle.pk, actor=actor, reason=f"{type(exc).__name__}: {exc}"[:2000])
    cycle.refresh_from_db()
    return cycle


def _abandoned_cycles_fail(*, actor) -> None:
    """Mark failed the running cycles whose worker stopped (its transaction rolled back: nothing is claimed).

    A cycle still settling holds its row lock, so skip_locked passes it by; the age limit covers the moment
    between writing the cycle row and locking it (and SQLite, which has no row locks).
    """
    stale = timezone.now() - timedelta(seconds=settings.NETTING_CYCLE_STALE_SECONDS)
    if not NettingCycle.objects.filter(status=CycleStatus.RUNNING, started_at__lt=stale).exists():
        return
    with transaction.atomic():
        abandoned = list(
            NettingCycle.objects.select_for_update(skip_locked=True)
            .filter(status=CycleStatus.RUNNING, started_at__lt=stale)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    for cycle_id in abandoned:
        _cycle_fail(cycle_id=cycle_id, actor=actor, reason="Abandoned: the worker stopped before the cycle settled.")


@dataclass(frozen=True, slots=True)
class _Claim:
    """What a cycle claimed: how many obligations, their totals per pair, the id range they lie in, and (when the
    database reported them with the claim) the payments they belong to."""

    count: int
    pairs: list[_Pair]
    first_id: int | None
    last_id: int | None
    payment_ids: set[uuid.UUID] | None


# PostgreSQL memory for the claim statement per obligation of the cycle's size, so its rows (about 130 bytes each,
# kept for the two sums over them) and the payments' hash stay in memory instead of a temporary file. Set for the
# claim statement only (SET LOCAL, then back).
_CLAIM_WORK_MEM_BYTES = 160
_CLAIM_WORK_MEM_MAX_KB = 1024 * 1024
# Any constant: the key of the PostgreSQL advisory lock that orders claims (see _claim).
_CLAIM_LOCK_KEY = 0x0DE17C1A


def _claim(cycle: NettingCycle, now: datetime) -> _Claim:
    """Claim the due obligations for the cycle (settled, cycle id: one UPDATE) and add them up per pair.

    Returns how many were claimed, their totals per (currency, payer, payee), in that order, and their id range.
    No obligation is loaded as an object. PostgreSQL claims, adds up and lists the payments in one statement
    (``UPDATE … RETURNING`` summed with ``numeric``, exact), so the claimed rows are not read a second time; SQLite,
    whose decimals are floats, claims with one UPDATE and streams the rows into exact ``Decimal`` sums.

    On PostgreSQL, claims take turns: a transaction-level advisory lock, held until the cycle commits or rolls back,
    so a second cycle claims after the first has settled (or failed) and takes what is still pending then. (Cycles
    settling the same banks' accounts wait for each other on the account locks anyway.) Taking turns lets the claim
    be one plain UPDATE of the pending, due obligations up to the cycle's last id, instead of locking each row with
    ``FOR UPDATE SKIP LOCKED`` first and then updating it: for a million obligations, a million lock records and
    a second visit to each row less. SQLite runs one writing transaction at a time.
    """
    limit = settings.NETTING_CYCLE_MAX_OBLIGATIONS
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Obligation._meta.db_table)
        work_mem_kb = min(_CLAIM_WORK_MEM_MAX_KB, max(4096, limit * _CLAIM_WORK_MEM_BYTES // 1024))
        with connection.cursor() as cursor:
            # Raised, never lowered: a server configured with more keeps it.
            cursor.execute(
                """
                SELECT pg_advisory_xact_lock(%s), current_setting('work_mem'), set_config(
                    'work_mem',
                    CASE WHEN pg_size_bytes(current_setting('work_mem')) < %s * 1024
                         THEN %s ELSE current_setting('work_mem') END,
                    true
                )
                """,
                [_CLAIM_LOCK_KEY, work_mem_kb, f"{work_mem_kb}kB"],
            )
            previous_work_mem = cursor.fetchone()[1]
            # Two kinds of rows: a total per pair (payment_id NULL), then each claimed payment once. The bound is the
            # id of the limit-th pending, due obligation (all of them when fewer are due).
            cursor.execute(
                f"""
                WITH claimed AS (
                    UPDATE {table} SET status = %s, cycle_id = %s
                    WHERE status = %s AND due_at <= %s AND id <= (
                        SELECT MAX(id) FROM (
                            SELECT id FROM {table} WHERE status = %s AND due_at <= %s ORDER BY id LIMIT %s
                        ) AS due
                    )
                    RETURNING id, payment_id, currency_id, payer_code, payee_code, amount, amount_usd
                )
                SELECT currency_id, payer_code, payee_code, SUM(amount), COUNT(*), SUM(amount_usd), MIN(id), MAX(id),
                       NULL::uuid
                FROM claimed GROUP BY currency_id, payer_code, payee_code
                UNION ALL
                SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, payment_id FROM claimed GROUP BY payment_id
                """,
                [
                    ObligationStatus.SETTLED.value,
                    cycle.pk,
                    ObligationStatus.PENDING.value,
                    now,
                    ObligationStatus.PENDING.value,
                    now,
                    limit,
                ],
            )
            rows = cursor.fetchall()
            cursor.execute("SELECT set_config('work_mem', %s, true)", [previous_work_mem])
        totals = sorted((row for row in rows if row[8] is None), key=lambda row: row[:3])
        pairs = [
            _Pair(payer=payer, payee=payee, currency=currency, amount=total, count=count, amount_usd=total_usd)
            for currency, payer, payee, total, count, total_usd, _, _, _ in totals
        ]
        return _Claim(
            count=sum(p.count for p in pairs),
            pairs=pairs,
            first_id=min((row[6] for row in totals), default=None),
            last_id=max((row[7] for row in totals), default=None),
            payment_ids={row[8] for row in rows if row[8] is not None},
        )
    due = (
        Obligation.objects.select_for_update(skip_locked=True)
        .filter(status=ObligationStatus.PENDING, due_at__lte=now)
        .order_by("id")
        .values("id")[:limit]
    )
    claimed = Obligation.objects.filter(pk__in=due).update(status=ObligationStatus.SETTLED, cycle=cycle)
    if not claimed:
        return _Claim(count=0, pairs=[], first_id=None, last_id=None, payment_ids=set())
    rows = Obligation.objects.filter(cycle=cycle).order_by()
    sums: dict[tuple[str, str, str], list] = {}
    first_id = last_id = None
    with localcontext(_EXACT):
        for pk, currency, payer, payee, amount, amount_usd in rows.values_list(
            "id", "currency_id", "payer_code", "payee_code", "amount", "amount_usd"
        ).iterator(chunk_size=_CHUNK):
            first_id = pk if first_id is None else min(first_id, pk)
            last_id = pk if last_id is None else max(last_id, pk)
            entry = sums.get((currency, payer, payee))
            if entry is None:
                sums[(currency, payer, payee)] = [amount, 1, amount_usd]
            else:
                entry[0] += amount
                entry[1] += 1
                entry[2] += amount_usd
    pairs = [
        _Pair(payer=payer, payee=payee, currency=currency, amount=total, count=count, amount_usd=total_usd)
        for (currency, payer, payee), (total, count, total_usd) in sorted(sums.items())
    ]
    return _Claim(count=claimed, pairs=pairs, first_id=first_id, last_id=last_id, payment_ids=None)


def _cycle_obligations(cycle: NettingCycle, claim: _Claim):
    """The obligations the cycle holds (settled by it), found in its claim's id range: obligations have no index
    on the cycle (every claimed row would add an entry to it), and a claim takes them in id order."""
    return Obligation.objects.filter(
        pk__gte=claim.first_id, pk__lte=claim.last_id, cycle=cycle, status=ObligationStatus.SETTLED
    )


def _shortfall_cover(
    *, pool: PoolCapacity | None, currency: str, shortfall: Decimal, lent: Decimal, pool_position: Decimal
) -> Decimal | None:
    """The loan the pool grants a bank short by ``shortfall`` in ``currency``, or None (the bank is deferred).

    The pool lends when it is configured to (``funds_shortfalls``) and can pay the loan from its balance after what
    it already lent in this cycle and what it pays in it (``pool_position`` when negative); what the pool receives
    in the cycle is not lent on. The loan is the shortfall rounded up to the currency's minor units.
    """
    if pool is None or not pool.funds_shortfalls or currency not in pool.available:
        return None
    ref = participant_directory().currencies.get(currency)
    loan = shortfall.quantize(Decimal(1).scaleb(-ref.minor_units), rounding=ROUND_CEILING) if ref else shortfall
    with localcontext(_EXACT):
        room = pool.available[currency] - lent - max(Decimal(0), -pool_position)
    return loan if room >= loan else None


def _pool_deferral(*, currency: str, pool: PoolCapacity, lent: Decimal, position: Decimal, obligations: int) -> dict:
    held = pool.available.get(currency)
    if held is None:
        return {
            "bic": POOL,
            "currency": currency,
            "reason": "no_pool_balance",
            "message": f"The liquidity pool holds no {currency}.",
            "balance": None,
            "position": _in_units(position, currency),
            "shortfall": None,
            "obligations": obligations,
        }
    shortfall = -(held - lent + position)
    return {
        "bic": POOL,
        "currency": currency,
        "reason": "insufficient_pool_balance",
        "message": (
            f"The liquidity pool {pool.pool_name} holds {_in_units(held - lent, currency)} {currency}"
            f"{' after its loans' if lent else ''}; its net position {_in_units(position, currency)} would take it "
            f"to {_in_units(-shortfall, currency)}."
        ),
        "balance": _in_units(held - lent, currency),
        "position": _in_units(position, currency),
        "shortfall": _in_units(shortfall, currency),
        "obligations": obligations,
    }


def _deferral(*, bic: str, currency: str, account, position: Decimal, obligations: int) -> dict:
    if account is None:
        return {
            "bic": bic,
            "currency": currency,
            "reason": "no_settlement_account",
            "message": f"{bic} holds no {currency} settlement account.",
            "balance": None,
            "position": _in_units(position, currency),
            "shortfall": None,
            "obligations": obligations,
        }
    shortfall = -(account.balance + position)
    return {
        "bic": bic,
        "currency": currency,
        "reason": "insufficient_balance",
        "message": (
            f"{bic}'s {currency} account {account.account_number} holds {_in_units(account.balance, currency)}; "
            f"its net position {_in_units(position, currency)} would take it to {_in_units(-shortfall, currency)}."
        ),
        "balance": _in_units(account.balance, currency),
        "position": _in_units(position, currency),
        "shortfall": _in_units(shortfall, currency),
        "obligations": obligations,
    }


def _net_currency(
    cycle: NettingCycle,
    currency: str,
    claimed: list[_Pair],
    accounts: dict[tuple[str, str], SettlementAccount],
    pool: PoolCapacity | None,
) -> tuple[netting.CurrencyNetting | None, list[_Pair], list[dict], dict[str, Decimal]]:
    """Net one currency; while a participant would go below zero, let the pool lend it or defer it, and net again.

    A bank goes below zero when its account balance (plus any loan) plus its position is negative; the pool when its
    balance in the currency, less what it lent in this cycle, plus its position is (``pool`` None: no liquidity
    app, the pool is not constrained). The participant taken first is one with no account (a bank without a
    settlement account, or a pool without the currency), then the largest shortfall (ties: smaller code). A bank's
    shortfall is lent by the pool when ``_shortfall_cover`` grants it; otherwise, and always for the pool, all the
    participant's obligations in the currency are deferred. Returns the netting (None when every obligation was
    deferred), the pair totals it settles, the deferrals and the loans (BIC → amount).
    """
    remaining = claimed
    deferrals: list[dict] = []
    loans: dict[str, Decimal] = {}
    result = None
    while remaining:
        if result is None:
            result = netting.net_rows(
                (f"{p.payer}>{p.payee}", p.payer, p.payee, p.currency, p.amount) for p in remaining
            )[currency]
        with localcontext(_EXACT):
            lent = sum(loans.values(), Decimal(0))
        worst = None
        for code, position in result.positions.items():
            if not position:
                continue
            account = None
            if code == POOL:
                if pool is None:
                    continue
                held = pool.available.get(currency)
                if held is None:
                    rank = (1, Decimal(0))
                else:
                    shortfall = -(held - lent + position)
                    if shortfall <= 0:
                        continue
                    rank = (0, shortfall)
            else:
                account = accounts.get((code, currency))
                if account is None:
                    rank = (1, Decimal(0))
                else:
                    shortfall = -(account.balance + loans.get(code, Decimal(0)) + position)
                    if shortfall <= 0:
                        continue
                    rank = (0, shortfall)
            # No account first, then the largest shortfall; positions are ordered by code, so a tie keeps the
            # smaller code.
            if worst is None or rank > worst[0]:
                worst = (rank, code, account, position)
        if worst is None:
            return result, remaining, deferrals, loans
        (no_account, shortfall), code, account, position = worst
        if code != POOL and not no_account:
            loan = _shortfall_cover(
                pool=pool,
                currency=currency,
                shortfall=shortfall,
                lent=lent,
                pool_position=result.positions.get(POOL, Decimal(0)),
            )
            if loan is not None:
                loans[code] = loans.get(code, Decimal(0)) + loan
                continue
        kept = [p for p in remaining if code not in (p.payer, p.payee)]
        count = sum(p.count for p in remaining) - sum(p.count for p in kept)
        if code == POOL:
            deferral = _pool_deferral(currency=currency, pool=pool, lent=lent, position=position, obligations=count)
        else:
            loans.pop(code, None)
            deferral = _deferral(bic=code, currency=currency, account=account, position=position, obligations=count)
        deferrals.append(deferral)
        remaining = kept
        result = None
    return None, [], deferrals, {}


def _cycle_settle(*, cycle_id: int, actor, now: datetime) -> None:
    cycle = NettingCycle.objects.select_for_update().get(pk=cycle_id)
    if cycle.status != CycleStatus.RUNNING:
        raise CycleNotRunning(f"Netting cycle {cycle.pk} is {cycle.status}, not running.")
    claim = _claim(cycle, now)
    claimed_count, claimed = claim.count, claim.pairs

    by_currency: dict[str, list[_Pair]] = {}
    # A bank paying itself (two customers of one bank, one currency) moves no money: settled without netting.
    on_us = [p for p in claimed if p.payer == p.payee]
    for pair in claimed:
        if pair.payer != pair.payee:
            by_currency.setdefault(pair.currency, []).append(pair)
    bank_codes = sorted({code for p in claimed for code in (p.payer, p.payee) if code != POOL})
    # Every account the cycle may move, locked in primary-key order.
    accounts = {
        (account.bank.bic, account.currency_id): account
        for account in SettlementAccount.objects.select_for_update(of=("self",))
        .select_related("bank")
        .filter(bank__bic__in=bank_codes, currency_id__in=sorted(by_currency))
        .order_by("pk")
    }

    # Then the pool's balances in those currencies (through the hook liquidity fills; None: not constrained).
    pool = _pool_capacity(sorted(by_currency))

    results: dict[str, netting.CurrencyNetting] = {}
    settled: list[_Pair] = list(on_us)
    deferrals: list[dict] = []
    loans: dict[str, dict[str, Decimal]] = {}
    for currency in sorted(by_currency):
        result, kept, deferred, lent = _net_currency(cycle, currency, by_currency[currency], accounts, pool)
        deferrals.extend(deferred)
        if result is not None:
            results[currency] = result
            settled.extend(kept)
            if lent:
                loans[currency] = lent
    deferred_count = 0
    if deferrals:
        # Every deferred participant's obligations in its currency back to pending, in one UPDATE over the claim.
        which = Q()
        for deferral in deferrals:
            bic = deferral["bic"]
            which |= (Q(payer_code=bic) | Q(payee_code=bic)) & Q(currency_id=deferral["currency"])
        deferred_count = (
            _cycle_obligations(cycle, claim)
            .filter(which)
            .exclude(payer_code=F("payee_code"))
            .update(status=ObligationStatus.PENDING, cycle=None)
        )

    postings, instructions, positions, moved, fundings, repayments = [], [], [], {}, [], []
    for currency, result in results.items():
        for bic, loan in sorted(loans.get(currency, {}).items()):
            account = accounts[(bic, currency)]
            fundings.append(
                {
                    "bic": bic,
                    "currency": currency,
                    "amount": _in_units(loan, currency),
                    "balance": _in_units(account.balance, currency),
                    "position": _in_units(result.positions[bic], currency),
                    "pool": pool.pool_name,
                }
            )
            account.balance += loan
            account.pool_loan += loan
            account.updated_at = now
            moved[account.pk] = account
            postings.extend(
                _pool_transfer(
                    cycle, account, currency, -loan, f"Liquidity pool funds {bic}'s {currency} shortfall", now
                )
            )
        codes = {
            code: pool_account(currency) if code == POOL else accounts[(code, currency)].account_number
            for code in result.positions
        }
        entries = netting.postings(result, settlement_accounts=codes)
        with localcontext(_EXACT):
            if sum((entry.amount for entry in entries), Decimal(0)) != 0:
                raise AssertionError(f"The {currency} postings of cycle {cycle.pk} do not balance.")
            for code, position in result.positions.items():
                if code == POOL or not position:
                    continue
                account = accounts[(code, currency)]
                account.balance += position
                if account.balance < 0:
                    raise AssertionError(f"Cycle {cycle.pk} would take {account.account_number} below zero.")
                account.updated_at = now
                moved[account.pk] = account
            for code, position in sorted(result.positions.items()):
                if code == POOL or position <= 0 or pool is None or currency not in pool.available:
                    continue
                account = accounts[(code, currency)]
                if account.pool_loan <= 0:
                    continue
                # A bank that owes the pool repays from its net credit in this cycle: its balance still ends at
                # least where it started the cycle.
                repaid = _units_down(min(account.pool_loan, position), currency)
                if repaid <= 0:
                    continue
                account.balance -= repaid
                account.pool_loan -= repaid
                repayments.append(
                    {
                        "bic": code,
                        "currency": currency,
                        "amount": _in_units(repaid, currency),
                        "position": _in_units(position, currency),
                        "outstanding": _in_units(account.pool_loan, currency),
                        "pool": pool.pool_name,
                    }
                )
                postings.extend(
                    _pool_transfer(
                        cycle,
                        account,
                        currency,
                        repaid,
                        f"{code} repays its {currency} loan to the liquidity pool",
                        now,
                    )
                )
        by_number = {account.account_number: account.pk for account in accounts.values()}
        postings.extend(
            LedgerPosting(
                cycle=cycle,
                account_code=entry.account,
                settlement_account_id=by_number.get(entry.account),
                currency_id=currency,
                amount=entry.amount,
                counter_account_code=entry.counterparty,
                memo=entry.memo[:140],
                created_at=now,
            )
            for entry in entries
        )
        instructions.extend(
            SettlementInstruction(
                cycle=cycle, payer_code=t.payer, payee_code=t.payee, currency_id=currency, amount=t.amount
            )
            for t in result.transfers
        )
        positions.extend(
            CyclePosition(cycle=cycle, participant_code=code, currency_id=currency, position=position)
            for code, position in result.positions.items()
        )
    SettlementAccount.objects.bulk_update([moved[pk] for pk in sorted(moved)], ["balance", "pool_loan", "updated_at"])
    LedgerPosting.objects.bulk_create(postings, batch_size=_CHUNK)
    SettlementInstruction.objects.bulk_create(instructions, batch_size=_CHUNK)
    CyclePosition.objects.bulk_create(positions, batch_size=_CHUNK)
    settled_count = sum(p.count for p in settled)
    if claimed_count - deferred_count != settled_count:
        raise AssertionError(
            f"Cycle {cycle.pk} claimed {claimed_count} obligations and deferred {deferred_count}, "
            f"but settles {settled_count}."
        )

    if claim.payment_ids is not None and not deferred_count:
        payment_ids = sorted(claim.payment_ids)
    elif settled_count:
        payment_ids = sorted(
            _cycle_obligations(cycle, claim).order_by().values_list("payment_id", flat=True).distinct()
        )
    else:
        payment_ids = []
    _cycle_figures(cycle, results, settled)
    cycle.payment_count = len(payment_ids)
    cycle.obligation_count = settled_count
    cycle.deferrals = _jsonable(deferrals)
    cycle.fundings = _jsonable(fundings)
    cycle.repayments = _jsonable(repayments)
    _cycle_move(cycle, CycleStatus.SETTLED)
    cycle.finished_at = timezone.now()
    cycle.save()
    # Payments move QUEUED → SETTLING → SETTLED in this same transaction (payments subscribes).
    cycle_settled.send(sender=NettingCycle, cycle=cycle, payment_ids=payment_ids)
    summary = netting_cycle_summary(cycle)
    event_record_many(events=[("settlement", "settlement.netting_cycle", summary)])
    audit_record(
        actor=actor, action="settlement.netting_cycle", object_type="netting_cycle", object_id=cycle.pk, payload=summary
    )


def _pool_transfer(
    cycle: NettingCycle, account: SettlementAccount, currency: str, amount: Decimal, memo: str, now: datetime
) -> list[LedgerPosting]:
    """A balanced entry between a settlement account and the pool: ``amount`` to the pool (negative: from it)."""
    return [
        LedgerPosting(
            cycle=cycle,
            account_code=code,
            settlement_account_id=account.pk if code == account.account_number else None,
            currency_id=currency,
            amount=signed,
            counter_account_code=counter,
            memo=memo[:140],
            created_at=now,
        )
        for code, signed, counter in (
            (pool_account(currency), amount, account.account_number),
            (account.account_number, -amount, pool_account(currency)),
        )
    ]


def _pool_capacity(currencies: list[str]) -> PoolCapacity | None:
    """The pool's balances in ``currencies``, locked, from the provider liquidity registers (see settlement.signals).

    No provider: None, the pool is not constrained. A provider that finds no pool: an empty pool, so every pool leg
    is deferred (``no_pool_balance``) rather than posted against balances nobody holds.
    """
    provider = pool_capacity_provider()
    if provider is None or not currencies:
        return None
    capacity = provider(currencies)
    if capacity is None:
        return PoolCapacity(pool_id=0, pool_name="", available={}, funds_shortfalls=False)
    return capacity


def _in_units(amount: Decimal | None, currency: str) -> Decimal | None:
    """An amount to its currency's minor units, as the cycle's JSON columns show it (stored amounts have 4 places)."""
    if amount is None:
        return None
    ref = participant_directory().currencies.get(currency)
    return quantize_amount(amount, ref.minor_units) if ref else amount


def _units_down(amount: Decimal, currency: str) -> Decimal:
    """An amount rounded down to its currency's minor units (what a repayment may take without exceeding it)."""
    ref = participant_directory().currencies.get(currency)
    return amount.quantize(Decimal(1).scaleb(-ref.minor_units), rounding=ROUND_FLOOR) if ref else amount


def _jsonable(value):
    """Decimals as plain strings, for the cycle's JSON columns."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def _cycle_figures(cycle: NettingCycle, results: dict[str, netting.CurrencyNetting], settled: list[_Pair]) -> None:
    """Per-currency figures, and the cycle's gross, net and efficiency in USD.

    Each currency is valued at the USD equivalents its obligations were accepted at: gross_usd adds them up, and
    net_usd is the multilateral net times that currency's gross_usd / gross, rounded once to cents.
    """
    gross_usd_by_currency: dict[str, Decimal] = {}
    count_by_currency: dict[str, int] = {}
    with localcontext(_EXACT):
        for pair in settled:
            if pair.payer == pair.payee:
                continue
            gross_usd_by_currency[pair.currency] = (
                gross_usd_by_currency.get(pair.currency, Decimal(0)) + pair.amount_usd
            )
            count_by_currency[pair.currency] = count_by_currency.get(pair.currency, 0) + pair.count
    figures = []
    gross_usd = net_usd = Decimal(0)
    for currency, result in results.items():
        currency_gross_usd = gross_usd_by_currency[currency]
        currency_net_usd = (
            quantize_amount(result.multilateral_net * currency_gross_usd / result.gross, 2)
            if result.gross
            else Decimal(0)
        )
        gross_usd += currency_gross_usd
        net_usd += currency_net_usd
        figures.append(
            {
                "currency": currency,
                "obligations": count_by_currency[currency],
                "gross": _in_units(result.gross, currency),
                "bilateral_net": _in_units(result.bilateral_net, currency),
                "net": _in_units(result.multilateral_net, currency),
                "efficiency": result.efficiency,
                "gross_usd": currency_gross_usd,
                "net_usd": currency_net_usd,
            }
        )
    cycle.currencies = _jsonable(figures)
    cycle.gross_usd = gross_usd
    cycle.net_usd = net_usd
    cycle.efficiency = netting.netting_efficiency(gross_usd, net_usd)


def _cycle_move(cycle: NettingCycle, to_status: str) -> None:
    if not cycle_can_transition(cycle.status, to_status):
        raise CycleNotRunning(f"Netting cycle {cycle.pk} cannot go from {cycle.status} to {to_status}.")
    cycle.status = to_status


def _cycle_fail(*, cycle_id: int, actor, reason: str) -> None:
    with transaction.atomic():
        cycle = NettingCycle.objects.select_for_update().get(pk=cycle_id)
        if cycle.status != CycleStatus.RUNNING:
            return
        # The failed settle transaction rolled back, so no obligation is claimed by this cycle: they are pending.
        _cycle_move(cycle, CycleStatus.FAILED)
        cycle.failure_reason = reason
        cycle.finished_at = timezone.now()
        cycle.save(update_fields=["status", "failure_reason", "finished_at"])
        summary = netting_cycle_summary(cycle)
        event_record_many(events=[("settlement", "settlement.netting_cycle", summary)])
        audit_record(
            actor=actor,
            action="settlement.netting_cycle_fail",
            object_type="netting_cycle",
            object_id=cycle.pk,
            payload=summary,
        )


def netting_cycle_summary(cycle: NettingCycle) -> dict:
    """The cycle as its event and audit entry carry it."""
    return {
        "id": cycle.pk,
        "status": cycle.status,
        "trigger": cycle.trigger,
        "run_by": cycle.run_by,
        "started_at": cycle.started_at,
        "finished_at": cycle.finished_at,
        "payment_count": cycle.payment_count,
        "obligation_count": cycle.obligation_count,
        "gross_usd": cycle.gross_usd,
        "net_usd": cycle.net_usd,
        "efficiency": cycle.efficiency,
        "currencies": cycle.currencies,
        "deferrals": cycle.deferrals,
        "fundings": cycle.fundings,
        "repayments": cycle.repayments,
        "failure_reason": cycle.failure_reason,
    }
