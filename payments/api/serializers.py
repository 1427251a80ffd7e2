"""Payment API shapes: the initiation request, list rows (as in the seeds' API reference) and the detail."""

from decimal import Decimal, InvalidOperation

from rest_framework import serializers

from deltran.money import parse_decimal
from payments.api.render import compliance_check_body
from payments.choices import PaymentStatus
from payments.models import Payment, PaymentTransition
from payments.selectors import payment_amount_str
from payments.services import PaymentInstruction
from settlement.selectors import participant_directory
from settlement.validators import is_valid_bic, normalise_bic


class DecimalStringField(serializers.Field):
    """An exact amount: a JSON string ("125000.50") or number, never a float; rendered as a string."""

    default_error_messages = {
        "invalid": 'A decimal amount is required, e.g. "125000.50".',
        "max_digits": "At most 18 digits before the decimal point.",
    }

    def to_internal_value(self, data) -> Decimal:
        try:
            value = parse_decimal(data)
        except (InvalidOperation, ValueError, TypeError):
            self.fail("invalid")
        if value.adjusted() >= 18:
            self.fail("max_digits")
        return value

    def to_representation(self, value) -> str:
        return format(value, "f")


class StrictCharField(serializers.CharField):
    """Text must arrive as a JSON string: 42 is not a name."""

    default_error_messages = {"invalid": "A string is required."}

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class BicField(StrictCharField):
    default_error_messages = {"invalid_bic": "{value} is not a BIC (8 or 11 characters, ISO 9362)."}

    def __init__(self, **kwargs):
        super().__init__(max_length=11, **kwargs)

    def to_internal_value(self, data) -> str:
        value = normalise_bic(super().to_internal_value(data))
        if not is_valid_bic(value):
            self.fail("invalid_bic", value=value)
        return value


class PrintableCharField(StrictCharField):
    default_error_messages = {"control_characters": "Control characters are not allowed."}

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        if any(not ch.isprintable() for ch in value):
            self.fail("control_characters")
        return value


class PaymentInitiateSerializer(serializers.Serializer):
    sender_bic = BicField()
    receiver_bic = BicField()
    amount = DecimalStringField()
    currency = serializers.RegexField(
        r"^[A-Z]{3}$", error_messages={"invalid": "An ISO 4217 code: three capital letters."}
    )
    settlement_currency = serializers.RegexField(
        r"^[A-Z]{3}$",
        required=False,
        allow_blank=True,
        error_messages={"invalid": "An ISO 4217 code: three capital letters."},
        help_text="Currency the receiver is credited in, if not `currency`; the rate is locked at acceptance.",
    )
    debtor_name = PrintableCharField(max_length=140)
    creditor_name = PrintableCharField(max_length=140)
    debtor_iban = StrictCharField(max_length=42, required=False, allow_blank=True)
    debtor_account = PrintableCharField(max_length=34, required=False, allow_blank=True)
    creditor_iban = StrictCharField(max_length=42, required=False, allow_blank=True)
    creditor_account = PrintableCharField(max_length=34, required=False, allow_blank=True)
    remittance_info = PrintableCharField(max_length=140, required=False, allow_blank=True)
    payment_reference = serializers.RegexField(
        r"^[A-Za-z0-9/\-?:().,'+ ]{1,35}$",
        required=False,
        allow_blank=True,
        error_messages={"invalid": "Up to 35 characters of the SWIFT character set."},
    )
    end_to_end_id = serializers.RegexField(
        r"^[A-Za-z0-9/\-?:().,'+ ]{1,35}$",
        required=False,
        allow_blank=True,
        error_messages={"invalid": "Up to 35 characters of the SWIFT character set."},
    )

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": [serializers.ErrorDetail("A JSON object is required.", code="invalid")]}
            )
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: [serializers.ErrorDetail("Unknown field.", code="unknown_field")] for name in unknown}
            )
        return super().to_internal_value(data)

    def validate(self, attrs):
        for side in ("debtor_iban", "creditor_iban"):
            if attrs.get(side):
                attrs[side] = attrs[side].replace(" ", "").upper()
        return attrs

    def to_instruction(self) -> PaymentInstruction:
        return PaymentInstruction(**self.validated_data)


class PaymentListItemSerializer(serializers.ModelSerializer):
    sender_name = serializers.SerializerMethodField()
    receiver_name = serializers.SerializerMethodField()
    amount = serializers.SerializerMethodField(help_text="Decimal string with the currency's minor units.")
    currency = serializers.CharField(source="currency_id")
    status = serializers.ChoiceField(choices=PaymentStatus.choices)

    class Meta:
        model = Payment
        fields = [
            "id",
            "payment_reference",
            "sender_bic",
            "sender_name",
            "receiver_bic",
            "receiver_name",
            "amount",
            "currency",
            "status",
            "created_at",
            "settled_at",
        ]

    def _bank_name(self, bic: str) -> str:
        bank = participant_directory().banks.get(bic)
        return bank.name if bank else ""

    def get_amount(self, obj) -> str:
        return payment_amount_str(obj.amount, obj.currency_id)

    def get_sender_name(self, obj) -> str:
        return self._bank_name(obj.sender_bic)

    def get_receiver_name(self, obj) -> str:
        return self._bank_name(obj.receiver_bic)


class PaymentTransitionSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label")

    class Meta:
        model = PaymentTransition
        fields = ["from_status", "to_status", "actor", "reason", "occurred_at"]


class PaymentDetailSerializer(PaymentListItemSerializer):
    settlement_currency = serializers.CharField(source="settlement_currency_id")
    settlement_amount = serializers.SerializerMethodField()
    sender_account_id = serializers.CharField(source="sender_account.account_number")
    receiver_account_id = serializers.CharField(source="receiver_account.account_number")
    swift_message_type = serializers.CharField(source="channel")
    compliance_check = serializers.SerializerMethodField()
    timeline = PaymentTransitionSerializer(many=True, read_only=True)

    class Meta(PaymentListItemSerializer.Meta):
        fields = PaymentListItemSerializer.Meta.fields + [
            "end_to_end_id",
            "settlement_currency",
            "settlement_amount",
            "fx_rate",
            "fx_rate_at",
            "scheduled_for",
            "clearing_window_violation",
            "sender_account_id",
            "receiver_account_id",
            "debtor_name",
            "debtor_iban",
            "debtor_account",
            "creditor_name",
            "creditor_iban",
            "creditor_account",
            "remittance_info",
            "status_reason",
            "awaiting_liquidity",
            "risk_score",
            "swift_message_type",
            "idempotency_key",
            "compliance_check",
            "processed_at",
            "updated_at",
            "timeline",
        ]

    def get_settlement_amount(self, obj) -> str:
        return payment_amount_str(obj.settlement_amount, obj.settlement_currency_id)

    def get_compliance_check(self, obj) -> dict | None:
        return compliance_check_body(getattr(obj, "screening", None))


class PaymentListResponseSerializer(serializers.Serializer):
    """Documentation shape of GET /payments."""

    payments = PaymentListItemSerializer(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
