"""The one FilterSet for payment lists: the API list, the CSV export and the web page use it alike."""

import uuid

import django_filters
from django.db.models import Q

from deltran.filters import DateOrDateTimeFilter
from payments.choices import PaymentStatus
from payments.models import Payment
from settlement.validators import normalise_bic


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
