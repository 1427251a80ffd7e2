"""Participant API: a bank's clearing calendar (open intervals in UTC, with local times and holidays)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from deltran.api import parse_instant
from deltran.roles import HasRole
from settlement.selectors import bank_by_bic, bank_calendar_days
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
