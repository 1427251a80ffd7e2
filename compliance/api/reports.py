"""Regulatory reports API: suspicious activity for a date range, as JSON (paged) and as streamed CSV."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from compliance.filters import SuspiciousActivityFilter
from compliance.reports import (
    SUSPICIOUS_ACTIVITY_HEADER,
    suspicious_activity_cases,
    suspicious_activity_csv_rows,
    suspicious_activity_items,
)
from deltran.api import paged_body
from deltran.export import streaming_csv_response
from deltran.roles import HasRole

SuspiciousActivityPage = inline_serializer(
    "SuspiciousActivityReport",
    {
        "payments": serializers.ListField(child=serializers.DictField()),
        "total": serializers.IntegerField(),
        "page": serializers.IntegerField(),
        "limit": serializers.IntegerField(),
    },
)


class SuspiciousActivityView(GenericAPIView):
    capability = "compliance.report"
    permission_classes = [HasRole]
    filterset_class = SuspiciousActivityFilter
    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return suspicious_activity_cases()

    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("limit", int)],
        responses=SuspiciousActivityPage,
        summary="Suspicious activity: payments held for review in a date range, with reasons and decisions",
    )
    def get(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        return Response(paged_body(request.query_params, queryset, key="payments", render=suspicious_activity_items))


class SuspiciousActivityExportView(GenericAPIView):
    capability = "compliance.report"
    permission_classes = [HasRole]
    filterset_class = SuspiciousActivityFilter
    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return suspicious_activity_cases()

    @extend_schema(responses={(200, "text/csv"): str}, summary="The suspicious-activity report as CSV")
    def get(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        return streaming_csv_response(
            filename="suspicious-activity.csv",
            header=SUSPICIOUS_ACTIVITY_HEADER,
            rows=suspicious_activity_csv_rows(queryset),
        )
