"""FX API: the rates in force now, and a pair's history with its spikes."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from deltran.api import parse_instant
from deltran.roles import HasRole
from fxrates.selectors import pairs, rate_history

MAX_HISTORY_POINTS = 10_000


class FxRatesView(APIView):
    capability = "reference.view"
    permission_classes = [HasRole]

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="Rates in force now (1 base = rate quote)")
    def get(self, request):
        rows = [
            {
                "pair": f"{p.base_currency_id}/{p.quote_currency_id}",
                "base": p.base_currency_id,
                "quote": p.quote_currency_id,
                "rate": format(p.current_rate if p.current_rate is not None else p.rate, "f"),
                "base_rate": format(p.rate, "f"),
                "volatility": format(p.volatility, "f"),
                "source": p.current_rate_source,
                "as_of": p.current_rate_at,
            }
            for p in pairs()
        ]
        return Response({"rates": rows, "timestamp": timezone.now()})


class FxRateHistoryView(APIView):
    capability = "reference.view"
    permission_classes = [HasRole]

    @extend_schema(
        parameters=[
            OpenApiParameter("pair", OpenApiTypes.STR, required=True, description="e.g. USD/AED"),
            OpenApiParameter("from", OpenApiTypes.DATETIME, description="default: 24 hours ago"),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="default: now"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="A pair's rate history with spikes marked",
    )
    def get(self, request):
        raw_pair = (request.query_params.get("pair") or "").upper().replace("-", "/")
        base, _, quote = raw_pair.partition("/")
        known = {(p.base_currency_id, p.quote_currency_id) for p in pairs()}
        if (base, quote) not in known:
            choices = ", ".join(sorted(f"{b}/{q}" for b, q in known))
            raise ValidationError({"pair": [f"Unknown pair {raw_pair or '(none)'}; pairs are {choices}."]})
        now = timezone.now()
        end = parse_instant(request.query_params.get("to"), "to", now)
        start = parse_instant(request.query_params.get("from"), "from", end - timedelta(hours=24))
        if end <= start:
            raise ValidationError({"to": ["Must be after `from`."]})
        points = list(
            rate_history(base=base, quote=quote, start=start, end=end).values_list(
                "rate", "recorded_at", "source", "is_spike", "spike_size"
            )[: MAX_HISTORY_POINTS + 1]
        )
        return Response(
            {
                "pair": f"{base}/{quote}",
                "from": start,
                "to": end,
                "truncated": len(points) > MAX_HISTORY_POINTS,
                "points": [
                    {
                        "rate": format(rate, "f"),
                        "recorded_at": at,
                        "source": source,
                        "is_spike": spike,
                        "spike_size": format(size, "f") if size is not None else None,
                    }
                    for rate, at, source, spike, size in points[:MAX_HISTORY_POINTS]
                ],
            }
        )
