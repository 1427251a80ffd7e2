"""The one FilterSet for payment lists: the API list, the CSV export and the web page use it alike."""

import uuid
from datetime import UTC, datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from payments.choices import PaymentStatus
from payments.models import Payment
from settlement.validators import normalise_bic


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
            # A date as the upper bound includes that whole day (UTC).
            return qs.filter(**{f"{self.field_name}__lt": start + timedelta(days=1)})
        return qs.filter(**{f"{self.field_name}__gte": start})


class BicFilter(django_filters.CharFilter):
    def filter(self, qs, value):
        if not value:
            return qs
        return qs.filter(**{self.field_name: normalise_bic(value)})


class PaymentFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=PaymentStatus.choices, distinct=False)
    currency = django_filters.CharFilter(method="filter_currency", max_length=3)
    sender_bic = BicFilter(field_name="sender_bic", max_length=11, label="Sender BIC")
    receiver_bic = BicFilter(field_name="receiver_bic", max_length=11, label="Receiver BIC")
    date_from = DateOrDateTimeFilter(field_name="created_at", label="From")
    date_to = DateOrDateTimeFilter(field_name="created_at", upper=True, label="To")
    min_amount = django_filters.NumberFilter(field_name="amount", lookup_expr="gte", min_value=0, label="Min amount")
    max_amount = django_filters.NumberFilter(field_name="amount", lookup_expr="lte", min_value=0, label="Max amount")
    reference = django_filters.CharFilter(method="filter_reference", max_length=64, label="Reference or id")
    clearing_window_violation = django_filters.BooleanFilter(label="Sent outside a clearing window")
    awaiting_liquidity = django_filters.BooleanFilter(label="Waiting for liquidity")

    class Meta:
        model = Payment
        fields: list[str] = []

    def filter_currency(self, qs, name, value):
        return qs.filter(currency_id=value.strip().upper()) if value else qs

    def filter_reference(self, qs, name, value):
        """A payment id, an end-to-end id, or the start of a payment reference."""
        value = value.strip()
        if not value:
            return qs
        condition = Q(payment_reference__startswith=value) | Q(end_to_end_id=value)
        try:
            condition |= Q(id=uuid.UUID(value))
        except ValueError:
            pass
        return qs.filter(condition)
