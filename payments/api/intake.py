"""Reading a payment instruction from JSON: the rules of PaymentInitiateSerializer, without its machinery.

This runs on every initiation (and every item of a batch), so it is a plain function; the serializer stays as the
documented shape in the OpenAPI schema, and tests/payments/test_intake.py holds the two to the same fields and
error codes.
"""

import re
from decimal import InvalidOperation

from rest_framework.exceptions import ErrorDetail, ValidationError

from deltran.money import parse_decimal
from payments.services import PaymentInstruction
from settlement.validators import is_valid_bic, normalise_bic

SWIFT_TEXT = re.compile(r"^[A-Za-z0-9/\-?:().,'+ ]{1,35}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")

REQUIRED = ("sender_bic", "receiver_bic", "amount", "currency", "debtor_name", "creditor_name")
OPTIONAL = (
    "settlement_currency",
    "debtor_iban",
    "debtor_account",
    "creditor_iban",
    "creditor_account",
    "remittance_info",
    "payment_reference",
    "end_to_end_id",
)
FIELDS = frozenset(REQUIRED + OPTIONAL)
TEXT_LIMITS = {
    "debtor_name": 140,
    "creditor_name": 140,
    "debtor_account": 34,
    "creditor_account": 34,
    "remittance_info": 140,
    "debtor_iban": 42,
    "creditor_iban": 42,
}


class _Issues(dict):
    def add(self, name: str, code: str, message: str) -> None:
        self.setdefault(name, []).append(ErrorDetail(message, code=code))


def _text(data: dict, name: str, issues: _Issues, *, required: bool) -> str | None:
    """A JSON string, trimmed; the DRF CharField rules and messages."""
    if name not in data:
        if required:
            issues.add(name, "required", "This field is required.")
        return None
    value = data[name]
    if value is None:
        issues.add(name, "null", "This field may not be null.")
        return None
    if not isinstance(value, str):
        issues.add(name, "invalid", "A string is required.")
        return None
    value = value.strip()
    if not value:
        if required:
            issues.add(name, "blank", "This field may not be blank.")
            return None
        return ""
    return value


def parse_instruction(data) -> PaymentInstruction:
    """A PaymentInstruction from a parsed JSON body, or a ValidationError naming every bad field with a code."""
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": [ErrorDetail("A JSON object is required.", code="invalid")]})
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise ValidationError({name: [ErrorDetail("Unknown field.", code="unknown_field")] for name in unknown})
    issues = _Issues()
    values: dict[str, object] = {}
    for name in ("sender_bic", "receiver_bic"):
        raw = _text(data, name, issues, required=True)
        if raw is None:
            continue
        if len(raw) > 11:
            issues.add(name, "max_length", "Ensure this field has no more than 11 characters.")
            continue
        bic = normalise_bic(raw)
        if not is_valid_bic(bic):
            issues.add(name, "invalid_bic", f"{bic} is not a BIC (8 or 11 characters, ISO 9362).")
        values[name] = bic
    if "amount" not in data:
        issues.add("amount", "required", "This field is required.")
    elif data["amount"] is None:
        issues.add("amount", "null", "This field may not be null.")
    else:
        try:
            amount = parse_decimal(data["amount"])
        except (InvalidOperation, ValueError, TypeError):
            issues.add("amount", "invalid", 'A decimal amount is required, e.g. "125000.50".')
        else:
            if amount.adjusted() >= 18:
                issues.add("amount", "max_digits", "At most 18 digits before the decimal point.")
            values["amount"] = amount
    for name, required in (("currency", True), ("settlement_currency", False)):
        code = _text(data, name, issues, required=required)
        if code and not CURRENCY.match(code):
            issues.add(name, "invalid", "An ISO 4217 code: three capital letters.")
        elif code is not None:
            values[name] = code
    for name, limit in TEXT_LIMITS.items():
        text = _text(data, name, issues, required=name in REQUIRED)
        if text is None:
            continue
        if len(text) > limit:
            issues.add(name, "max_length", f"Ensure this field has no more than {limit} characters.")
        elif name.endswith("_iban"):
            values[name] = text.replace(" ", "").upper()
        elif not text.isprintable():
            issues.add(name, "control_characters", "Control characters are not allowed.")
        else:
            values[name] = text
    for name in ("payment_reference", "end_to_end_id"):
        text = _text(data, name, issues, required=False)
        if text and not SWIFT_TEXT.match(text):
            issues.add(name, "invalid", "Up to 35 characters of the SWIFT character set.")
        elif text is not None:
            values[name] = text
    if issues:
        raise ValidationError(dict(issues))
    return PaymentInstruction(**{k: v for k, v in values.items() if v is not None})
