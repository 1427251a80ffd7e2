"""Participant and settlement API: a bank's clearing calendar; netting cycles (run, list, detail, CSV exports)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.http import Http404
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from deltran.api import paged_body, parse_instant
from deltran.export import streaming_csv_response
from deltran.roles import HasRole
from settlement.api.serializers import (
    NettingCycleDetailSerializer,
    NettingCycleListResponseSerializer,
    NettingCycleSerializer,
)
from settlement.choices import CycleTrigger
from settlement.filters import NettingCycleFilter
from settlement.models import NettingCycle
from settlement.selectors import (
    bank_by_bic,
    bank_calendar_days,
    currency_amount,
    cycle_instruction_rows,
    cycle_position_rows,
    netting_cycle_detail,
    netting_cycle_list,
)
from settlement.services import netting_cycle_run
from settlement.validators import normalise_bic

MAX_CALENDAR_DAYS = 92


class BankCalendarView(APIView):
    capability = "reference.view"
    permission_classes = [HasRole]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATETIME, description="Start (default: now)"),
            OpenApiParameter(
                "to", OpenApiTypes.DATETIME, description=f"End (default: +14 days; at most {MAX_CALENDAR_DAYS})"
            ),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="A bank's clearing calendar: open intervals in UTC and local time, holidays",
    )
    def get(self, request, bic: str):
        bank = bank_by_bic(normalise_bic(bic))
        if bank is None:
            raise Http404
        now = timezone.now()
        start = parse_instant(request.query_params.get("from"), "from", now)
        end = parse_instant(request.query_params.get("to"), "to", start + timedelta(days=14))
        if end <= start:
            raise ValidationError({"to": ["Must be after `from`."]})
        if end - start > timedelta(days=MAX_CALENDAR_DAYS):
            raise ValidationError({"to": [f"At most {MAX_CALENDAR_DAYS} days per request."]})
        currency = request.query_params.get("currency") or None
        zone = ZoneInfo(bank.timezone)
        days = bank_calendar_days(bank, start=start, end=end, currency=currency)
        return Response(
            {
                "bic": bank.bic,
                "name": bank.name,
                "timezone": bank.timezone,
                "currency": currency,
                "from": start,
                "to": end,
                "active_weekdays": sorted(bank.active_weekdays),
                "open_now": days.open_now,
                "next_opening": days.next_opening,
                "intervals": [
                    {
                        "opens_at": opens,
                        "closes_at": closes,
                        "opens_local": opens.astimezone(zone).isoformat(),
                        "closes_local": closes.astimezone(zone).isoformat(),
                    }
                    for opens, closes in days.intervals
                ],
                "holidays": [{"date": day, "name": name} for day, name in days.holidays],
            }
        )


def _cycle_or_404(cycle_id: int) -> NettingCycle:
    try:
        return netting_cycle_detail(cycle_id)
    except NettingCycle.DoesNotExist as exc:
        raise Http404 from exc


class NettingCycleRunView(APIView):
    capability = "settlement.run"
    permission_classes = [HasRole]

    @extend_schema(
        request=None,
        responses={
            201: NettingCycleDetailSerializer,
            204: OpenApiResponse(description="Nothing is due: no cycle was run"),
        },
        summary="Run a netting cycle now (a failed cycle is returned with status failed and its reason)",
    )
    def post(self, request):
        cycle = netting_cycle_run(trigger=CycleTrigger.OPERATOR, actor=request.user)
        if cycle is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(NettingCycleDetailSerializer(_cycle_or_404(cycle.pk)).data, status=status.HTTP_201_CREATED)


class NettingCycleListView(GenericAPIView):
    capability = "settlement.view"
    permission_classes = [HasRole]
    filterset_class = NettingCycleFilter
    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return netting_cycle_list()

    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("limit", int)],
        responses=NettingCycleListResponseSerializer,
        summary="Netting cycles, newest first",
        operation_id="netting_cycles_list",
    )
    def get(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        render = lambda rows: NettingCycleSerializer(rows, many=True).data  # noqa: E731
        return Response(paged_body(request.query_params, queryset, key="cycles", render=render))


class NettingCycleDetailView(APIView):
    capability = "settlement.view"
    permission_classes = [HasRole]

    @extend_schema(responses=NettingCycleDetailSerializer, summary="A netting cycle: positions, instructions, postings")
    def get(self, request, cycle_id: int):
        return Response(NettingCycleDetailSerializer(_cycle_or_404(cycle_id)).data)


def _exists_or_404(cycle_id: int) -> None:
    if not NettingCycle.objects.filter(pk=cycle_id).exists():
        raise Http404


class NettingCyclePositionsExportView(APIView):
    capability = "settlement.view"
    permission_classes = [HasRole]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR}, summary="A cycle's net positions as CSV")
    def get(self, request, cycle_id: int):
        _exists_or_404(cycle_id)
        rows = (
            (cycle_id, code, currency, currency_amount(position, currency))
            for code, currency, position in cycle_position_rows(cycle_id).iterator(chunk_size=2000)
        )
        return streaming_csv_response(
            filename=f"netting-cycle-{cycle_id}-positions.csv",
            header=["Cycle", "Participant", "Currency", "Net Position"],
            rows=rows,
        )


class NettingCycleInstructionsExportView(APIView):
    capability = "settlement.view"
    permission_classes = [HasRole]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR}, summary="A cycle's settlement instructions as CSV")
    def get(self, request, cycle_id: int):
        _exists_or_404(cycle_id)
        rows = (
            (cycle_id, payer, payee, currency, currency_amount(amount, currency))
            for payer, payee, currency, amount in cycle_instruction_rows(cycle_id).iterator(chunk_size=2000)
        )
        return streaming_csv_response(
            filename=f"netting-cycle-{cycle_id}-instructions.csv",
            header=["Cycle", "Payer", "Payee", "Currency", "Amount"],
            rows=rows,
        )
