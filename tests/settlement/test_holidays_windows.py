"""Holidays from the `holidays` package, and clearing-window validation in the model and the admin."""

from datetime import date, time

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from settlement.models import Bank, ClearingWindow, Holiday, windows_overlap

pytestmark = pytest.mark.django_db


def test_import_holidays_fills_a_country_year_once(scenario, capsys):
    Holiday.objects.filter(country="AE", date__year=2028).delete()
    call_command("import_holidays", "--country", "ae", "--year", "2028")
    first = set(Holiday.objects.filter(country="AE", date__year=2028).values_list("date", "name"))
    assert (date(2028, 1, 1), "New Year's Day") in first
    assert len(first) >= 8
    call_command("import_holidays", "--country", "AE", "--year", "2028")
    assert "0 holidays added" in capsys.readouterr().out
    assert set(Holiday.objects.filter(country="AE", date__year=2028).values_list("date", "name")) == first


def test_import_holidays_refuses_unknown_country_and_year(scenario):
    with pytest.raises(CommandError, match="No holiday calendar"):
        call_command("import_holidays", "--country", "QQ", "--year", "2027")
    with pytest.raises(CommandError, match="between"):
        call_command("import_holidays", "--country", "AE", "--year", "20270")


def test_scenario_loads_this_year_and_next_for_the_four_countries(scenario):
    from django.utils import timezone

    year = timezone.now().year
    for country in ("AE", "IL", "PK", "IN"):
        for y in (year, year + 1):
            assert Holiday.objects.filter(country=country, date__year=y).exists(), (country, y)


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        ((time(9), time(12)), (time(13), time(17)), False),
        ((time(9), time(12)), (time(12), time(17)), False),
        ((time(9), time(13)), (time(12), time(17)), True),
        ((time(22), time(2)), (time(1), time(5)), True),
        ((time(22), time(2)), (time(2), time(5)), False),
        ((time(22), time(2)), (time(21), time(23)), True),
        ((time(20), time(1)), (time(8), time(16)), False),
    ],
)
def test_window_overlap_rule(first, second, overlap):
    assert windows_overlap(first, second) is overlap
    assert windows_overlap(second, first) is overlap


def test_model_refuses_overlapping_and_zero_length_windows(scenario):
    bank = Bank.objects.get(bic="HABBPKKKXXX")  # 09:00-17:00 for every currency
    with pytest.raises(ValidationError, match="overlaps"):
        ClearingWindow(bank=bank, opens_at=time(16), closes_at=time(18)).full_clean()
    with pytest.raises(ValidationError):
        ClearingWindow(bank=bank, opens_at=time(10), closes_at=time(10)).full_clean()
    ClearingWindow(bank=bank, currency_id="USD", opens_at=time(16), closes_at=time(18)).full_clean()  # other currency
    ClearingWindow(bank=bank, opens_at=time(22), closes_at=time(2)).full_clean()  # crosses midnight, no overlap


def test_admin_refuses_overlapping_windows_edited_together(scenario, admin_client):
    bank = Bank.objects.get(bic="LUMIILITXXX")
    url = f"/admin/settlement/bank/{bank.pk}/change/"
    page = admin_client.get(url)
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data["primary_currency"] = bank.primary_currency_id
    data["secondary_currencies"] = [c.pk for c in bank.secondary_currencies.all()]
    data["active_weekdays"] = bank.active_weekdays
    data = {k: v for k, v in data.items() if v is not None}
    data["is_active"] = "on"
    for formset in page.context["inline_admin_formsets"]:
        fs = formset.formset
        prefix = fs.prefix
        data[f"{prefix}-TOTAL_FORMS"] = str(len(fs.forms))
        data[f"{prefix}-INITIAL_FORMS"] = str(fs.initial_form_count())
        data[f"{prefix}-MIN_NUM_FORMS"] = "0"
        data[f"{prefix}-MAX_NUM_FORMS"] = "1000"
        for i, f in enumerate(fs.forms):
            for name in f.fields:
                value = f.initial.get(name)
                if value is None:
                    continue
                data[f"{prefix}-{i}-{name}"] = getattr(value, "pk", value)
    window_prefix = next(f.formset.prefix for f in page.context["inline_admin_formsets"]
                         if f.formset.model is ClearingWindow)
    total = int(data[f"{window_prefix}-TOTAL_FORMS"])
    data[f"{window_prefix}-TOTAL_FORMS"] = str(total + 1)
    data[f"{window_prefix}-{total}-opens_at"] = "16:00"
    data[f"{window_prefix}-{total}-closes_at"] = "19:00"
    data[f"{window_prefix}-{total}-bank"] = bank.pk
    response = admin_client.post(url, data)
    assert response.status_code == 200  # the form comes back with the error, nothing saved
    assert "overlaps" in response.content.decode()
    assert ClearingWindow.objects.filter(bank=bank).count() == 1
