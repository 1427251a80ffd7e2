"""Bulk intake writes: a pacs.008 message, a JSON batch or an MT103 becomes payments through the one pipeline.

Each runs payments_initiate_many (validation, FX, screening, routing, liquidity; written in chunks) and records
the original message with links to the payments it produced, in the same transaction: a message is never kept
without its payments, nor a payment of a message without the message.
"""

from dataclasses import dataclass, field, fields

from django.db import transaction
from django.utils import timezone

from deltran.bulk import rows_insert
from deltran.errors import DomainError
from deltran.idempotency import request_fingerprint
from payments.choices import Channel, PaymentStatus
from payments.messages.pacs002 import TransactionStatus
from payments.messages.pacs008 import Pacs008Message, pacs008_read
from payments.models import InboundMessage, InboundMessagePayment, Payment
from payments.services import BatchItem, BatchOutcome, PaymentInstruction, payments_initiate_many


class MessageRejected(DomainError):
    """The message as a whole is refused (its group header or its schema): nothing of it is recorded."""

    code = "message_rejected"


# Pipeline error codes (payments/services.py) as ISO 20022 ExternalStatusReason1Code.
_REASONS = {
    "unknown_bank": "RC01",
    "inactive_bank": "AG01",
    "unknown_currency": "AM03",
    "no_settlement_account": "AM03",
    "no_rate": "AM03",
    "amount_precision": "AM12",
    "amount_not_positive": "AM01",
    "amount_too_large": "AM02",
    "no_clearing_window": "AG03",
    "idempotency_conflict": "AM05",
}
_IBAN_REASONS = {"debtor_iban": "AC02", "creditor_iban": "AC03"}


def error_reasons(error: DomainError) -> list[tuple[str, str]]:
    """(ISO reason code, 'field: message') for each field issue of a pipeline error."""
    reasons = []
    for name, issues in (error.fields or {}).items():
        for issue in issues if isinstance(issues, list) else []:
            code = issue.get("code", "") if isinstance(issue, dict) else ""
            reason = _IBAN_REASONS.get(name) if code == "invalid_iban" else _REASONS.get(code, "NARR")
            reasons.append((reason, f"{name}: {issue.get('message', '') if isinstance(issue, dict) else issue}"))
    return reasons or [("NARR", error.message)]


def payment_iso_status(payment: Payment) -> tuple[str, list[tuple[str, str]]]:
    """A payment's status as an ISO 20022 transaction status, with a reason where it helps."""
    status = payment.status
    if status in (PaymentStatus.SETTLED, PaymentStatus.COMPLETED):
        return "ACSC", []
    if status == PaymentStatus.COMPLIANCE_REVIEW:
        return "PDNG", [("NARR", "Held for a compliance review.")]
    if payment.awaiting_liquidity:
        return "PDNG", [("NARR", "Waiting for the sender's liquidity limit.")]
    if status in (PaymentStatus.REJECTED, PaymentStatus.FAILED, PaymentStatus.CANCELLED):
        return "RJCT", [("NARR", f"Payment {status}: {payment.status_reason}"[:210])]
    return "ACSP", []


_INSTRUCTION_FIELDS = tuple(f.name for f in fields(PaymentInstruction))


def instruction_fingerprint(instruction: PaymentInstruction) -> str:
    # What dataclasses.asdict gives for this flat dataclass (so the same hash), without its deep copy.
    return request_fingerprint({name: getattr(instruction, name) for name in _INSTRUCTION_FIELDS})


def _outcome_status(outcome: BatchOutcome) -> tuple[str, list[tuple[str, str]]]:
    if outcome.error is not None:
        return "RJCT", error_reasons(outcome.error)
    return payment_iso_status(outcome.payment)


def _record(
    *,
    actor,
    channel: str,
    message_type: str,
    message_id: str,
    content: str,
    outcomes: dict[int, BatchOutcome],
    transactions: int,
    now,
) -> InboundMessage:
    accepted = sum(1 for outcome in outcomes.values() if outcome.payment is not None)
    message = InboundMessage.objects.create(
        channel=channel,
        message_type=message_type,
        message_id=message_id[:35],
        content=content,
        transactions=transactions,
        accepted=accepted,
        rejected=transactions - accepted,
        received_by=actor if getattr(actor, "is_authenticated", False) else None,
        received_at=now,
    )
    rows_insert(
        InboundMessagePayment,
        ("message_id", "payment_id", "position"),
        [
            (message.pk, outcome.payment.id, position)
            for position, outcome in outcomes.items()
            if outcome.payment is not None and not outcome.replayed
        ],
    )
    return message


