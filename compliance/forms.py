"""Page forms of the review pages: a decision on one case, one decision on several, a false-positive whitelisting.

They check what a person can get wrong on a page (no reason, no case ticked); the services check the rest.
"""

from django import forms

from compliance.choices import CASE_TRANSITIONS, Decision

REASON_MAX = 2000


def _reason_field(message: str) -> forms.CharField:
    return forms.CharField(
        label="Reason",
        max_length=REASON_MAX,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": message},
    )


class CaseDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label="Decision", widget=forms.RadioSelect, error_messages={"required": "Choose approve, reject or escalate."}
    )
    reason = _reason_field("Give the reason for the decision.")

    def __init__(self, *args, case_status: str, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = CASE_TRANSITIONS.get(case_status, {})
        # An escalated case can no longer be escalated; offer only what the case's status allows.
        self.fields["decision"].choices = [(value, label) for value, label in Decision.choices if value in allowed]


class BulkDecisionForm(forms.Form):
    case_ids = forms.TypedMultipleChoiceField(
        coerce=int, error_messages={"required": "Tick the cases to decide first."}, label="Cases"
    )
    decision = forms.ChoiceField(
        label="Decision",
        choices=[(Decision.APPROVE, "Approve"), (Decision.REJECT, "Reject")],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose approve or reject."},
    )
    reason = _reason_field("Give the reason for the decision; it is recorded on every case.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any case id is a valid choice here: the service refuses, per case, those that cannot be decided.
        ticked = self.data.getlist("case_ids") if hasattr(self.data, "getlist") else []
        self.fields["case_ids"].choices = [(value, value) for value in ticked]

    def clean_case_ids(self):
        ids = self.cleaned_data["case_ids"]
        if any(case_id < 1 for case_id in ids):
            raise forms.ValidationError("Not a case number.")
        if len(ids) > 500:
            raise forms.ValidationError("Decide at most 500 cases at once.")
        return ids


class WhitelistForm(forms.Form):
    reason = _reason_field("Say why this is a false positive.")
