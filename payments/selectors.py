"""Payment reads for the API, the export and the pages."""

from decimal import Decimal

from django.db.models import QuerySet

from compliance.models import ScreeningCheck
from deltran.money import amount_str
from payments.models import Payment, PaymentTransition
from settlement.selectors import participant_directory

LIST_FIELDS = (
    "id",
    "payment_reference",
    "sender_bic",
    "receiver_bic",
    "amount",
    "currency_id",
    "status",
    "created_at",
    "settled_at",
)


def payment_list() -> QuerySet[Payment]:
    """Newest first; only the columns a list row shows."""
    return Payment.objects.only(*LIST_FIELDS).order_by("-created_at", "-id")


def payment_export_rows(queryset: QuerySet[Payment]):
    return queryset.order_by("-created_at", "-id").values_list(
        "id",
        "payment_reference",
        "end_to_end_id",
        "sender_bic",
        "receiver_bic",
        "amount",
        "currency_id",
        "status",
        "debtor_name",
        "creditor_name",
        "remittance_info",
        "created_at",
        "settled_at",
        # Encrypted at rest: decrypted as they are read; the export masks them by role.
        "debtor_iban",
        "debtor_account",
        "creditor_iban",
        "creditor_account",
    )


def payment_detail(payment_id) -> Payment:
    return Payment.objects.get(pk=payment_id)


def payment_screening(payment: Payment) -> ScreeningCheck | None:
    return ScreeningCheck.objects.filter(payment=payment).first()


def payment_timeline(payment: Payment) -> QuerySet[PaymentTransition]:
    return PaymentTransition.objects.filter(payment=payment).order_by("occurred_at", "id")


def payment_amount_str(amount: Decimal, currency: str) -> str:
    """The amount with exactly its currency's minor units, as the API and exports show it."""
    ref = participant_directory().currencies.get(currency)
    return amount_str(amount, ref.minor_units) if ref else format(amount.normalize(), "f")
