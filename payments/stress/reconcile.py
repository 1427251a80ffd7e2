"""After a stress run: nothing lost, nothing doubled, the money adds up, the audit chain holds.

- every payment sent (by the idempotency key the client generated, or the one the server derives for a pacs.008
  transaction) has exactly one record, in a final status or one that waits (queued, in review, settling); a
  payment the server refused at intake (an answer naming it) has none;
- every settlement account's balance minus its ledger postings is the same before and after the run (money moved
  only by postings), and each netting cycle's postings add up to zero per currency (double entry);
- each bank's business-day positions add up to the USD equivalents of the payments that owe obligations
  (debits as payer, credits as payee; payments between two customers of one bank leave them as they are);
- no timeline step, screening check, obligation or message link names a payment (or message) that does not exist
  (those keys carry no database constraint: decision 0006);
- the audit chain verifies (deltran.audit.audit_verify).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum

from deltran.audit import audit_verify
from payments.choices import PaymentStatus
from payments.models import Payment
from settlement.models import BankPosition, LedgerPosting, SettlementAccount

S = PaymentStatus
# Where a payment may rest when the run is over: an end, or a status that waits for something outside the run.
RESTING_STATUSES = frozenset(
    {S.QUEUED, S.COMPLIANCE_REVIEW, S.SETTLING, S.SETTLED, S.COMPLETED, S.REJECTED, S.FAILED, S.CANCELLED}
)
SAMPLE = 10


def ledger_snapshot() -> dict[str, str]:
    """Per settlement account: balance minus the sum of its postings (constant while money moves only by postings).

    Read in one snapshot, so a netting cycle committing meanwhile is seen whole or not at all.
    """
    # Inside a caller's transaction (a test) its snapshot rules apply; on its own, one repeatable-read snapshot.
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and own_transaction:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        balances = dict(SettlementAccount.objects.values_list("account_number", "balance"))
        posted = dict(
            LedgerPosting.objects.filter(settlement_account__isnull=False)
            .values("settlement_account__account_number")
            .annotate(total=Sum("amount"))
            .values_list("settlement_account__account_number", "total")
        )
    return {number: str(balance - (posted.get(number) or Decimal(0))) for number, balance in balances.items()}


@dataclass
class Reconciliation:
    sent: int = 0
    refused_at_intake: int = 0
    recorded: int = 0
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    refused_but_recorded: list[str] = field(default_factory=list)
    unsettled_status: dict[str, int] = field(default_factory=dict)  # statuses outside RESTING_STATUSES
    statuses: dict[str, int] = field(default_factory=dict)
    # Of the run's payments: sent outside a clearing window, waiting for liquidity.
    clearing_window_violations: int = 0
    awaiting_liquidity: int = 0
    ledger_mismatches: list[dict] = field(default_factory=list)
    unbalanced_cycles: list[dict] = field(default_factory=list)
    position_mismatches: list[dict] = field(default_factory=list)
    orphans: dict[str, int] = field(default_factory=dict)  # table -> rows whose payment (or message) is missing
    audit_ok: bool = False
    audit_checked: int = 0
    audit_problem: str = ""
    counts_missing: int = 0
    counts_duplicated: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.counts_missing
            or self.counts_duplicated
            or self.refused_but_recorded
            or self.unsettled_status
            or self.ledger_mismatches
            or self.unbalanced_cycles
            or self.position_mismatches
            or self.orphans
            or not self.audit_ok
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def _payments_check(result: Reconciliation, *, sent_keys: list[str], refused: set[str], since: datetime) -> None:
    wanted = set(sent_keys)
    found: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    rows = (
        Payment.objects.filter(created_at__gte=since)
        .order_by()
        .values_list("idempotency_key", "status", "clearing_window_violation", "awaiting_liquidity")
    )
    for key, status, violation, awaiting in rows.iterator(chunk_size=10_000):
        if key in wanted:
            found[key] += 1
            statuses[status] += 1
            result.clearing_window_violations += violation
            result.awaiting_liquidity += awaiting
    result.sent = len(wanted)
    result.refused_at_intake = len(refused & wanted)
    result.recorded = sum(found.values())
    missing = [key for key in sent_keys if key not in found and key not in refused]
    duplicated = [key for key, n in found.items() if n > 1]
    result.counts_missing, result.counts_duplicated = len(missing), len(duplicated)
    result.missing, result.duplicated = missing[:SAMPLE], duplicated[:SAMPLE]
    result.refused_but_recorded = [key for key in refused if key in found][:SAMPLE]
    result.statuses = dict(sorted(statuses.items()))
    result.unsettled_status = {s: n for s, n in result.statuses.items() if s not in RESTING_STATUSES}


def _ledger_check(result: Reconciliation, before: dict[str, str]) -> None:
    after = ledger_snapshot()
    for number, value in sorted(after.items()):
        if number in before and Decimal(before[number]) != Decimal(value):
            result.ledger_mismatches.append(
                {"account": number, "balance_minus_postings_before": before[number], "after": value}
            )
    unbalanced = (
        LedgerPosting.objects.values("cycle_id", "currency_id")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("cycle_id", "currency_id")[:SAMPLE]
    )
    result.unbalanced_cycles = [
        {"cycle": row["cycle_id"], "currency": row["currency_id"], "sum": str(row["total"])} for row in unbalanced
    ]


_OWED_SQL = """
SELECT p.{side}, COALESCE(SUM(p.amount_usd), 0)
FROM payments_payment p
WHERE p.sender_bank_id <> p.receiver_bank_id
  AND EXISTS (SELECT 1 FROM settlement_obligation o WHERE o.payment_id = p.id)
