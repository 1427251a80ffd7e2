"""Payments listens to the apps below it: a compliance decision moves the held payment on."""

from compliance.models import ReviewCase
from compliance.signals import case_decided
from payments.services import payment_review_decided


def _on_case_decided(sender, case, decision, officer, reason, **kwargs) -> None:
    payment_review_decided(case=case, decision=decision, officer=officer, reason=reason)


def connect() -> None:
    case_decided.connect(_on_case_decided, sender=ReviewCase, dispatch_uid="payments-case-decided")
