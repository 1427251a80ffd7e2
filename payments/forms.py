"""Page forms of the payment pages: cancelling a payment that waits for liquidity.

They check what a person can get wrong on a page (no reason); the service checks the rest.
"""

from django import forms

REASON_MAX = 1000


class PaymentCancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=REASON_MAX,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Give the reason for cancelling the payment."},
    )
