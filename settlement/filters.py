"""The one FilterSet for netting cycle lists (the API list; pages and exports use it alike when they come)."""

import django_filters

from settlement.choices import CycleStatus, CycleTrigger
from settlement.models import NettingCycle


class NettingCycleFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=CycleStatus.choices)
    trigger = django_filters.ChoiceFilter(choices=CycleTrigger.choices)
    started_from = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_to = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lte")

    class Meta:
        model = NettingCycle
        fields = ["status", "trigger", "started_from", "started_to"]