def _decoded(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


@dataclass
class Pacs008Intake:
    message: Pacs008Message
    record: InboundMessage
    statuses: list[TransactionStatus] = field(default_factory=list)


def pacs008_intake(*, actor, raw: bytes) -> Pacs008Intake:
    """Read, validate and record a pacs.008 message; MessageRejected when its header (or schema) is broken."""
    message = pacs008_read(raw)
    if message.issues:
        raise MessageRejected(
            f"The pacs.008 message is rejected: {message.issues[0].path}: {message.issues[0].message}",
            fields=_issue_fields(message.issues),
        )
    valid = [tx for tx in message.transactions if tx.instruction is not None]
    items = [
        BatchItem(
            instruction=tx.instruction,
            idempotency_key=tx.idempotency_key(message.msg_id),
            fingerprint=instruction_fingerprint(tx.instruction),
        )
        for tx in valid
    ]
    now = timezone.now()
    with transaction.atomic():
        outcomes = payments_initiate_many(actor=actor, items=items, channel=Channel.PACS008) if items else []
        by_position = {tx.index: outcome for tx, outcome in zip(valid, outcomes, strict=True)}
        record = _record(
            actor=actor,
            channel=Channel.PACS008,
            message_type=message.message_name,
            message_id=message.msg_id,
            content=_decoded(raw),
            outcomes=by_position,
            transactions=len(message.transactions),
            now=now,
        )
    statuses = []
    for tx in message.transactions:
        outcome = by_position.get(tx.index)
        if outcome is None:
            status, reasons = (
                "RJCT",
                [(issue.reason, f"{issue.path}: {issue.rule}: {issue.message}") for issue in tx.issues],
            )
        else:
            status, reasons = _outcome_status(outcome)
        statuses.append(
            TransactionStatus(
                index=tx.index,
                status=status,
                end_to_end_id=tx.end_to_end_id,
                instr_id=tx.instr_id,
                tx_id=tx.tx_id,
                uetr=tx.uetr,
                payment_id=str(outcome.payment.id) if outcome is not None and outcome.payment is not None else "",
                reasons=reasons,
            )
        )
    return Pacs008Intake(message=message, record=record, statuses=statuses)


def _issue_fields(issues) -> dict:
    fields: dict[str, list] = {}
    for issue in issues:
        fields.setdefault(issue.path, []).append(issue.as_field())
    return fields


@dataclass
class BatchEntry:
    """One item of a JSON batch: its instruction, or the error that kept it from one."""

    instruction: PaymentInstruction | None = None
    idempotency_key: str = ""
    fingerprint: str = ""
    error: DomainError | None = None


def payments_batch_intake(*, actor, entries: list[BatchEntry], content: str) -> list[BatchOutcome]:
    """A JSON batch: the valid entries through the pipeline, the batch kept with its payments; one outcome each."""
    valid = [(i, entry) for i, entry in enumerate(entries) if entry.error is None]
    with transaction.atomic():
        outcomes = (
            payments_initiate_many(
                actor=actor,
                items=[
                    BatchItem(instruction=e.instruction, idempotency_key=e.idempotency_key, fingerprint=e.fingerprint)
                    for _, e in valid
                ],
                channel=Channel.BATCH,
            )
            if valid
            else []
        )
        by_position = {i: outcome for (i, _), outcome in zip(valid, outcomes, strict=True)}
        _record(
            actor=actor,
            channel=Channel.BATCH,
            message_type="application/json",
            message_id="",
            content=content,
            outcomes=by_position,
            transactions=len(entries),
            now=timezone.now(),
        )
    return [by_position.get(i) or BatchOutcome(error=entry.error) for i, entry in enumerate(entries)]


def mt103_intake(*, actor, instruction: PaymentInstruction, reference: str, raw: str) -> BatchOutcome:
    """One MT103 as a payment, idempotent on its sender's reference (field 20), kept with the message."""
    item = BatchItem(
        instruction=instruction,
        idempotency_key=f"mt103:{reference}",
        fingerprint=instruction_fingerprint(instruction),
    )
    with transaction.atomic():
        (outcome,) = payments_initiate_many(actor=actor, items=[item], channel=Channel.MT103)
        if outcome.error is not None:
            # Nothing to keep: the message made no payment (the caller answers with the error).
            transaction.set_rollback(True)
            return outcome
        _record(
            actor=actor,
            channel=Channel.MT103,
            message_type="MT103",
            message_id=reference,
            content=raw,
            outcomes={0: outcome},
            transactions=1,
            now=timezone.now(),
        )
    return outcome
