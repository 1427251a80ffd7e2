"""Settlement pages: the clearing calendar of every active bank for the next 14 days, and the netting cycles
(list, "Run netting now", a cycle with its positions, gross against net, instructions and ledger postings)."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from deltran.errors import DomainError
from deltran.roles import capability_required, user_can
from settlement.charts import calendar_chart, netting_chart, percent_label
from settlement.choices import CycleStatus, CycleTrigger
from settlement.filters import NettingCycleFilter
from settlement.forms import CalendarRangeForm
from settlement.models import NettingCycle
from settlement.selectors import (
    calendar_overview,
    cycle_postings,
    netting_cycle_list,
    netting_cycle_page,
    participant_directory,
    settlement_currencies,
)
from settlement.services import netting_cycle_run

CALENDAR_DAYS = 14
CYCLES_PAGE_SIZE = 25
# A cycle's postings are two per non-zero position; past this many the page shows the first ones and says so.
POSTINGS_SHOWN = 200


@capability_required("reference.view")
def calendar_page(request):
    form = CalendarRangeForm(request.GET, currencies=settlement_currencies())
    valid = form.is_valid()
    first_day = (form.cleaned_data.get("from_date") if valid else None) or timezone.now().astimezone(UTC).date()
    currency = (form.cleaned_data.get("currency") if valid else None) or None
    start = datetime.combine(first_day, time(0), tzinfo=UTC)
    overview = calendar_overview(start=start, end=start + timedelta(days=CALENDAR_DAYS), currency=currency)
    holidays = sorted(
        ((day, name, row.bank) for row in overview.rows for day, name in row.days.holidays),
        key=lambda item: (item[0], item[2].name),
    )
    return render(
        request,
        "settlement/calendar.html",
        {
            "form": form,
            "form_valid": valid,
            # The date input shows the first day drawn; a refused value stays as typed, beside its error.
            "from_value": first_day.isoformat() if valid else form.data.get("from_date", ""),
            "overview": overview,
            "chart": calendar_chart(overview),
            "holidays": holidays,
            "days": CALENDAR_DAYS,
            "last_day": first_day + timedelta(days=CALENDAR_DAYS - 1),
        },
    )


@capability_required("settlement.view")
def cycles_page(request):
    filterset = NettingCycleFilter(request.GET, queryset=netting_cycle_list())
    valid = filterset.is_valid()
    queryset = filterset.qs if valid else NettingCycle.objects.none()
    page = Paginator(queryset, CYCLES_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "settlement/cycles.html",
        {
            "page": page,
            "filter_valid": valid,
            "status": request.GET.get("status", "") if valid else "",
            "statuses": CycleStatus.choices,
            "query": query.urlencode(),
            "can_run": user_can(request.user, "settlement.run"),
        },
    )


def _run_outcome(cycle: NettingCycle) -> str:
    if cycle.status == CycleStatus.FAILED:
        return (
            f"Netting cycle {cycle.pk} failed: {cycle.failure_reason or 'no reason was recorded'}. "
            "Nothing of it was posted; its obligations are pending again and the next run takes them."
        )
    text = (
        f"Netting cycle {cycle.pk} settled {cycle.payment_count} payment{'s' if cycle.payment_count != 1 else ''} "
        f"({cycle.obligation_count} obligation{'s' if cycle.obligation_count != 1 else ''}): "
        f"gross {cycle.gross_usd:,.2f} USD, net {cycle.net_usd:,.2f} USD, "
        f"netting efficiency {percent_label(cycle.efficiency)}."
    )
    if cycle.deferrals:
        deferred = ", ".join(f"{d.get('bic')} in {d.get('currency')}" for d in cycle.deferrals)
        text += f" Deferred for lack of funds: {deferred}."
    return text


@capability_required("settlement.run")
@require_POST
def cycle_run_page(request):
    try:
        cycle = netting_cycle_run(trigger=CycleTrigger.OPERATOR, actor=request.user)
    except DomainError as exc:
        messages.error(request, f"No netting cycle was run: {exc.message}")
        return redirect("settlement:cycles")
    if cycle is None:
        messages.info(request, "Nothing is due: no obligation waits for settlement, so no cycle was run.")
    elif cycle.status == CycleStatus.SETTLED:
        (messages.warning if cycle.deferrals else messages.success)(request, _run_outcome(cycle))
    else:
        messages.error(request, _run_outcome(cycle))
    return redirect("settlement:cycles")


def _position_groups(cycle: NettingCycle) -> list[dict]:
    """Positions per currency, each currency with what its participants pay and receive and the (zero) total."""
    groups: dict[str, dict] = {}
    for position in cycle.positions.all():
        group = groups.setdefault(
            position.currency_id,
            {"currency": position.currency_id, "rows": [], "pays": Decimal(0), "receives": Decimal(0)},
        )
        group["rows"].append(position)
        if position.position < 0:
            group["pays"] -= position.position
        else:
            group["receives"] += position.position
    for group in groups.values():
        group["total"] = group["receives"] - group["pays"]
    return list(groups.values())


@capability_required("settlement.view")
def cycle_page(request, cycle_id: int):
    try:
        cycle = netting_cycle_page(cycle_id)
    except NettingCycle.DoesNotExist as exc:
        raise Http404("No such netting cycle.") from exc
    postings, postings_total = cycle_postings(cycle.pk, limit=POSTINGS_SHOWN)
    minor_units = {code: ref.minor_units for code, ref in participant_directory().currencies.items()}
    return render(
        request,
        "settlement/cycle.html",
        {
            "cycle": cycle,
            "position_groups": _position_groups(cycle),
            "charts": netting_chart(cycle.currencies or [], minor_units),
            "instructions": cycle.instructions.all(),
            "postings": postings,
            "postings_total": postings_total,
            "postings_capped": postings_total > len(postings),
        },
    )
