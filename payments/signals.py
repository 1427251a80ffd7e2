"""Payments listens to the apps below it: a compliance decision moves the held payment on; a settled netting cycle
settles its payments."""

from compliance.models import ReviewCase
from compliance.signals import case_decided
from payments.services import payment_review_decided, payments_settle
from settlement.models import NettingCycle
from settlement.signals import cycle_settled


def _on_case_decided(sender, case, decision, officer, reason, **kwargs) -> None:
    payment_review_decided(case=case, decision=decision, officer=officer, reason=reason)


def _on_cycle_settled(sender, cycle, payment_ids, **kwargs) -> None:
    payments_settle(cycle=cycle, payment_ids=payment_ids)


def connect() -> None:
    case_decided.connect(_on_case_decided, sender=ReviewCase, dispatch_uid="payments-case-decided")
    cycle_settled.connect(_on_cycle_settled, sender=NettingCycle, dispatch_uid="payments-cycle-settled")
