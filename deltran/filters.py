"""FilterSets of the platform lists: the audit log (page, API, CSV) and the dead letters (page and API)."""

from datetime import UTC, datetime, time, timedelta

import django_filters
from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from deltran.models import AuditEntry, DeadLetter


class DateOrDateTimeField(forms.Field):
    """ISO 8601 date (2026-11-21) or date-time (2026-11-21T10:30:00Z; naive means UTC)."""

    widget = forms.DateInput(attrs={"type": "date"})

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        try:
            # A bare date first: parse_datetime would read "2026-01-06" as midnight.
            parsed_date = parse_date(text)
            if parsed_date is not None:
                return parsed_date
            parsed = parse_datetime(text)
        except ValueError:
            parsed = None
        if parsed is None:
            raise forms.ValidationError("Enter an ISO 8601 date (YYYY-MM-DD) or date-time.", code="invalid_date")
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


class DateOrDateTimeFilter(django_filters.Filter):
    """A lower (or, with upper=True, upper) bound; a date as the upper bound includes that whole UTC day."""

    field_class = DateOrDateTimeField

    def __init__(self, *args, upper: bool = False, **kwargs):
        self.upper = upper
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value is None:
            return qs
        if isinstance(value, datetime):
            return qs.filter(**{f"{self.field_name}__{'lte' if self.upper else 'gte'}": value})
        start = datetime.combine(value, time.min, tzinfo=UTC)
        if self.upper:
            return qs.filter(**{f"{self.field_name}__lt": start + timedelta(days=1)})
        return qs.filter(**{f"{self.field_name}__gte": start})


class AuditEntryFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_label", max_length=150, label="Actor")
    action = django_filters.CharFilter(field_name="action", max_length=64, label="Action")
    object_type = django_filters.CharFilter(field_name="object_type", max_length=64, label="Object type")
    object_id = django_filters.CharFilter(method="filter_object_id", max_length=64, label="Object id")
    date_from = DateOrDateTimeFilter(field_name="occurred_at", label="From")
    date_to = DateOrDateTimeFilter(field_name="occurred_at", upper=True, label="To")

    class Meta:
        model = AuditEntry
        fields: list[str] = []

    def filter_object_id(self, qs, name, value):
        # Served by the (object_type, object_id) index when a type is given too.
        return qs.filter(object_id=value.strip()) if value.strip() else qs


class DeadLetterFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DeadLetter.Status.choices)
    task = django_filters.CharFilter(field_name="task_name", max_length=200, label="Task")

    class Meta:
        model = DeadLetter
        fields: list[str] = []
