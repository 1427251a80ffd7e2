"""The FilterSets of the review queue and of the decisions export (API, pages and CSV use the same ones)."""

from datetime import timedelta

import django_filters
from django.db.models import Q
from django.utils import timezone

from compliance.choices import CaseStatus, Decision, MatchLevel
from compliance.models import CaseDecision, ReviewCase
from deltran.filters import DateOrDateTimeFilter

ORDERINGS = {
    "priority": ("-definite_hit", "-priority", "opened_at"),
    "age": ("opened_at",),
    "-age": ("-opened_at",),
    "sla": ("sla_due_at",),
    "amount": ("-amount_usd",),
}


class CaseFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=CaseStatus.choices, distinct=False)
    risk_level = django_filters.MultipleChoiceFilter(choices=MatchLevel.choices, distinct=False)
    list = django_filters.CharFilter(method="filter_list", max_length=32, label="List")
    bank = django_filters.CharFilter(method="filter_bank", max_length=11, label="Bank BIC")
    min_amount_usd = django_filters.NumberFilter(
        field_name="amount_usd", lookup_expr="gte", min_value=0, label="Min amount (USD)"
    )
    max_amount_usd = django_filters.NumberFilter(
        field_name="amount_usd", lookup_expr="lte", min_value=0, label="Max amount (USD)"
    )
    min_age_hours = django_filters.NumberFilter(method="filter_age", min_value=0, label="Older than (hours)")
    assigned = django_filters.ChoiceFilter(choices=[("me", "Me"), ("none", "Nobody")], method="filter_assigned")
    overdue = django_filters.BooleanFilter(method="filter_overdue")
    ordering = django_filters.ChoiceFilter(choices=[(k, k) for k in ORDERINGS], method="filter_ordering")

    class Meta:
        model = ReviewCase
        fields: list[str] = []

    def filter_list(self, qs, name, value):
        # JSON containment is not portable to SQLite; the list codes are short, so match the JSON text.
        return qs.filter(lists__icontains=f'"{value.strip()}"') if value else qs

    def filter_bank(self, qs, name, value):
        value = value.strip().upper()
        if len(value) == 8:
            value += "XXX"
        return qs.filter(Q(sender_bic=value) | Q(receiver_bic=value)) if value else qs

    def filter_age(self, qs, name, value):
        return qs.filter(opened_at__lte=timezone.now() - timedelta(hours=float(value)))

    def filter_assigned(self, qs, name, value):
        if value == "me":
            user = getattr(self.request, "user", None)
            return qs.filter(assigned_to=user) if user is not None and user.is_authenticated else qs.none()
        return qs.filter(assigned_to__isnull=True)

    def filter_overdue(self, qs, name, value):
        now = timezone.now()
        overdue = Q(status__in=(CaseStatus.OPEN, CaseStatus.ESCALATED), sla_due_at__lt=now)
        return qs.filter(overdue) if value else qs.exclude(overdue)

    def filter_ordering(self, qs, name, value):
        return qs.order_by(*ORDERINGS.get(value, ORDERINGS["priority"]))


class DecisionFilter(django_filters.FilterSet):
    decision = django_filters.MultipleChoiceFilter(choices=Decision.choices, distinct=False)
    officer = django_filters.CharFilter(field_name="officer__username")
    date_from = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="gte")
    date_to = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="lte")

    class Meta:
        model = CaseDecision
        fields: list[str] = []


class SuspiciousActivityFilter(django_filters.FilterSet):
    """The suspicious-activity report: payments held for review in a date range (required), by case outcome."""

    date_from = DateOrDateTimeFilter(field_name="opened_at", required=True, label="From")
    date_to = DateOrDateTimeFilter(field_name="opened_at", upper=True, required=True, label="To")
    status = django_filters.MultipleChoiceFilter(choices=CaseStatus.choices, distinct=False, label="Case status")

    class Meta:
        model = ReviewCase
        fields: list[str] = []

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if valid:
            start, end = self.form.cleaned_data.get("date_from"), self.form.cleaned_data.get("date_to")
            if start and end and _as_date(start) > _as_date(end):
                self.form.add_error("date_to", "The end of the range is before its start.")
                return False
        return valid


def _as_date(value):
    return value.date() if hasattr(value, "date") else value
