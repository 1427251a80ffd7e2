"""Settlement pages: the clearing calendar of every active bank for the next 14 days."""

from datetime import UTC, datetime, time, timedelta

from django.shortcuts import render
from django.utils import timezone

from deltran.roles import capability_required
from settlement.charts import calendar_chart
from settlement.forms import CalendarRangeForm
from settlement.selectors import calendar_overview, settlement_currencies

CALENDAR_DAYS = 14


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
