"""Validators for participant reference data: BICs and IANA time zones."""

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError

from settlement.choices import WEEKDAY_NAMES

# ISO 9362: 4 letters (institution), 2 letters (country), 2 alphanumerics (location), optional 3 (branch).
BIC_PATTERN = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")


def normalise_bic(value: str) -> str:
    """Upper-case, trimmed, and the 8-character form extended with the XXX head-office branch."""
    bic = (value or "").strip().upper()
    return bic + "XXX" if len(bic) == 8 else bic


def is_valid_bic(value: str) -> bool:
    return bool(BIC_PATTERN.match(value or ""))


def validate_bic(value: str) -> None:
    if not is_valid_bic(value):
        raise ValidationError(
            "%(value)s is not a BIC: 4 letters, 2-letter country, 2 letters or digits, optional 3-character branch.",
            params={"value": value},
            code="invalid_bic",
        )


def validate_timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            "%(value)s is not an IANA time zone.", params={"value": value}, code="invalid_timezone"
        ) from exc
    if value not in available_timezones():
        raise ValidationError("%(value)s is not an IANA time zone.", params={"value": value}, code="invalid_timezone")


def validate_weekdays(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Give at least one active weekday.", code="invalid_weekdays")
    if any(day not in WEEKDAY_NAMES for day in value) or len(set(value)) != len(value):
        raise ValidationError(
            "Weekdays are distinct ISO numbers from 1 (Monday) to 7 (Sunday).", code="invalid_weekdays"
        )
