"""The live back office pages: the overview dashboard (kept live over the WebSocket) and the activity charts."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.shortcuts import render
from django.urls import reverse

from deltran.consumers import TOPICS
from deltran.relay import outbox_last_id, outbox_read
from deltran.roles import capability_required, user_can
from payments.charts import bar_chart, share_bars, sparkline_points
from payments.choices import PaymentStatus
from payments.metrics import metrics_banks, metrics_daily, metrics_fresh, metrics_realtime, payments_per_second
from payments.selectors import payment_list
from settlement.selectors import participant_directory

ALERT_TOPICS = ("compliance_alert", "limit_alert", "fx_spike", "liquidity_rebalance", "netting_cycle")
# The alerts feed starts with the alerts among the last this many events (a bounded read of the outbox).
ALERT_LOOKBACK = 20_000
ALERTS_SHOWN = 15
RECENT_PAYMENTS = 12
ACTIVITY_DAYS = 30
PLACEHOLDER = uuid.UUID(int=0)


def _rate_text(rate: float | None) -> str:
    return "no payment ended" if rate is None else f"{rate}% of the payments that ended were settled"


def _live_topics(user) -> list[str]:
    return [topic for topic, (_type, capability) in TOPICS.items() if user_can(user, capability)]


def _recent_alerts(topics: list[str], last_id: int) -> list[dict]:
    types = [TOPICS[t][0] for t in ALERT_TOPICS if t in topics]
    if not types:
        return []
    events = outbox_read(Q(id__gt=last_id - ALERT_LOOKBACK), limit=ALERT_LOOKBACK, event_types=types)
    return [{"type": e.name, **e.as_message_item()} for e in events[-ALERTS_SHOWN:]]


@capability_required("payments.view")
def dashboard_page(request):
    metrics_fresh()
    figures = metrics_realtime()
    per_second = [row["received"] for row in payments_per_second()]
    points, top = sparkline_points(per_second)
    topics = _live_topics(request.user)
    last_id = outbox_last_id()
    volume = share_bars(
        [
            (c, Decimal(figures["volume_24h_usd"][c]), figures["volume_24h"][c], f"{figures['count_24h'][c]:,}")
            for c in sorted(figures["volume_24h"], key=lambda c: -Decimal(figures["volume_24h_usd"][c]))
        ]
    )
    live = {
        "url": settings.WEBSOCKET_URL,
        "topics": topics,
        "last_event_id": last_id,
        "alerts": _recent_alerts(topics, last_id),
        "per_second": per_second,
        "minor_units": {code: ref.minor_units for code, ref in participant_directory().currencies.items()},
        "status_labels": dict(PaymentStatus.choices),
        "payment_url": reverse("payments:detail", args=[PLACEHOLDER]),
        "payment_placeholder": str(PLACEHOLDER),
    }
    return render(
        request,
        "payments/dashboard.html",
        {
            "m": figures,
            "sparkline": points,
            "sparkline_top": top,
            "sparkline_width": len(per_second) - 1,
            "volume": volume,
            "recent": list(payment_list()[:RECENT_PAYMENTS]),
            "live": live,
        },
    )


@capability_required("payments.view")
def activity_page(request):
    metrics_fresh()
    days = metrics_daily(days=ACTIVITY_DAYS)
    banks = metrics_banks(days=ACTIVITY_DAYS)
    label = lambda d: d["date"].strftime("%d %b")  # noqa: E731
    charts = [
        (
            "volume",
            "Volume per day (USD equivalent)",
            bar_chart(
                [(label(d), float(d["total_volume_usd"]), f"{d['date']}: {d['total_volume_usd']} USD") for d in days],
                summary=f"Bar chart of the USD-equivalent volume received per day over the last {ACTIVITY_DAYS} days.",
            ),
        ),
        (
            "count",
            "Payments received per day",
            bar_chart(
                [(label(d), d["payment_count"], f"{d['date']}: {d['payment_count']:,} payments") for d in days],
                summary=f"Bar chart of the number of payments received per day over the last {ACTIVITY_DAYS} days.",
            ),
        ),
        (
            "success",
            "Success rate per day (%)",
            bar_chart(
                [
                    (
                        label(d),
                        d["success_rate"] or 0.0,
                        f"{d['date']}: {_rate_text(d['success_rate'])}",
                    )
                    for d in days
                ],
                maximum=100.0,
                summary="Bar chart of the share of payments settled among those that ended, per day.",
            ),
        ),
    ]
    bank_bars = share_bars(
        [
            (
                f"{b['name']} ({b['bic']})",
                Decimal(b["volume_usd"]),
                f"{b['volume_usd']} USD",
                f"{b['payment_count']:,} payments",
            )
            for b in banks
        ]
    )
    return render(
        request,
        "payments/activity.html",
        {
            "days": list(reversed(days)),
            "charts": charts,
            "banks": list(zip(banks, bank_bars, strict=True)),
            "period": ACTIVITY_DAYS,
        },
    )