GROUP BY p.{side}
"""


def _cents(value) -> Decimal:
    """USD to the cent: SQLite adds decimals up as floats (exact on PostgreSQL); cents are exact either way here."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _positions_check(result: Reconciliation) -> None:
    """Each bank's positions, all days together, against the payments that owe obligations."""
    debits = dict(
        BankPosition.objects.values("bank_id").annotate(t=Sum("debit_usd")).values_list("bank_id", "t").order_by()
    )
    credits = dict(
        BankPosition.objects.values("bank_id").annotate(t=Sum("credit_usd")).values_list("bank_id", "t").order_by()
    )
    with connection.cursor() as cursor:
        cursor.execute(_OWED_SQL.format(side="sender_bank_id"))
        owed = {bank: _cents(total) for bank, total in cursor.fetchall()}
        cursor.execute(_OWED_SQL.format(side="receiver_bank_id"))
        owed_to = {bank: _cents(total) for bank, total in cursor.fetchall()}
    for bank in sorted(set(debits) | set(credits) | set(owed) | set(owed_to)):
        debit, credit = _cents(debits.get(bank) or 0), _cents(credits.get(bank) or 0)
        expected_debit, expected_credit = owed.get(bank, Decimal(0)), owed_to.get(bank, Decimal(0))
        if debit != expected_debit or credit != expected_credit:
            result.position_mismatches.append(
                {
                    "bank_id": bank,
                    "debit_usd": str(debit),
                    "payments_owed_usd": str(expected_debit),
                    "credit_usd": str(credit),
                    "payments_owed_to_usd": str(expected_credit),
                }
            )


# The rows whose key to their payment (or message) has no database constraint (decision 0006).
ORPHAN_CHECKS = (
    ("payments_paymenttransition", "payment_id", "payments_payment"),
    ("compliance_screeningcheck", "payment_id", "payments_payment"),
    ("settlement_obligation", "payment_id", "payments_payment"),
    ("payments_inboundmessagepayment", "payment_id", "payments_payment"),
    ("payments_inboundmessagepayment", "message_id", "payments_inboundmessage"),
)


def orphan_rows() -> dict[str, int]:
    """Rows naming a payment or message that does not exist, per table and key (none, when all is well)."""
    quote = connection.ops.quote_name
    found = {}
    with connection.cursor() as cursor:
        for table, column, parent in ORPHAN_CHECKS:
            cursor.execute(
                f"SELECT count(*) FROM {quote(table)} AS c WHERE NOT EXISTS "
                f"(SELECT 1 FROM {quote(parent)} AS p WHERE p.id = c.{quote(column)})"
            )
            count = cursor.fetchone()[0]
            if count:
                found[f"{table}.{column}"] = count
    return found


def stress_reconcile(
    *, sent_keys: list[str], refused_keys: set[str], since: datetime, ledger_before: dict[str, str]
) -> Reconciliation:
    """Check a run's payments, ledger, positions and audit chain; the result says what did not hold."""
    result = Reconciliation()
    _payments_check(result, sent_keys=sent_keys, refused=refused_keys, since=since)
    _ledger_check(result, ledger_before)
    _positions_check(result)
    result.orphans = orphan_rows()
    verification = audit_verify()
    result.audit_ok = verification.ok
    result.audit_checked = verification.checked
    if not verification.ok:
        result.audit_problem = f"entry {verification.first_broken_id}: {verification.reason}"
    return result
