"""Page forms: the clearing calendar's range and currency."""

from datetime import date

from django import forms

EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 1)


class CalendarRangeForm(forms.Form):
    """`?from=YYYY-MM-DD&currency=XXX`; both optional (today; without a currency, the banks' general windows)."""

    from_date = forms.DateField(
        label="From", required=False, input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"})
    )
    currency = forms.ChoiceField(label="Currency", required=False)

    def __init__(self, data=None, *, currencies: list[str]):
        # The page's address says `from`, a Python keyword; the field is `from_date`.
        if data is not None:
            data = {"from_date": data.get("from", ""), "currency": (data.get("currency") or "").strip().upper()}
        super().__init__(data)
        self.fields["currency"].choices = [("", "Any currency")] + [(code, code) for code in currencies]

    def clean_from_date(self):
        value = self.cleaned_data["from_date"]
        if value is not None and not EARLIEST <= value <= LATEST:
            raise forms.ValidationError(f"Choose a date between {EARLIEST:%Y} and {LATEST:%Y}.")
        return value
