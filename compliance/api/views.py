"""Compliance API: the review queue, a case with its matches, decisions (single and bulk), whitelisting, CSV export."""

from django.http import Http404
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from compliance.filters import CaseFilter, DecisionFilter
from compliance.models import CaseDecision, ReviewCase, ScreeningMatch
from compliance.selectors import case_queue
from compliance.services import case_assign, case_decide, case_take_next, cases_decide_bulk, whitelist_add
from deltran.api import paged_body
from deltran.export import streaming_csv_response
from deltran.roles import HasRole


class MatchSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScreeningMatch
        fields = [
            "id",
            "party",
            "party_name",
            "list_code",
            "list_kind",
            "entry_source_id",
            "entry_type",
            "entry_primary_name",
            "matched_name",
            "matched_kind",
            "algorithm",
            "score",
            "distance",
            "level",
            "reason",
            "whitelisted",
        ]


class DecisionSerializer(serializers.ModelSerializer):
    officer = serializers.CharField(source="officer.get_username")

    class Meta:
        model = CaseDecision
        fields = ["decision", "officer", "reason", "decided_at"]


class CaseSerializer(serializers.ModelSerializer):
    payment_id = serializers.UUIDField()
    payment_reference = serializers.CharField(source="payment.payment_reference")
    amount = serializers.SerializerMethodField()
    currency = serializers.CharField(source="payment.currency_id")
    debtor_name = serializers.CharField(source="payment.debtor_name")
    creditor_name = serializers.CharField(source="payment.creditor_name")
    payment_status = serializers.CharField(source="payment.status")
    assigned_to = serializers.CharField(source="assigned_to.get_username", default=None)
    amount_usd = serializers.DecimalField(max_digits=28, decimal_places=2, coerce_to_string=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = ReviewCase
        fields = [
            "id",
            "payment_id",
            "payment_reference",
            "status",
            "priority",
            "risk_level",
            "definite_hit",
            "lists",
            "sender_bic",
            "receiver_bic",
            "amount",
            "currency",
            "amount_usd",
            "debtor_name",
            "creditor_name",
            "payment_status",
            "assigned_to",
            "opened_at",
            "sla_due_at",
            "overdue",
            "decided_at",
        ]

    def get_amount(self, obj) -> str:
        return format(obj.payment.amount.normalize(), "f")

    def get_overdue(self, obj) -> bool:
        return obj.status in ("open", "escalated") and obj.sla_due_at < timezone.now()


class CaseDetailSerializer(CaseSerializer):
    matches = MatchSerializer(source="screening.matches", many=True)
    risk_reasons = serializers.JSONField(source="screening.reasons")
    decisions = DecisionSerializer(many=True)

    class Meta(CaseSerializer.Meta):
        fields = CaseSerializer.Meta.fields + ["matches", "risk_reasons", "decisions"]


class DecideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["approve", "reject", "escalate"])
    reason = serializers.CharField(max_length=2000, trim_whitespace=True)


class BulkDecideSerializer(serializers.Serializer):
    case_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=500)
    decision = serializers.ChoiceField(choices=["approve", "reject"])
    reason = serializers.CharField(max_length=2000, trim_whitespace=True)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, trim_whitespace=True)


def _case(case_id: int) -> ReviewCase:
    case = case_queue().prefetch_related("screening__matches", "decisions__officer").filter(pk=case_id).first()
    if case is None:
        raise Http404
    return case


