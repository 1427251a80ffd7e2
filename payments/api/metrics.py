"""Metrics API: realtime figures, daily figures and per-bank activity, read from the rolled-up counters."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from deltran.errors import ValidationFailed
from deltran.roles import HasRole
from payments.metrics import metrics_banks, metrics_daily, metrics_fresh, metrics_realtime

MAX_DAYS = 366


def days_param(query, default: int = 30) -> int:
    raw = query.get("days")
    if raw is None or raw == "":
        return default
    try:
        days = int(raw)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(
            f"days must be a whole number from 1 to {MAX_DAYS}.",
            fields={"days": [{"code": "invalid_days", "message": f"Give a whole number from 1 to {MAX_DAYS}."}]},
        )
    return days


class MetricsView(APIView):
    capability = "payments.view"
    permission_classes = [HasRole]


class MetricsRealtimeView(MetricsView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, 401: OpenApiResponse(description="Not authenticated")},
        summary="Realtime figures: payments/s, 24-hour volume by currency, success rate, queues",
    )
    def get(self, request):
        metrics_fresh()
        return Response(metrics_realtime())


class MetricsDailyView(MetricsView):
    @extend_schema(
        parameters=[OpenApiParameter("days", int, description=f"1 to {MAX_DAYS}, default 30")],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiResponse(description="invalid_days")},
        summary="Per UTC day: volume by currency, payment count, success rate",
    )
    def get(self, request):
        days = days_param(request.query_params)
        metrics_fresh()
        return Response({"days": days, "metrics": metrics_daily(days=days)})


class MetricsBanksView(MetricsView):
    @extend_schema(
        parameters=[OpenApiParameter("days", int, description=f"1 to {MAX_DAYS}, default 30")],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiResponse(description="invalid_days")},
        summary="Per sending bank over the last days: volume, payment count, success rate",
    )
    def get(self, request):
        days = days_param(request.query_params)
        metrics_fresh()
        return Response({"days": days, "banks": metrics_banks(days=days)})
