"""Signals compliance sends to the apps above it (payments subscribes in its ready())."""

from django.dispatch import Signal

# Sent inside the decision's transaction: kwargs case (ReviewCase), decision (Decision value), officer (User),
# reason (str). The payment continues its pipeline (approved) or ends (rejected) in the same transaction.
case_decided = Signal()
