"""Payment API: initiate, list, detail and CSV export. Thin: parse, call a service or selector, render."""

from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from deltran.api import paged_body
from deltran.crypto import mask_account, mask_iban
from deltran.export import streaming_csv_response
from deltran.idempotency import idempotent_call, request_fingerprint
from deltran.roles import HasRole, user_can
from payments.api.intake import parse_instruction
from payments.api.render import payment_detail_body, payment_list_item
from payments.api.serializers import (
    PaymentDetailSerializer,
    PaymentInitiateSerializer,
    PaymentListResponseSerializer,
)
from payments.filters import PaymentFilter
from payments.models import Payment
from payments.selectors import (
    payment_amount_str,
    payment_detail,
    payment_export_rows,
    payment_list,
    payment_screening,
    payment_timeline,
)
from payments.services import payment_cancel, payment_initiate
from settlement.selectors import participant_directory
from settlement.validators import normalise_bic

ERROR_RESPONSES = {
    400: OpenApiResponse(description="Invalid input: {code, message, fields}"),
    401: OpenApiResponse(description="Not authenticated"),
    403: OpenApiResponse(description="Role does not allow this"),
}

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Repeat-safe key, scoped to the sender bank: a repeat returns the first response.",
)


class FilteredPaymentsView(GenericAPIView):
    """Base of the list and the export: the same FilterSet, so both return the same rows."""

    permission_classes = [HasRole]
    filterset_class = PaymentFilter
    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return payment_list()


class PaymentInitiateView(APIView):
    capability = "payments.initiate"
    permission_classes = [HasRole]

    @extend_schema(
        request=PaymentInitiateSerializer,
        responses={
            201: PaymentDetailSerializer,
            409: OpenApiResponse(description="idempotency_conflict"),
            **ERROR_RESPONSES,
        },
        parameters=[IDEMPOTENCY_HEADER],
        summary="Initiate a payment",
    )
    def post(self, request):
        key = request.headers.get("Idempotency-Key", "").strip()
        sender = request.data.get("sender_bic") if isinstance(request.data, dict) else None
        scope = normalise_bic(sender) if isinstance(sender, str) else ""

        def produce():
            instruction = parse_instruction(request.data)
            done = payment_initiate(actor=request.user, instruction=instruction, idempotency_key=key)
            return status.HTTP_201_CREATED, payment_detail_body(
                done.payment, timeline=done.timeline, screening=done.screening, show_accounts=show_accounts
            )

        show_accounts = user_can(request.user, "payments.view_accounts")

        result = idempotent_call(
            scope=scope, key=key or None, fingerprint=request_fingerprint(request.data), produce=produce
        )
        response = Response(result.body, status=result.status)
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class PaymentListView(FilteredPaymentsView):
    capability = "payments.view"

    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("limit", int)],
        responses={200: PaymentListResponseSerializer, **ERROR_RESPONSES},
        summary="List payments (filtered, newest first)",
    )
    def get(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        banks = participant_directory().banks
        render = lambda rows: [payment_list_item(payment, banks) for payment in rows]  # noqa: E731
        return Response(paged_body(request.query_params, queryset, key="payments", render=render))


class PaymentDetailView(APIView):
    capability = "payments.view"
    permission_classes = [HasRole]

    @extend_schema(responses={200: PaymentDetailSerializer, 404: OpenApiResponse(description="not_found")})
    def get(self, request, payment_id):
        try:
            payment = payment_detail(payment_id)
        except Payment.DoesNotExist as exc:
            raise Http404 from exc
        return Response(
            payment_detail_body(
                payment,
                timeline=payment_timeline(payment),
                screening=payment_screening(payment),
                show_accounts=user_can(request.user, "payments.view_accounts"),
            )
        )


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, trim_whitespace=True)


class PaymentCancelView(APIView):
    capability = "payments.initiate"
    permission_classes = [HasRole]

    @extend_schema(
        request=CancelSerializer,
        responses={
            200: PaymentDetailSerializer,
            404: OpenApiResponse(description="not_found"),
            409: OpenApiResponse(description="not_cancellable: only a payment waiting for liquidity"),
            **ERROR_RESPONSES,
        },
        summary="Cancel a payment waiting for liquidity (reason required)",
    )
    def post(self, request, payment_id):
        data = CancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not Payment.objects.filter(pk=payment_id).exists():
            raise Http404
        payment = payment_cancel(actor=request.user, payment_id=payment_id, reason=data.validated_data["reason"])
        return Response(
            payment_detail_body(
                payment,
                timeline=payment_timeline(payment),
                screening=payment_screening(payment),
                show_accounts=user_can(request.user, "payments.view_accounts"),
            )
        )


EXPORT_HEADER = [
    "Payment ID",
    "Reference",
    "End-to-end ID",
    "Sender BIC",
    "Sender",
    "Receiver BIC",
    "Receiver",
    "Amount",
    "Currency",
    "Status",
    "Debtor",
    "Creditor",
    "Remittance information",
    "Created At",
    "Settled At",
    "Debtor Account",
    "Creditor Account",
]


def _party_account(iban: str, account: str, show_accounts: bool) -> str:
    """One column per party: the IBAN, else the account number; masked for roles without payments.view_accounts."""
    if show_accounts:
        return iban or account
    return mask_iban(iban) if iban else mask_account(account)


def export_rows(queryset, *, show_accounts: bool = False):
    banks = participant_directory().banks

    def name(bic):
        bank = banks.get(bic)
        return bank.name if bank else ""

    for (
        pid,
        ref,
        e2e,
        sender,
        receiver,
        amount,
        currency,
        state,
        debtor,
        creditor,
        remittance,
        created,
        settled,
        debtor_iban,
        debtor_account,
        creditor_iban,
        creditor_account,
    ) in payment_export_rows(queryset).iterator(chunk_size=2000):
        yield (
            pid,
            ref,
            e2e,
            sender,
            name(sender),
            receiver,
            name(receiver),
            payment_amount_str(amount, currency),
            currency,
            state,
            debtor,
            creditor,
            remittance,
            created,
            settled,
            _party_account(debtor_iban, debtor_account, show_accounts),
            _party_account(creditor_iban, creditor_account, show_accounts),
        )


class PaymentExportView(FilteredPaymentsView):
    capability = "payments.export"

    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.STR, **ERROR_RESPONSES},
        summary="Export the filtered payments as CSV (streamed)",
    )
    def get(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        show_accounts = user_can(request.user, "payments.view_accounts")
        return streaming_csv_response(
            filename="payments.csv", header=EXPORT_HEADER, rows=export_rows(queryset, show_accounts=show_accounts)
        )
