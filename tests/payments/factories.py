"""Payments made through the real intake service, so fixtures carry timelines and audit entries like real ones."""

from datetime import datetime
from decimal import Decimal

from payments.models import Payment
from payments.services import PaymentInstruction, payment_initiate


def make_payment(actor=None, *, created_at: datetime | None = None, status: str | None = None, **fields) -> Payment:
    values = {
        "sender_bic": "ENBXAEADXXX",
        "receiver_bic": "SBININBBXXX",
        "amount": Decimal("100.00"),
        "currency": "USD",
        "debtor_name": "Acme Trading LLC",
        "creditor_name": "Mumbai Textiles Pvt Ltd",
    }
    values.update(fields)
    values["amount"] = Decimal(str(values["amount"]))
    payment = payment_initiate(actor=actor, instruction=PaymentInstruction(**values)).payment
    changes = {}
    if created_at is not None:
        changes["created_at"] = created_at
    if status is not None:
        changes["status"] = status
    if changes:
        Payment.objects.filter(pk=payment.pk).update(**changes)
        payment.refresh_from_db()
    return payment
