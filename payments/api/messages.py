"""Bulk and message intake (pacs.008, JSON batch, MT103) and message output (pacs.008, MT103) of a payment.

Thin: read the body, call one service, render the answer. Errors go through the one error shape.
"""

import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from deltran.api import DecimalJSONParser, PayloadTooLarge
from deltran.errors import ValidationFailed, error_body
from deltran.idempotency import MAX_KEY_LENGTH, request_fingerprint
from deltran.ids import uuid7
from deltran.roles import HasRole, user_can
from payments.api.intake import parse_instruction
from payments.api.render import party_accounts
from payments.api.views import ERROR_RESPONSES
from payments.messages.mt103 import mt103_read, mt103_render
from payments.messages.pacs002 import MESSAGE_NAME, pacs002_render
from payments.messages.pacs008 import pacs008_render
from payments.messages.services import (
    BatchEntry,
    mt103_intake,
    pacs008_intake,
    payments_batch_intake,
)
from payments.models import Payment
from payments.services import batch_item_body


class _RawParser(BaseParser):
    """The body as bytes, refused above ISO20022_MAX_MESSAGE_BYTES; the message parsers read it themselves."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.ISO20022_MAX_MESSAGE_BYTES
        if stream is None:
            raise exceptions.ParseError("The request body is empty.")
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"The message is larger than {limit} bytes.")
        return raw


class XMLBytesParser(_RawParser):
    media_type = "application/xml"


class TextXMLBytesParser(_RawParser):
    media_type = "text/xml"


class PlainTextParser(_RawParser):
    media_type = "text/plain"


class BatchJSONParser(DecimalJSONParser):
    max_body_bytes_attr = "max_body_bytes"


class JSONErrorsOnly(BaseContentNegotiation):
    """Successful answers are XML or text built by the view; errors are always the JSON error shape."""

    def select_parser(self, request, parsers):
        for parser in parsers:
            if request.content_type.split(";")[0].strip() == parser.media_type:
                return parser
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class Pacs008IntakeView(APIView):
    capability = "payments.initiate"
    permission_classes = [HasRole]
    parser_classes = [XMLBytesParser, TextXMLBytesParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONErrorsOnly

    @extend_schema(
        request={"application/xml": OpenApiTypes.STR},
        responses={(200, "application/xml"): OpenApiTypes.STR, **ERROR_RESPONSES},
        summary="Send an ISO 20022 pacs.008 message; answered with a pacs.002 status report",
    )
    def post(self, request):
        raw = request.data
        if not isinstance(raw, bytes):
            raise exceptions.ParseError("Send the pacs.008 document as application/xml.")
        intake = pacs008_intake(actor=request.user, raw=raw)
        report = pacs002_render(
            report_id=f"DLT{uuid7().hex}"[:35],
            created_at=timezone.now(),
            original_msg_id=intake.message.msg_id,
            original_message_name=intake.message.message_name,
            original_created_at=intake.message.created_at,
            original_nb_of_txs=len(intake.message.transactions),
            transactions=intake.statuses,
        )
        response = HttpResponse(report, content_type="application/xml; charset=utf-8")
        response["X-Inbound-Message-Id"] = str(intake.record.pk)
        response["X-Report-Message-Type"] = MESSAGE_NAME
        return response


def _item_answer(index: int, outcome) -> dict:
    if outcome.error is not None:
        return {
            "index": index,
            "status": "rejected",
            "error": error_body(outcome.error.code, outcome.error.message, outcome.error.fields),
        }
    body = batch_item_body(outcome.payment)
    return {
        "index": index,
        "status": outcome.payment.status,
        "id": body["id"],
        "payment_reference": body["payment_reference"],
        "awaiting_liquidity": outcome.payment.awaiting_liquidity,
        "replayed": outcome.replayed,
    }


def _entry(item) -> BatchEntry:
    """One JSON item as an instruction (with its optional idempotency_key), or its error in the one shape."""
    if not isinstance(item, dict):
        return BatchEntry(error=ValidationFailed("An item is a JSON object.", code="validation_error"))
    body = dict(item)
    key = body.pop("idempotency_key", "")
    if key is None:
        key = ""
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or (key and not key.strip().isprintable()):
        return BatchEntry(
            error=ValidationFailed(
                f"idempotency_key is 1 to {MAX_KEY_LENGTH} printable characters.",
                fields={"idempotency_key": [{"code": "invalid", "message": "Invalid key."}]},
            )
        )
    try:
        instruction = parse_instruction(body)
    except exceptions.ValidationError as exc:
        fields = {
            name: [{"code": getattr(d, "code", "invalid"), "message": str(d)} for d in details]
            for name, details in exc.detail.items()
        }
        first = next(iter(fields.items()))
        return BatchEntry(
            error=ValidationFailed(f"The item is not valid. {first[0]}: {first[1][0]['message']}", fields=fields)
        )
    return BatchEntry(instruction=instruction, idempotency_key=key.strip(), fingerprint=request_fingerprint(body))


class PaymentBatchView(APIView):
    capability = "payments.initiate"
    permission_classes = [HasRole]
    parser_classes = [BatchJSONParser]

    @property
    def max_body_bytes(self) -> int:
        return settings.BATCH_MAX_BODY_BYTES

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: OpenApiResponse(description="{count, accepted, rejected, items: [...]}"), **ERROR_RESPONSES},
        summary="Initiate up to 10,000 payments; each item answered on its own",
    )
    def post(self, request):
        data = request.data
        if isinstance(data, dict) and "payments" in data:
            data = data["payments"]
        if not isinstance(data, list):
            raise ValidationFailed(
                "The body is a JSON array of payments.",
                fields={"non_field_errors": [{"code": "invalid", "message": "A JSON array is required."}]},
            )
        if not data or len(data) > settings.BATCH_MAX_ITEMS:
            raise ValidationFailed(
                f"A batch holds 1 to {settings.BATCH_MAX_ITEMS} payments; this one has {len(data)}.",
                code="batch_size",
                fields={
                    "non_field_errors": [{"code": "batch_size", "message": f"1 to {settings.BATCH_MAX_ITEMS} items."}]
                },
            )
        entries = [_entry(item) for item in data]
        # The batch as parsed, written back as JSON (the stream is consumed; numbers stay exact decimals).
        content = json.dumps(request.data, cls=DjangoJSONEncoder, ensure_ascii=False)
        outcomes = payments_batch_intake(actor=request.user, entries=entries, content=content)
        items = [_item_answer(i, outcome) for i, outcome in enumerate(outcomes)]
        accepted = sum(1 for item in items if item["status"] != "rejected")
        return Response(
            {"count": len(items), "accepted": accepted, "rejected": len(items) - accepted, "items": items},
            status=status.HTTP_200_OK,
        )


class Mt103IntakeView(APIView):
    capability = "payments.initiate"
    permission_classes = [HasRole]
    parser_classes = [PlainTextParser]

    @extend_schema(
        request={"text/plain": OpenApiTypes.STR},
        responses={201: OpenApiResponse(description="{id, payment_reference, status}"), **ERROR_RESPONSES},
        summary="Send one SWIFT MT103 (blocks 1, 2 and 4); it becomes a payment",
    )
    def post(self, request):
        raw = request.data
        if not isinstance(raw, bytes):
            raise exceptions.ParseError("Send the MT103 as text/plain.")
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise ValidationFailed(
                "An MT103 is in the SWIFT character set (ASCII).",
                code="charset",
                fields={"message": [{"code": "charset", "message": "Non-ASCII bytes."}]},
            ) from exc
        message, instruction = mt103_read(text)
        if instruction is None:
            first_tag, first = next(iter(message.errors.items()))
            raise ValidationFailed(f"The MT103 is not valid. {first_tag}: {first[0]['message']}", fields=message.errors)
        outcome = mt103_intake(
            actor=request.user, instruction=instruction, reference=message.fields["20"].strip(), raw=text
        )
        if outcome.error is not None:
            raise outcome.error
        response = Response(
            {**batch_item_body(outcome.payment), "awaiting_liquidity": outcome.payment.awaiting_liquidity},
            status=status.HTTP_200_OK if outcome.replayed else status.HTTP_201_CREATED,
        )
        if outcome.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


def _payment(payment_id) -> Payment:
    try:
        return Payment.objects.get(pk=payment_id)
    except Payment.DoesNotExist as exc:
        raise Http404 from exc


def _as_readable_by(payment: Payment, user) -> Payment:
    """The payment with its parties' accounts masked (in memory only) unless the role may see them in full."""
    if not user_can(user, "payments.view_accounts"):
        for name, value in party_accounts(payment, show_accounts=False).items():
            setattr(payment, name, value)
    return payment


class PaymentPacs008View(APIView):
    capability = "payments.view"
    permission_classes = [HasRole]
    content_negotiation_class = JSONErrorsOnly

    @extend_schema(
        responses={(200, "application/xml"): OpenApiTypes.STR, 404: OpenApiResponse(description="not_found")},
        summary="A payment as an ISO 20022 pacs.008.001.08 document",
    )
    def get(self, request, payment_id):
        return HttpResponse(
            pacs008_render(_as_readable_by(_payment(payment_id), request.user)),
            content_type="application/xml; charset=utf-8",
        )


class PaymentMt103View(APIView):
    capability = "payments.view"
    permission_classes = [HasRole]
    content_negotiation_class = JSONErrorsOnly

    @extend_schema(
        responses={(200, "text/plain"): OpenApiTypes.STR, 404: OpenApiResponse(description="not_found")},
        summary="A payment as a SWIFT MT103",
    )
    def get(self, request, payment_id):
        return HttpResponse(
            mt103_render(_as_readable_by(_payment(payment_id), request.user)),
            content_type="text/plain; charset=us-ascii",
        )
