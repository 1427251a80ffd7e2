"""Netting cycle bodies: amounts as decimal strings with their currency's minor units."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from settlement.models import CyclePosition, LedgerPosting, NettingCycle, SettlementInstruction
from settlement.selectors import currency_amount_str


@extend_schema_field(OpenApiTypes.STR)
class CurrencyAmountField(serializers.Field):
    """A Decimal column rendered with the minor units of the row's currency."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(source="*", **kwargs)

    def to_representation(self, row) -> str:
        return currency_amount_str(getattr(row, self.field_name), row.currency_id)


class CyclePositionSerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="currency_id")
    position = CurrencyAmountField()

    class Meta:
        model = CyclePosition
        fields = ["participant_code", "currency", "position"]


class SettlementInstructionSerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="currency_id")
    amount = CurrencyAmountField()

    class Meta:
        model = SettlementInstruction
        fields = ["payer_code", "payee_code", "currency", "amount"]


class LedgerPostingSerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="currency_id")
    amount = CurrencyAmountField()

    class Meta:
        model = LedgerPosting
        fields = ["id", "account_code", "counter_account_code", "currency", "amount", "memo", "created_at"]


class NettingCycleSerializer(serializers.ModelSerializer):
    class Meta:
        model = NettingCycle
        fields = [
            "id",
            "status",
            "trigger",
            "run_by",
            "started_at",
            "finished_at",
            "payment_count",
            "obligation_count",
            "gross_usd",
            "net_usd",
            "efficiency",
            "currencies",
            "deferrals",
            "failure_reason",
        ]


class NettingCycleDetailSerializer(NettingCycleSerializer):
    positions = CyclePositionSerializer(many=True, read_only=True)
    instructions = SettlementInstructionSerializer(many=True, read_only=True)
    postings = LedgerPostingSerializer(many=True, read_only=True)

    class Meta(NettingCycleSerializer.Meta):
        fields = NettingCycleSerializer.Meta.fields + ["positions", "instructions", "postings"]


class NettingCycleListResponseSerializer(serializers.Serializer):
    """Documentation shape of GET /netting/cycles."""

    cycles = NettingCycleSerializer(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
