"""Payment bodies as the API returns them, built from objects in hand (no serializer machinery on the hot path).

PaymentDetailSerializer documents the same shape in the OpenAPI schema; tests/payments/test_render.py keeps the
two equal.
"""

from datetime import datetime

from deltran.crypto import mask_account, mask_iban
from payments.models import Payment
from payments.selectors import payment_amount_str
from settlement.selectors import participant_directory


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with Z for UTC, as DRF renders date-times."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _bank_name(banks, bic: str) -> str:
    bank = banks.get(bic)
    return bank.name if bank else ""


def _account_number(banks, bic: str, currency: str) -> str:
    bank = banks.get(bic)
    account = bank.accounts.get(currency) if bank else None
    return account.account_number if account else ""


def payment_list_item(payment: Payment, banks=None) -> dict:
    banks = banks if banks is not None else participant_directory().banks
    return {
        "id": str(payment.id),
        "payment_reference": payment.payment_reference,
        "sender_bic": payment.sender_bic,
        "sender_name": _bank_name(banks, payment.sender_bic),
        "receiver_bic": payment.receiver_bic,
        "receiver_name": _bank_name(banks, payment.receiver_bic),
        "amount": payment_amount_str(payment.amount, payment.currency_id),
        "currency": payment.currency_id,
        "status": payment.status,
        "created_at": iso(payment.created_at),
        "settled_at": iso(payment.settled_at),
    }


def compliance_check_body(check) -> dict | None:
    if check is None:
        return None
    if check.requires_review:
        state = "held" if check.definite_hit else "review"
    else:
        state = "passed"
    return {
        "check_type": "sanctions_screening",
        "status": state,
        "risk_score": check.risk_score,
        "risk_level": check.risk_level,
        "requires_review": check.requires_review,
        "reasons": check.reasons,
        "completed_at": iso(check.screened_at),
    }


def party_accounts(payment: Payment, *, show_accounts: bool) -> dict:
    """The parties' IBANs and account numbers, masked unless the reader's role may see them (payments.view_accounts)."""
    iban = (lambda value: value) if show_accounts else mask_iban
    account = (lambda value: value) if show_accounts else mask_account
    return {
        "debtor_iban": iban(payment.debtor_iban),
        "debtor_account": account(payment.debtor_account),
        "creditor_iban": iban(payment.creditor_iban),
        "creditor_account": account(payment.creditor_account),
    }


def payment_detail_body(payment: Payment, *, timeline, screening, show_accounts: bool = False) -> dict:
    """The detail shape: list fields, parties, FX, routing, screening and the timeline.

    Parties' accounts are masked unless `show_accounts` (the caller's role may see them: payments.view_accounts).
    """
    banks = participant_directory().banks
    body = payment_list_item(payment, banks)
    body.update(
        {
            "end_to_end_id": payment.end_to_end_id,
            "settlement_currency": payment.settlement_currency_id,
            "settlement_amount": payment_amount_str(payment.settlement_amount, payment.settlement_currency_id),
            "fx_rate": format(payment.fx_rate, "f") if payment.fx_rate is not None else None,
            "fx_rate_at": iso(payment.fx_rate_at),
            "scheduled_for": iso(payment.scheduled_for),
            "clearing_window_violation": payment.clearing_window_violation,
            "sender_account_id": _account_number(banks, payment.sender_bic, payment.currency_id),
            "receiver_account_id": _account_number(banks, payment.receiver_bic, payment.settlement_currency_id),
            "debtor_name": payment.debtor_name,
            "creditor_name": payment.creditor_name,
            **party_accounts(payment, show_accounts=show_accounts),
            "remittance_info": payment.remittance_info,
            "status_reason": payment.status_reason,
            "awaiting_liquidity": payment.awaiting_liquidity,
            "risk_score": payment.risk_score,
            "swift_message_type": payment.channel,
            "idempotency_key": payment.idempotency_key,
            "compliance_check": compliance_check_body(screening),
            "processed_at": iso(payment.processed_at),
            "updated_at": iso(payment.updated_at),
            "timeline": [
                {
                    "from_status": step.from_status,
                    "to_status": step.to_status,
                    "actor": step.actor_label,
                    "reason": step.reason,
                    "occurred_at": iso(step.occurred_at),
                }
                for step in timeline
            ],
        }
    )
    return body
