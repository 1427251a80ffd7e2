"""The payment page's technical tab: the message the payment came in, as the bank sent it."""

from django import template

from deltran.roles import CAPABILITIES, user_can
from payments.models import InboundMessage

register = template.Library()

# The original message holds the parties' full account numbers; where accounts are masked for a role, so is it.
ACCOUNTS_CAPABILITY = "payments.view_accounts"


@register.simple_tag
def inbound_message_of(payment, user) -> dict | None:
    """The message (with the transaction's position) that produced the payment, None for a REST or web payment."""
    message = (
        InboundMessage.objects.filter(payments__payment_id=payment.pk)
        .values("id", "channel", "message_type", "message_id", "received_at", "transactions", "accepted", "rejected")
        .first()
    )
    if message is None:
        return None
    allowed = ACCOUNTS_CAPABILITY not in CAPABILITIES or user_can(user, ACCOUNTS_CAPABILITY)
    message["position"] = payment.inbound_message.position + 1
    message["content"] = (
        InboundMessage.objects.values_list("content", flat=True).get(pk=message["id"]) if allowed else None
    )
    return message
