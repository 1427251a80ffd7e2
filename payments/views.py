"""Payment pages: the filtered list and a payment with its timeline."""

from django.core.paginator import Paginator
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render

from deltran.roles import capability_required
from payments.filters import PaymentFilter
from payments.models import Payment
from payments.selectors import payment_detail, payment_list, payment_timeline
from settlement.selectors import participant_directory

PAGE_SIZE = 50


def home(request):
    return redirect("payments:list")


def _without_blank_fields(query: QueryDict) -> QueryDict:
    kept = QueryDict(mutable=True)
    for key, values in query.lists():
        filled = [value for value in values if value.strip()]
        if filled:
            kept.setlist(key, filled)
    return kept


@capability_required("payments.view")
def payment_list_page(request):
    # The filter form submits every field, the empty ones too, and an empty status is
    # not a status (the FilterSet, shared with the API, refuses it). Send the browser
    # to the address with only the filled-in filters, so that address, the pager and
    # the Export CSV link all carry the same, valid query.
    filled = _without_blank_fields(request.GET)
    if filled.urlencode() != request.GET.urlencode():
        return redirect(f"{request.path}?{filled.urlencode()}" if filled else request.path)
    filterset = PaymentFilter(request.GET, queryset=payment_list(), request=request)
    valid = filterset.is_valid()
    queryset = filterset.qs if valid else Payment.objects.none()
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "payments/payment_list.html",
        {
            "filter": filterset,
            "filter_valid": valid,
            "page": page,
            "banks": participant_directory().banks,
            "query": query.urlencode(),
        },
    )


@capability_required("payments.view")
def payment_detail_page(request, payment_id):
    try:
        payment = payment_detail(payment_id)
    except Payment.DoesNotExist as exc:
        raise Http404("No such payment.") from exc
    return render(
        request,
        "payments/payment_detail.html",
        {"payment": payment, "timeline": payment_timeline(payment), "banks": participant_directory().banks},
    )
