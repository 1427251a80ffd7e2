"""Operations API: the audit log (list, CSV, chain verification) for Auditors and Admins, and the dead letters
(list, one, retry, resolve) for Operators and Admins."""

from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from deltran.api import paged_body
from deltran.deadletters import dead_letter_resolve, dead_letter_retry
from deltran.errors import Conflict
from deltran.export import streaming_csv_response
from deltran.filters import AuditEntryFilter, DeadLetterFilter
from deltran.models import AuditEntry, DeadLetter
from deltran.roles import HasRole
from deltran.selectors import (
    AUDIT_EXPORT_HEADER,
    audit_chain_verification,
    audit_entries,
    audit_export_rows,
    dead_letters,
)

PAGING = [OpenApiParameter("page", int), OpenApiParameter("limit", int)]


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "occurred_at",
            "actor_label",
            "action",
            "object_type",
            "object_id",
            "payload",
            "prev_hash",
            "entry_hash",
        ]


VerificationSerializer = inline_serializer(
    "AuditVerification",
    {
        "ok": serializers.BooleanField(),
        "checked": serializers.IntegerField(),
        "first_broken_id": serializers.IntegerField(allow_null=True),
        "reason": serializers.CharField(),
        "verified_at": serializers.DateTimeField(),
        "verified_by": serializers.CharField(),
    },
)


class AuditEntryListView(GenericAPIView):
    capability = "audit.view"
    permission_classes = [HasRole]
    filterset_class = AuditEntryFilter
    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return audit_entries()

    @extend_schema(parameters=PAGING, responses=AuditEntrySerializer(many=True), summary="The audit log, newest first")
    def get(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        render = lambda rows: AuditEntrySerializer(rows, many=True).data  # noqa: E731
        return Response(paged_body(request.query_params, queryset, key="entries", render=render))


class AuditVerificationView(APIView):
    capability = "audit.view"
    permission_classes = [HasRole]

    @extend_schema(request=None, responses=VerificationSerializer, summary="Verify the audit hash chain now")
    def post(self, request):
        return Response(audit_chain_verification(run=True, by=request.user.get_username()))

    @extend_schema(
        responses={200: VerificationSerializer, 204: None},
        summary="The last chain verification (204 when none has run since the cache was cleared)",
    )
    def get(self, request):
        found = audit_chain_verification(run=False)
        return Response(found) if found is not None else Response(status=204)


class AuditExportView(GenericAPIView):
    capability = "audit.view"
    permission_classes = [HasRole]
    filterset_class = AuditEntryFilter
    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return audit_entries().order_by("id")

    @extend_schema(responses={(200, "text/csv"): str}, summary="The audit log as CSV (same filters)")
    def get(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        return streaming_csv_response(
            filename="audit-log.csv", header=AUDIT_EXPORT_HEADER, rows=audit_export_rows(queryset)
        )


class DeadLetterSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeadLetter
        fields = [
            "id",
            "task_name",
            "args",
            "kwargs",
            "task_id",
            "exception_type",
            "exception",
            "traceback",
            "attempts",
            "operator_retries",
            "status",
            "first_failed_at",
            "last_failed_at",
            "resolved_at",
        ]


def _dead_letter(dead_letter_id: int) -> DeadLetter:
    letter = DeadLetter.objects.filter(pk=dead_letter_id).first()
    if letter is None:
        raise Http404
    return letter


class DeadLetterListView(GenericAPIView):
    capability = "operations.view"
    permission_classes = [HasRole]
    filterset_class = DeadLetterFilter
    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return dead_letters()

    @extend_schema(parameters=PAGING, responses=DeadLetterSerializer(many=True), summary="Tasks that kept failing")
    def get(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        render = lambda rows: DeadLetterSerializer(rows, many=True).data  # noqa: E731
        return Response(paged_body(request.query_params, queryset, key="dead_letters", render=render))


class DeadLetterDetailView(APIView):
    capability = "operations.view"
    permission_classes = [HasRole]

    @extend_schema(responses=DeadLetterSerializer, summary="A dead letter with its exception and traceback")
    def get(self, request, dead_letter_id: int):
        return Response(DeadLetterSerializer(_dead_letter(dead_letter_id)).data)


class DeadLetterRetryView(APIView):
    capability = "operations.retry"
    permission_classes = [HasRole]

    @extend_schema(request=None, responses={202: DeadLetterSerializer}, summary="Send the task to the workers again")
    def post(self, request, dead_letter_id: int):
        _dead_letter(dead_letter_id)
        letter = dead_letter_retry(dead_letter_id=dead_letter_id, actor=request.user)
        return Response(DeadLetterSerializer(letter).data, status=202)


class DeadLetterResolveView(APIView):
    capability = "operations.retry"
    permission_classes = [HasRole]

    @extend_schema(request=None, responses=DeadLetterSerializer, summary="Close a dead letter without running it")
    def post(self, request, dead_letter_id: int):
        _dead_letter(dead_letter_id)
        if not dead_letter_resolve(dead_letter_id=dead_letter_id, actor=request.user, how="closed by an operator"):
            raise Conflict("This dead letter is already resolved.", code="already_resolved")
        return Response(DeadLetterSerializer(_dead_letter(dead_letter_id)).data)