class CaseListView(GenericAPIView):
    capability = "compliance.view"
    permission_classes = [HasRole]
    filterset_class = CaseFilter
    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return case_queue()

    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("limit", int)],
        responses=CaseSerializer(many=True),
        summary="The review queue",
    )
    def get(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        render = lambda rows: CaseSerializer(rows, many=True).data  # noqa: E731
        return Response(paged_body(request.query_params, queryset, key="cases", render=render))


class CaseDetailView(APIView):
    capability = "compliance.view"
    permission_classes = [HasRole]

    @extend_schema(responses=CaseDetailSerializer, summary="A case with its matches, score reasons and decisions")
    def get(self, request, case_id: int):
        return Response(CaseDetailSerializer(_case(case_id)).data)


class CaseDecideView(APIView):
    capability = "compliance.decide"
    permission_classes = [HasRole]

    @extend_schema(request=DecideSerializer, responses=CaseDetailSerializer, summary="Approve, reject or escalate")
    def post(self, request, case_id: int):
        data = DecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not ReviewCase.objects.filter(pk=case_id).exists():
            raise Http404
        case_decide(case_id=case_id, officer=request.user, **data.validated_data)
        return Response(CaseDetailSerializer(_case(case_id)).data)


class CaseAssignView(APIView):
    capability = "compliance.decide"
    permission_classes = [HasRole]

    @extend_schema(request=None, responses=CaseSerializer, summary="Assign the case to me")
    def post(self, request, case_id: int):
        if not ReviewCase.objects.filter(pk=case_id).exists():
            raise Http404
        case_assign(case_id=case_id, officer=request.user)
        return Response(CaseSerializer(_case(case_id)).data)


class CaseTakeNextView(APIView):
    capability = "compliance.decide"
    permission_classes = [HasRole]

    @extend_schema(request=None, responses={200: CaseSerializer, 204: None}, summary="Take the most urgent case")
    def post(self, request):
        case = case_take_next(officer=request.user)
        if case is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(CaseSerializer(_case(case.pk)).data)


class CaseBulkDecideView(APIView):
    capability = "compliance.decide"
    permission_classes = [HasRole]

    @extend_schema(
        request=BulkDecideSerializer,
        responses=inline_serializer(
            "BulkOutcome",
            {"decided": serializers.ListField(child=serializers.IntegerField()), "refused": serializers.DictField()},
        ),
        summary="Approve or reject several cases with one reason",
    )
    def post(self, request):
        data = BulkDecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = cases_decide_bulk(officer=request.user, **data.validated_data)
        return Response({"decided": outcome.decided, "refused": {str(k): v for k, v in outcome.refused.items()}})


class MatchWhitelistView(APIView):
    capability = "compliance.decide"
    permission_classes = [HasRole]

    @extend_schema(request=ReasonSerializer, responses={201: None}, summary="Whitelist a match as a false positive")
    def post(self, request, match_id: int):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not ScreeningMatch.objects.filter(pk=match_id).exists():
            raise Http404
        entry = whitelist_add(match_id=match_id, officer=request.user, reason=data.validated_data["reason"])
        return Response(
            {
                "id": entry.pk,
                "party_name": entry.party_name,
                "list_code": entry.list_code,
                "entry_source_id": entry.entry_source_id,
            },
            status=status.HTTP_201_CREATED,
        )


DECISION_HEADER = [
    "Decided At",
    "Case",
    "Payment ID",
    "Payment Reference",
    "Decision",
    "Officer",
    "Reason",
    "Case Status",
    "Risk Score",
    "Risk Level",
    "Lists",
    "Amount USD",
]


class DecisionExportView(GenericAPIView):
    capability = "compliance.view"
    permission_classes = [HasRole]
    filterset_class = DecisionFilter
    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return CaseDecision.objects.order_by("decided_at", "id")

    @extend_schema(responses={(200, "text/csv"): str}, summary="Decisions as CSV")
    def get(self, request):
        rows = self.filter_queryset(self.get_queryset()).values_list(
            "decided_at",
            "case_id",
            "case__payment_id",
            "case__payment__payment_reference",
            "decision",
            "officer__username",
            "reason",
            "case__status",
            "case__priority",
            "case__risk_level",
            "case__lists",
            "case__amount_usd",
        )
        return streaming_csv_response(
            filename="compliance-decisions.csv",
            header=DECISION_HEADER,
            rows=((*row[:10], " ".join(row[10] or []), row[11]) for row in rows.iterator(chunk_size=2000)),
        )
