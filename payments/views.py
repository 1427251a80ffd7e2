"""Payment pages: the filtered list, a payment with its timeline, and cancelling a payment waiting for liquidity."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from deltran.errors import DomainError
from deltran.roles import capability_required, user_can
from payments.filters import PaymentFilter
from payments.forms import PaymentCancelForm
from payments.models import Payment
from payments.selectors import payment_detail, payment_list, payment_timeline
from payments.services import payment_cancel
from settlement.selectors import participant_directory

PAGE_SIZE = 50


def home(request):
    return redirect("payments:dashboard")


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


def _payment_page(request, payment_id, *, cancel_form=None, status: int = 200):
    try:
        payment = payment_detail(payment_id)
    except Payment.DoesNotExist as exc:
        raise Http404("No such payment.") from exc
    return render(
        request,
        "payments/payment_detail.html",
        {
            "payment": payment,
            "timeline": payment_timeline(payment),
            "banks": participant_directory().banks,
            "can_cancel": payment.awaiting_liquidity and user_can(request.user, "payments.initiate"),
            "cancel_form": cancel_form or PaymentCancelForm(),
        },
        status=status,
    )


@capability_required("payments.view")
def payment_detail_page(request, payment_id):
    return _payment_page(request, payment_id)


def _refusal(exc: DomainError) -> str:
    details = [
        issue.get("message", "") for issues in exc.fields.values() for issue in issues if isinstance(issue, dict)
    ]
    return " ".join([exc.message, *[d for d in details if d and d not in exc.message]])


@capability_required("payments.initiate")
@require_POST
def payment_cancel_page(request, payment_id):
    """An operator cancels a payment waiting for liquidity; a refusal comes back as a message, never an error page."""
    if not Payment.objects.filter(pk=payment_id).exists():
        raise Http404("No such payment.")
    form = PaymentCancelForm(request.POST)
    if not form.is_valid():
        return _payment_page(request, payment_id, cancel_form=form, status=400)
    try:
        payment = payment_cancel(actor=request.user, payment_id=payment_id, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, f"The payment was not cancelled: {_refusal(exc)}")
    else:
        messages.success(request, f"Payment {payment.payment_reference} is cancelled; it will not be settled.")
    return redirect("payments:detail", payment_id=payment_id)
