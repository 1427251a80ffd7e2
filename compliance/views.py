"""Compliance pages: the review queue (filters, assignment, bulk decisions) and a case with its matches.

Pages are thin: they parse the form, call one service and tell the officer what happened. A refusal (four eyes,
a case already decided, a missing reason) comes back as a readable message, never as a server error.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from compliance.choices import OPEN_STATUSES, CaseStatus, Decision, MatchLevel
from compliance.filters import ORDERINGS, CaseFilter
from compliance.forms import BulkDecisionForm, CaseDecisionForm, WhitelistForm
from compliance.models import ReviewCase, ScreeningMatch
from compliance.selectors import (
    case_detail,
    case_queue,
    match_list_entries,
    match_whitelist_entries,
    overdue_count,
    screening_list_choices,
)
from compliance.services import case_assign, case_decide, case_take_next, cases_decide_bulk, whitelist_add
from deltran.errors import DomainError
from deltran.roles import capability_required, user_can
from settlement.selectors import participant_directory

PAGE_SIZE = 50
ORDERING_LABELS = {
    "priority": "Priority",
    "sla": "SLA due first",
    "age": "Oldest first",
    "-age": "Newest first",
    "amount": "Largest amount",
}
DECIDED_VERBS = {Decision.APPROVE: "approved", Decision.REJECT: "rejected", Decision.ESCALATE: "escalated"}


def _without_blank_fields(query: QueryDict) -> QueryDict:
    kept = QueryDict(mutable=True)
    for key, values in query.lists():
        filled = [value for value in values if value.strip()]
        if filled:
            kept.setlist(key, filled)
    return kept


def _back(request, default: str):
    """Where a form asked to go back to (a compliance page on this site), or the default."""
    target = request.POST.get("next", "")
    if target.startswith(reverse("compliance:queue")) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return redirect(target)
    return redirect(default)


def _refusal(exc: DomainError) -> str:
    details = [
        issue.get("message", "") for issues in exc.fields.values() for issue in issues if isinstance(issue, dict)
    ]
    return " ".join([exc.message, *[d for d in details if d and d not in exc.message]])


@capability_required("compliance.view")
def case_queue_page(request):
    # As on the payments list: the form submits its empty fields too; keep only the filled ones in the address.
    filled = _without_blank_fields(request.GET)
    if filled.urlencode() != request.GET.urlencode():
        return redirect(f"{request.path}?{filled.urlencode()}" if filled else request.path)
    data = request.GET.copy()
    # No status chosen means the cases that still need a decision.
    if "status" not in data:
        data.setlist("status", list(OPEN_STATUSES))
    filterset = CaseFilter(data, queryset=case_queue(), request=request)
    valid = filterset.is_valid()
    queryset = filterset.qs if valid else ReviewCase.objects.none()
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = list(page.object_list)
    for case in rows:
        case.is_open = case.status in OPEN_STATUSES
        case.is_overdue = case.is_open and case.sla_due_at < now
        case.age = (case.decided_at or now) - case.opened_at
        case.sla_left = case.sla_due_at - now
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "compliance/queue.html",
        {
            "filter": filterset,
            "filter_valid": valid,
            "chosen": {
                "status": data.getlist("status"),
                "risk_level": request.GET.get("risk_level", ""),
                "list": request.GET.get("list", ""),
                "bank": request.GET.get("bank", ""),
                "assigned": request.GET.get("assigned", ""),
                "ordering": request.GET.get("ordering", "priority"),
                "overdue": request.GET.get("overdue", ""),
            },
            "status_choices": CaseStatus.choices,
            "level_choices": [(v, label) for v, label in MatchLevel.choices if v != MatchLevel.NONE],
            "list_choices": screening_list_choices(),
            "bank_choices": sorted(participant_directory().banks.values(), key=lambda bank: bank.bic),
            "ordering_choices": [(key, ORDERING_LABELS.get(key, key)) for key in ORDERINGS],
            "page": page,
            "rows": rows,
            "overdue_total": overdue_count(),
            "query": query.urlencode(),
            "here": request.get_full_path(),
            "can_decide": user_can(request.user, "compliance.decide"),
            "bulk_form": BulkDecisionForm(),
        },
    )


def _case_page(request, case_id: int, *, decision_form=None, whitelist_forms=None, status: int = 200):
    try:
        case = case_detail(case_id)
    except ReviewCase.DoesNotExist as exc:
        raise Http404("No such case.") from exc
    matches = list(case.screening.matches.all())
    listed = match_list_entries(matches)
    whitelisted = match_whitelist_entries(matches)
    whitelist_forms = whitelist_forms or {}
    for match in matches:
        match.listed = listed.get(match.pk)
        match.whitelist_entry = whitelisted.get(match.pk)
        match.whitelist_form = whitelist_forms.get(match.pk) or WhitelistForm(prefix=f"m{match.pk}")
    # Errors are summed up at the top too, each linking to its field: the form itself may be far below.
    page_errors = []
    if decision_form is not None:
        for field in ("decision", "reason"):
            anchor = "decision-reason" if field == "reason" else "decide"
            page_errors += [(anchor, error) for error in decision_form.errors.get(field, [])]
        page_errors += [("decide", error) for error in decision_form.non_field_errors()]
    for match_id, form in whitelist_forms.items():
        page_errors += [(f"wl-reason-{match_id}", error) for error in form.errors.get("reason", [])]
    is_open = case.status in OPEN_STATUSES
    now = timezone.now()
    can_decide = user_can(request.user, "compliance.decide")
    return render(
        request,
        "compliance/case.html",
        {
            "case": case,
            "payment": case.payment,
            "check": case.screening,
            "points_total": sum(int(reason.get("points", 0)) for reason in case.screening.reasons or []),
            "matches": matches,
            "timeline": case.payment.timeline.all(),
            "decisions": case.decisions.all(),
            "banks": participant_directory().banks,
            "is_open": is_open,
            "is_overdue": is_open and case.sla_due_at < now,
            "sla_left": case.sla_due_at - now,
            "can_decide": can_decide,
            "four_eyes_blocked": case.status == CaseStatus.ESCALATED and case.escalated_by_id == request.user.pk,
            "decision_form": decision_form or CaseDecisionForm(case_status=case.status),
            "page_errors": page_errors,
        },
        status=status,
    )


@capability_required("compliance.view")
def case_page(request, case_id: int):
    return _case_page(request, case_id)


@capability_required("compliance.decide")
@require_POST
def case_decide_page(request, case_id: int):
    case = ReviewCase.objects.filter(pk=case_id).only("pk", "status").first()
    if case is None:
        raise Http404("No such case.")
    if case.status not in OPEN_STATUSES:
        status = case.get_status_display().lower()
        messages.error(request, f"Case {case.pk} is already {status}; it cannot be decided again.")
        return redirect("compliance:case", case_id=case.pk)
    form = CaseDecisionForm(request.POST, case_status=case.status)
    if not form.is_valid():
        return _case_page(request, case_id, decision_form=form, status=400)
    decision = form.cleaned_data["decision"]
    try:
        case = case_decide(case_id=case.pk, officer=request.user, decision=decision, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, _refusal(exc))
        return redirect("compliance:case", case_id=case_id)
    payment = case.payment
    payment.refresh_from_db(fields=["status"])
    if decision == Decision.ESCALATE:
        text = f"Case {case.pk} escalated: another compliance officer must now approve or reject it."
    else:
        text = (
            f"Case {case.pk} {DECIDED_VERBS[decision]}. "
            f"Payment {payment.payment_reference} is now {payment.get_status_display().lower()}."
        )
    messages.success(request, text)
    return redirect("compliance:queue")


@capability_required("compliance.decide")
@require_POST
def case_assign_page(request, case_id: int):
    if not ReviewCase.objects.filter(pk=case_id).exists():
        raise Http404("No such case.")
    try:
        case_assign(case_id=case_id, officer=request.user)
    except DomainError as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, f"Case {case_id} is assigned to you.")
    return _back(request, reverse("compliance:queue"))


@capability_required("compliance.decide")
@require_POST
def case_take_next_page(request):
    try:
        case = case_take_next(officer=request.user)
    except DomainError as exc:
        messages.error(request, _refusal(exc))
        return redirect("compliance:queue")
    if case is None:
        messages.info(request, "No unassigned case is waiting for you.")
        return redirect("compliance:queue")
    messages.success(request, f"Case {case.pk} is assigned to you: the most urgent one waiting.")
    return redirect("compliance:case", case_id=case.pk)


@capability_required("compliance.decide")
@require_POST
def cases_bulk_decide_page(request):
    form = BulkDecisionForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label and field == "case_ids" else error)
        return _back(request, reverse("compliance:queue"))
    decision = form.cleaned_data["decision"]
    try:
        outcome = cases_decide_bulk(
            case_ids=form.cleaned_data["case_ids"],
            officer=request.user,
            decision=decision,
            reason=form.cleaned_data["reason"],
        )
    except DomainError as exc:
        messages.error(request, _refusal(exc))
        return _back(request, reverse("compliance:queue"))
    if outcome.decided:
        numbers = ", ".join(str(case_id) for case_id in outcome.decided)
        count = len(outcome.decided)
        messages.success(request, f"{count} case{'s' if count != 1 else ''} {DECIDED_VERBS[decision]}: {numbers}.")
    for case_id, reason in sorted(outcome.refused.items()):
        messages.error(request, f"Case {case_id} was not decided: {reason}")
    return _back(request, reverse("compliance:queue"))


@capability_required("compliance.decide")
@require_POST
def match_whitelist_page(request, match_id: int):
    match = ScreeningMatch.objects.select_related("screening__case").filter(pk=match_id).first()
    case = getattr(match.screening, "case", None) if match is not None else None
    if case is None:
        raise Http404("No such match on a case.")
    form = WhitelistForm(request.POST, prefix=f"m{match.pk}")
    if not form.is_valid():
        return _case_page(request, case.pk, whitelist_forms={match.pk: form}, status=400)
    try:
        entry = whitelist_add(match_id=match.pk, officer=request.user, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, _refusal(exc))
    else:
        still_open = " This case still needs its decision." if case.status in OPEN_STATUSES else ""
        messages.success(
            request,
            f"“{entry.party_name}” is whitelisted against {entry.list_code} entry {entry.entry_source_id}: "
            f"later payments with this pair no longer raise a case.{still_open}",
        )
    return redirect("compliance:case", case_id=case.pk)
